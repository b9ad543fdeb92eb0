"""Simulator scale benchmark: segment requests simulated per second on one core.

Runs the shipped `steady` scenario (a day on the world topology: diurnal arrivals, real access
traces, MPC players, tiered interval caches) and times it; as the in-run anchor, libcachesim's
LRU replays the same requests (every edge's log, exported in oracleGeneral format) through one
cache: a bare cache replay with no clients, routing, tiers or players.

Target: >= 1,000,000 segment requests simulated in <= 60 s on one core.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import libcachesim as lcs

from bench.common import machine
from edge.sim.runner import simulate
from edge.sim.scenario import load_scenario
from edge.sim.trace import TraceRequest, write_oracle_general


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scenario", default="steady")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"machine: {machine()}")
    scenario = load_scenario(args.scenario)
    rates, requests = [], 0
    anchor_rates = []
    for run in range(args.repeat):
        outcome = simulate(scenario, log_requests=True)
        requests = sum(n.counters.requests for n in outcome.nodes.values() if n.tier == "edge")
        rates.append(requests / outcome.wall_s)
        everything = sorted(
            (TraceRequest(*r) for n in outcome.nodes.values() for r in n.log or ()),
            key=lambda r: r.timestamp,
        )
        with tempfile.TemporaryDirectory() as tmp:
            merged = Path(tmp) / "all.bin"
            write_oracle_general(merged, everything)
            reader = lcs.TraceReader(str(merged), lcs.TraceType.ORACLE_GENERAL_TRACE)
            started = time.perf_counter()
            lcs.LRU(int(scenario.edge_cache_mb * 1e6)).process_trace(reader)
            anchor_rates.append(len(everything) / (time.perf_counter() - started))
        print(
            f"  run {run + 1}: {requests:,} segment requests in {outcome.wall_s:.1f} s = "
            f"{rates[-1]:,.0f}/s (libcachesim LRU bare replay {anchor_rates[-1]:,.0f}/s)"
        )
    rate = statistics.median(rates)
    per_million = 1e6 / rate
    print(
        f"\nmedian: {rate:,.0f} segment requests/s; 1,000,000 requests take {per_million:.1f} s "
        f"(goal <= 60 s): {'met' if requests >= 1e6 and per_million <= 60 else 'NOT met'}; "
        f"{rate / statistics.median(anchor_rates):.3f}x libcachesim's bare LRU replay"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
