"""What segment prefetch (`mediacdn edge --prefetch K`) does to an edge's hit ratio and to the
traffic it sends upstream, on the HLS-shaped trace of bench/cache_policy.py, with the edge's
default policy. On each segment miss the next K segments of the same rendition are fetched too
(if the trace has them and they are not cached)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import machine
from edge.eviction.policy import DEFAULT_POLICY, make_policy
from edge.sim.trace import TraceClock, TraceRequest
from edge.sim.workload import HlsWorkload, generate, locate_object


def run(
    requests: list[TraceRequest], sizes: dict[int, int], capacity: int, k: int
) -> tuple[float, float, int]:
    """(object hit ratio, byte hit ratio, bytes fetched upstream)."""
    clock = TraceClock()
    policy = make_policy(DEFAULT_POLICY, capacity, clock=clock, locate=locate_object)
    hits = hit_bytes = total_bytes = upstream = 0
    for req in requests:
        clock.now = req.timestamp
        total_bytes += req.size
        if policy.touch(req.obj_id):
            hits += 1
            hit_bytes += req.size
            continue
        upstream += req.size
        policy.insert(req.obj_id, req.size)
        for step in range(1, k + 1):
            following = req.obj_id + step
            size = sizes.get(following)
            if size is None or following in policy:
                continue
            upstream += size
            policy.insert(following, size)
    return hits / len(requests), hit_bytes / total_bytes, upstream


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sessions", type=int, default=10_000)
    args = parser.parse_args()
    requests = list(generate(HlsWorkload(sessions=args.sessions)))
    sizes = {r.obj_id: r.size for r in requests}
    footprint = sum(sizes.values())
    print(f"machine: {machine()}; {len(requests)} requests; policy {DEFAULT_POLICY}")
    for fraction in (0.01, 0.10):
        capacity = int(footprint * fraction)
        base_upstream = None
        for k in (0, 1, 2, 4):
            hit, byte_hit, upstream = run(requests, sizes, capacity, k)
            base_upstream = base_upstream or upstream
            print(
                f"  cache {fraction:.0%}  prefetch {k}: hit ratio {hit:.4f}  byte hit ratio "
                f"{byte_hit:.4f}  upstream bytes {upstream / base_upstream:.3f}x of no prefetch"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
