"""Cache-policy benchmark on an HLS-shaped trace (Zipf video popularity, sessions that watch
from the start for a random length, four renditions with their real size ratios), at 1% and
10% of the unique-byte footprint. Our policies replay the trace in Python; libcachesim (C)
replays the same oracleGeneral file for LRU (the anchor) and Belady (the offline optimum).

Target: our default policy's byte miss ratio ≤ 0.87× libcachesim LRU's; the share of
the LRU→Belady gap it closes ≥ 50% at 10%; replay speed ≥ 0.1× libcachesim LRU's.
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

import edge.eviction.interval
from bench.common import machine
from edge.eviction.policy import DEFAULT_POLICY, POLICIES, make_policy
from edge.sim.trace import TraceClock, replay, write_oracle_general
from edge.sim.workload import HlsWorkload, generate, locate_object


def libcachesim_run(cls: type, capacity: int, path: Path) -> tuple[float, float, float]:
    """(object miss ratio, byte miss ratio, seconds) for one libcachesim policy."""
    started = time.perf_counter()
    reader = lcs.TraceReader(str(path), lcs.TraceType.ORACLE_GENERAL_TRACE)
    miss, byte_miss = cls(capacity).process_trace(reader)
    return miss, byte_miss, time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sessions", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=5, help="timed runs of the default policy")
    args = parser.parse_args()
    workload = HlsWorkload(sessions=args.sessions, seed=args.seed)
    requests = list(generate(workload))
    footprint = sum({r.obj_id: r.size for r in requests}.values())
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "hls.oracleGeneral"
        write_oracle_general(path, requests)
        print(f"machine: {machine()}")
        print(
            f"trace: {len(requests)} requests, {len({r.obj_id for r in requests})} objects, "
            f"footprint {footprint / 1e9:.1f} GB; {workload}"
        )
        native = Path(edge.eviction.interval.__file__ or "").suffix == ".so"
        print(f"interval policy: {'compiled with mypyc' if native else 'plain Python'}")
        for fraction in (0.01, 0.10):
            capacity = int(footprint * fraction)
            lru_runs = [libcachesim_run(lcs.LRU, capacity, path) for _ in range(args.repeat)]
            lru_bmr = lru_runs[0][1]
            lru_s = statistics.median(run[2] for run in lru_runs)
            _, bel_bmr, _ = libcachesim_run(lcs.Belady, capacity, path)
            _, bels_bmr, _ = libcachesim_run(lcs.BeladySize, capacity, path)
            optimum = min(bel_bmr, bels_bmr)
            print(
                f"\ncache = {fraction:.0%} of the footprint: libcachesim LRU byte miss "
                f"{lru_bmr:.4f} ({len(requests) / lru_s / 1e6:.2f} M req/s), Belady "
                f"{optimum:.4f}"
            )
            for name in POLICIES:
                # Each repeat times libcachesim's LRU right before ours: the ratio of a pair
                # sees the same machine load; the median of the ratios is reported.
                speeds, result = [], None
                for _ in range(args.repeat if name == DEFAULT_POLICY else 1):
                    anchor_s = libcachesim_run(lcs.LRU, capacity, path)[2]
                    started = time.perf_counter()
                    clock = TraceClock()
                    policy = make_policy(name, capacity, clock=clock, locate=locate_object)
                    result = replay(policy, requests, clock)
                    speeds.append(anchor_s / (time.perf_counter() - started))
                assert result is not None
                speed = statistics.median(speeds)
                ratio = result.byte_miss_ratio / lru_bmr
                gap = (lru_bmr - result.byte_miss_ratio) / (lru_bmr - optimum)
                mark = " (default)" if name == DEFAULT_POLICY else ""
                runs = f" (median of {len(speeds)}: {min(speeds):.3f}-{max(speeds):.3f})"
                print(
                    f"  {name + mark:19s} byte miss {result.byte_miss_ratio:.4f}  "
                    f"vs LRU {ratio:.3f}x  gap closed {gap:6.1%}  miss {result.miss_ratio:.4f}  "
                    f"speed {speed:.3f}x libcachesim LRU{runs if len(speeds) > 1 else ''}"
                )
                if name == DEFAULT_POLICY:
                    goals = [
                        f"<= 0.87x LRU: {'met' if ratio <= 0.87 else 'NOT met'}",
                        f"speed >= 0.1x: {'met' if speed >= 0.1 else 'NOT met'}",
                    ]
                    if fraction == 0.10:
                        goals.append(f"gap >= 50%: {'met' if gap >= 0.5 else 'NOT met'}")
                    print("    goals: " + "; ".join(goals))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
