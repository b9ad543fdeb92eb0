"""HLS-shaped request workloads (pure, seeded): Zipf video popularity, sessions that watch
from the start for a random length at one of several renditions with their real size ratios.
Used by the cache-policy benchmark and the simulator."""

from __future__ import annotations

import bisect
import heapq
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final

from edge.sim.trace import TraceRequest

RENDITION_BITS: Final = 4  # object id = video << 24 | rendition << 20 | segment
SEGMENT_BITS: Final = 20
VIDEO_SHIFT: Final = RENDITION_BITS + SEGMENT_BITS


def object_id(video: int, rendition: int, segment: int) -> int:
    return (video << VIDEO_SHIFT) | (rendition << SEGMENT_BITS) | segment


def group_of(obj_id: int) -> int:
    """The (video, rendition) an object belongs to: its 'directory'."""
    return obj_id >> SEGMENT_BITS


def locate_object(obj_id: object) -> tuple[tuple[int, int], int] | None:
    """((video, rendition), segment number) of a workload object, for the policies that
    follow viewers and videos."""
    if not isinstance(obj_id, int):
        return None
    group = group_of(obj_id)
    return (group >> RENDITION_BITS, group & ((1 << RENDITION_BITS) - 1)), obj_id & (
        (1 << SEGMENT_BITS) - 1
    )


@dataclass(frozen=True, slots=True)
class HlsWorkload:
    videos: int = 2000
    zipf_alpha: float = 0.9
    mean_duration_s: float = 1200.0
    segment_s: float = 4.0
    bitrates_bps: tuple[int, ...] = (5_000_000, 2_800_000, 1_400_000, 800_000)
    rendition_share: tuple[float, ...] = (0.35, 0.35, 0.2, 0.1)
    mean_watch_fraction: float = 0.35  # sessions leave early: exponential watch time
    sessions_per_s: float = 2.0
    sessions: int = 20_000
    seed: int = 1


def generate(workload: HlsWorkload) -> Iterator[TraceRequest]:
    """Requests in time order; each session fetches one segment every segment_s seconds."""
    rng = random.Random(workload.seed)
    weights = [1 / (rank + 1) ** workload.zipf_alpha for rank in range(workload.videos)]
    durations = [
        max(30.0, rng.expovariate(1 / workload.mean_duration_s)) for _ in range(workload.videos)
    ]
    # Per-segment size noise, fixed per object (the same segment has the same size each time).
    cumulative = list(_accumulate(weights))
    heap: list[tuple[float, int, int, int, int, int]] = []
    t = 0.0
    for session in range(workload.sessions):
        t += rng.expovariate(workload.sessions_per_s)
        video = _pick(rng, cumulative)
        segments = max(1, math.ceil(durations[video] / workload.segment_s))
        watch = min(
            segments,
            max(1, math.ceil(rng.expovariate(1 / (workload.mean_watch_fraction * segments)))),
        )
        rendition = _pick(rng, list(_accumulate(workload.rendition_share)))
        heapq.heappush(heap, (t, session, video, rendition, 0, watch))
    while heap:
        now, session, video, rendition, segment, watch = heapq.heappop(heap)
        obj = object_id(video, rendition, segment)
        base = workload.bitrates_bps[rendition] * workload.segment_s / 8
        size = int(base * (0.75 + 0.5 * stable_noise(obj)))
        yield TraceRequest(int(now), obj, size)
        if segment + 1 < watch:
            heapq.heappush(
                heap, (now + workload.segment_s, session, video, rendition, segment + 1, watch)
            )


def _accumulate(values: tuple[float, ...] | list[float]) -> Iterator[float]:
    total = 0.0
    for v in values:
        total += v
        yield total


def _pick(rng: random.Random, cumulative: list[float]) -> int:
    return min(len(cumulative) - 1, bisect.bisect_left(cumulative, rng.random() * cumulative[-1]))


def stable_noise(obj: int) -> float:
    """A stable pseudo-random number in [0, 1) for an object id."""
    x = (obj * 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF
    x ^= x >> 31
    return (x & 0xFFFFFF) / 0x1000000
