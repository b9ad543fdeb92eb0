"""ABR benchmark: our default rule (RobustMPC) against hls.js's throughput rule and BOLA on the
shared real bandwidth traces, with one ladder, and each against the offline optimum.

Every trace of every dataset (FCC, HSDPA, LTE, Oboe, Puffer: 425) plays the same 48-chunk video
(4 s chunks, Pensieve's ladder 300-4300 kbps) from the trace's start with each rule; the
optimum is a dynamic programme that knows the trace (edge/sim/abr_eval.py).

Target: mean QoE of ours >= 1.10x hls.js-style and >= 1.00x BOLA, with a rebuffer ratio
no worse than BOLA's.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import machine
from edge.player.abr_controller import RULES
from edge.player.session import PlaybackStats
from edge.sim.abr_eval import offline_optimum, play_trace
from edge.sim.bandwidth import DATASETS, TraceLink, load_dataset

LADDER_BPS = (300_000, 750_000, 1_200_000, 1_850_000, 2_850_000, 4_300_000)
SEGMENT_S = 4.0
CHUNKS = 48


def summarise(sessions: list[PlaybackStats]) -> tuple[float, float, float, float]:
    played = sum(s.played_s for s in sessions)
    stalled = sum(s.stall_s for s in sessions)
    return (
        statistics.fmean(s.qoe for s in sessions),
        stalled / (played + stalled),
        statistics.fmean(s.bitrate_bps for s in sessions) / 1e6,
        statistics.fmean(s.switches for s in sessions),
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--no-optimum", action="store_true", help="skip the DP (slow)")
    parser.add_argument("--per-dataset", type=int, default=0, help="traces per dataset (0: all)")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    links: list[TraceLink] = []
    for dataset in DATASETS:
        found = load_dataset(dataset)
        links.extend(found[: args.per_dataset] if args.per_dataset else found)
    print(
        f"{len(links)} traces, ladder {[b // 1000 for b in LADDER_BPS]} kbps, "
        f"{CHUNKS} x {SEGMENT_S:.0f} s chunks"
    )
    results: dict[str, list[PlaybackStats]] = {}
    for rule in RULES:
        started = time.perf_counter()
        results[rule] = [play_trace(link, LADDER_BPS, SEGMENT_S, CHUNKS, rule) for link in links]
        print(f"  {rule}: {time.perf_counter() - started:.1f} s")
    if not args.no_optimum:
        started = time.perf_counter()
        results["optimum"] = [
            offline_optimum(link, LADDER_BPS, SEGMENT_S, CHUNKS) for link in links
        ]
        print(f"  optimum (DP): {time.perf_counter() - started:.1f} s")
    optimum = summarise(results["optimum"])[0] if "optimum" in results else None
    print(f"\n{'rule':<12} {'QoE':>7} {'of opt.':>8} {'rebuffer':>9} {'Mbps':>6} {'switches':>9}")
    figures = {}
    for rule, sessions in results.items():
        qoe, rebuffer, mbps, switches = summarise(sessions)
        figures[rule] = (qoe, rebuffer)
        share = f"{qoe / optimum:7.1%}" if optimum else "      -"
        print(f"{rule:<12} {qoe:7.3f} {share:>8} {rebuffer:9.4f} {mbps:6.2f} {switches:9.2f}")
    ours, hlsjs, bola = figures["mpc"], figures["throughput"], figures["bola"]
    vs_hlsjs, vs_bola = ours[0] / hlsjs[0], ours[0] / bola[0]
    met = vs_hlsjs >= 1.10 and vs_bola >= 1.00 and ours[1] <= bola[1]
    print(
        f"\nours (mpc) {vs_hlsjs:.3f}x hls.js-style (goal >= 1.10), {vs_bola:.3f}x BOLA "
        f"(goal >= 1.00), rebuffer {ours[1]:.4f} vs BOLA {bola[1]:.4f}: "
        f"{'met' if met else 'NOT met'}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
