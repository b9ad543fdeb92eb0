"""Byte-bounded cache eviction policies (pure): LRU, FIFO, SIEVE, S3-FIFO, and by name every
policy of edge/eviction/ (`make_policy`).

One copy shared by the live edge and the simulator. Semantics follow libCacheSim's
(`cache_get_base`): a request that misses evicts until the object fits, then inserts it;
an object larger than the cache (or, for S3-FIFO, than its small queue) is never stored.

Protocol: `touch(key)` on every request (True = hit, and the policy updates its metadata);
on a miss, `insert(key, size)` once the object is available, which returns the keys evicted
to make room (the caller drops their bodies).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from typing import Protocol

from edge.eviction.adaptive import AdaptiveCache
from edge.eviction.arc import ARC, GuidedARC
from edge.eviction.guide import MAX_SPARED, ViewerGuide
from edge.eviction.interval import IntervalCache, locate_url
from edge.eviction.popularity import PopularityCache
from edge.eviction.queues import FIFO, LRU
from edge.eviction.s3fifo import S3FIFO

Key = Hashable


class EvictionPolicy(Protocol):
    name: str
    capacity_bytes: int

    @property
    def used_bytes(self) -> int: ...

    def __contains__(self, key: object) -> bool: ...

    def __len__(self) -> int: ...

    def touch(self, key: Key) -> bool: ...

    def insert(self, key: Key, size: int) -> list[Key]: ...

    def remove(self, key: Key) -> bool: ...


class _Node:
    __slots__ = ("key", "newer", "older", "size", "visited")

    def __init__(self, key: Key, size: int) -> None:
        self.key = key
        self.size = size
        self.visited = False
        self.newer: _Node | None = None  # towards the head
        self.older: _Node | None = None  # towards the tail


class SIEVE:
    """SIEVE (Zhang et al., NSDI '24): a FIFO queue and a hand that moves from the tail
    towards the head, clearing visited bits, and evicts the first unvisited object."""

    name = "sieve"

    def __init__(self, capacity_bytes: int) -> None:
        self.capacity_bytes = capacity_bytes
        self._nodes: dict[Key, _Node] = {}
        self._head: _Node | None = None
        self._tail: _Node | None = None
        self._hand: _Node | None = None
        self._used = 0

    @property
    def used_bytes(self) -> int:
        return self._used

    def __contains__(self, key: object) -> bool:
        return key in self._nodes

    def __len__(self) -> int:
        return len(self._nodes)

    def touch(self, key: Key) -> bool:
        node = self._nodes.get(key)
        if node is None:
            return False
        node.visited = True
        return True

    def _unlink(self, node: _Node) -> None:
        if node.newer is not None:
            node.newer.older = node.older
        else:
            self._head = node.older
        if node.older is not None:
            node.older.newer = node.newer
        else:
            self._tail = node.newer
        del self._nodes[node.key]
        self._used -= node.size

    def _evict_one(self) -> Key:
        node = self._hand or self._tail
        assert node is not None
        while node.visited:
            node.visited = False
            node = node.newer or self._tail
            assert node is not None
        self._hand = node.newer
        self._unlink(node)
        return node.key

    def insert(self, key: Key, size: int) -> list[Key]:
        if key in self._nodes or size > self.capacity_bytes:
            return []
        evicted = []
        while self._used + size > self.capacity_bytes:
            evicted.append(self._evict_one())
        node = _Node(key, size)
        node.older = self._head
        if self._head is not None:
            self._head.newer = node
        self._head = node
        if self._tail is None:
            self._tail = node
        self._nodes[key] = node
        self._used += size
        return evicted

    def remove(self, key: Key) -> bool:
        node = self._nodes.get(key)
        if node is None:
            return False
        if node is self._hand:
            self._hand = node.newer
        self._unlink(node)
        return True


class GuidedS3FIFO(S3FIFO):
    """S3-FIFO guided by the viewers of each rendition: its small queue also promotes, and its
    main CLOCK spares (a few per eviction), an object a viewer behind it should ask for within
    `horizon_s` (edge/eviction/guide.py)."""

    name = "guided"

    def __init__(
        self,
        capacity_bytes: int,
        *,
        clock: Callable[[], float],
        locate: Callable[[Key], tuple[Hashable, int] | None],
        horizon_s: float = 300.0,
    ) -> None:
        super().__init__(capacity_bytes, move_to_main_threshold=1)
        self.guide = ViewerGuide(clock, locate, horizon_s)

    def touch(self, key: Key) -> bool:
        self.guide.saw(key)  # every request moves a viewer along
        return super().touch(key)

    def _promotes(self, key: Key) -> bool:
        return super()._promotes(key) or self.guide.wanted_soon(key)

    def _spares(self, key: Key, spared: int) -> bool:
        # a few per eviction, so an eviction costs a bounded time
        return spared < MAX_SPARED and self.guide.wanted_soon(key)


POLICIES = (
    "adaptive",
    "popular",
    "guided",
    "guided-arc",
    "arc",
    "interval",
    "s3fifo",
    "sieve",
    "lru",
    "fifo",
)
# Popularity caching, which S3-FIFO or LRU replaces where a sample says it does better: on
# every video trace family of bench/cache_families.py (synthetic HLS and the simulator's logs
# under several ABR rules, skews and ladders) what popularity caching does, better than every
# other policy we run but `interval` on the synthetic trace, never worse than S3-FIFO at 10%,
# at least half of the LRU→Belady gap closed on each; where popularity moves, no worse than
# S3-FIFO at 10% in place of several times LRU's byte misses (BENCHMARKS.md).
DEFAULT_POLICY = "adaptive"


def make_policy(
    name: str,
    capacity_bytes: int,
    *,
    clock: Callable[[], float] | None = None,
    locate: Callable[[Key], tuple[Hashable, int] | None] | None = None,
) -> EvictionPolicy:
    """A policy by name; `clock` and `locate` matter only to those that follow viewers."""
    simple: dict[str, Callable[[int], EvictionPolicy]] = {
        "lru": LRU,
        "fifo": FIFO,
        "sieve": SIEVE,
        "s3fifo": S3FIFO,
        "arc": ARC,
    }
    if name in simple:
        return simple[name](capacity_bytes)
    if name == "interval":
        return IntervalCache(
            capacity_bytes, clock=clock or time.monotonic, locate=locate or locate_url
        )
    if name == "adaptive":
        return AdaptiveCache(
            capacity_bytes, clock=clock or time.monotonic, locate=locate or locate_url
        )
    if name == "popular":
        return PopularityCache(
            capacity_bytes, clock=clock or time.monotonic, locate=locate or locate_url
        )
    if name in ("guided", "guided-arc"):
        guided = GuidedS3FIFO if name == "guided" else GuidedARC
        return guided(capacity_bytes, clock=clock or time.monotonic, locate=locate or locate_url)
    known = ", ".join(POLICIES)
    raise ValueError(f"unknown eviction policy {name!r} (one of {known})")
