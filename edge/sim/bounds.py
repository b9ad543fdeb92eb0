"""How far knowing popularity could take a cache, for judging a policy against its trace (offline).

Belady knows when every object comes back; no online policy can. Two weaker oracles tell how
much of the gap to Belady is open to a policy that predicts popularity, the way `popular` does:

- `CountOracle` knows how many requests each object gets in the whole trace (not when): it
  keeps the objects with the most, evicting the fewest (the first stored among equals: on
  these logs recency says less than age; the most recently used first does worse) and not
  storing an object with fewer than what it would displace. No popularity predictor,
  however good, knows more about an object than that.
- `informed_popular` is `popular` with its model of videos, renditions and depths learnt from
  the whole trace before the replay starts: its model with nothing left to estimate.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Hashable, Sequence

from edge.eviction.popularity import Locate, PopularityCache
from edge.sim.trace import ReplayResult, TraceClock, TraceRequest, replay

Key = Hashable


class CountOracle:
    """A cache that knows each object's number of requests in the trace ahead of time. (Its
    byte bookkeeping is the single-queue policies' in edge/eviction/policy.py, which is
    compiled: a class run as plain Python cannot extend it.)"""

    name = "count-oracle"

    def __init__(self, capacity_bytes: int, counts: Counter[Key]) -> None:
        self.capacity_bytes = capacity_bytes
        self._counts = counts
        self._sizes: dict[Key, int] = {}
        self._heap: list[tuple[int, int, Key]] = []  # (count, sequence number, key)
        self._entry: dict[Key, int] = {}  # key → the sequence number of its live heap entry
        self._seq = 0
        self._used = 0

    @property
    def used_bytes(self) -> int:
        return self._used

    def __contains__(self, key: object) -> bool:
        return key in self._sizes

    def __len__(self) -> int:
        return len(self._sizes)

    def touch(self, key: Key) -> bool:
        return key in self._sizes

    def _victim(self) -> tuple[int, Key]:
        heap = self._heap
        while self._entry.get(heap[0][2]) != heap[0][1]:  # removed (and maybe stored again)
            heapq.heappop(heap)
        return heap[0][0], heap[0][2]

    def insert(self, key: Key, size: int) -> list[Key]:
        if key in self._sizes or size > self.capacity_bytes:
            return []
        count = self._counts[key]
        evicted: list[Key] = []
        while self._used + size > self.capacity_bytes:
            victim_count, victim = self._victim()
            if victim_count > count:
                return evicted  # worth less than what it would displace: not stored
            self.remove(victim)
            evicted.append(victim)
        self._sizes[key] = size
        self._used += size
        self._seq += 1
        self._entry[key] = self._seq
        heapq.heappush(self._heap, (count, self._seq, key))
        return evicted

    def remove(self, key: Key) -> bool:
        size = self._sizes.pop(key, None)
        if size is None:
            return False
        del self._entry[key]
        self._used -= size
        return True


def count_oracle(requests: Sequence[TraceRequest], capacity_bytes: int) -> ReplayResult:
    """The count oracle's replay of `requests`."""
    oracle = CountOracle(capacity_bytes, Counter(r.obj_id for r in requests))
    return replay(oracle, requests)


def informed_popular(
    requests: Sequence[TraceRequest], capacity_bytes: int, locate: Locate
) -> ReplayResult:
    """`popular`'s replay of `requests` with its model learnt from all of them first."""
    clock = TraceClock()
    policy = PopularityCache(capacity_bytes, clock=clock, locate=locate)
    policy.learn(r.obj_id for r in requests)
    return replay(policy, requests, clock)
