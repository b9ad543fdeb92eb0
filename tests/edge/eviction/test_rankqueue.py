"""The popularity policy's eviction order against the heap of (rank, sequence number) it
stands for, on random pushes, re-pushes, takes and drops."""

from __future__ import annotations

import heapq
import random

import pytest

from edge.eviction.rankqueue import COMPACT_MIN, WORD, Ranked, RankQueue


class HeapOrder:
    """The same order the plain way: a heap of (rank, seq, name), live while seq is the item's."""

    def __init__(self) -> None:
        self.heap: list[tuple[int, int, int]] = []
        self.live: dict[int, int] = {}  # name → seq of its live entry
        self.seq = 0

    def push(self, name: int, rank: int) -> None:
        self.seq += 1
        self.live[name] = self.seq
        heapq.heappush(self.heap, (rank, self.seq, name))

    def first(self) -> int | None:
        while self.heap:
            _, seq, name = self.heap[0]
            if self.live.get(name) == seq:
                return name
            heapq.heappop(self.heap)
        return None

    def take(self, name: int) -> None:
        heapq.heappop(self.heap)
        del self.live[name]

    def drop(self, name: int) -> None:
        self.live.pop(name, None)


def test_the_order_is_a_heaps_of_rank_then_age() -> None:
    rng = random.Random(7)
    queue, heap = RankQueue(1000), HeapOrder()
    items = [Ranked() for _ in range(300)]  # (compiled: a test cannot subclass it)
    names = {id(item): n for n, item in enumerate(items)}
    taken = 0
    for _ in range(30_000):
        action = rng.random()
        name = rng.randrange(len(items))
        item = items[name]
        if action < 0.55:  # few ranks, so buckets fill, are passed and compacted
            rank = rng.randrange(6) if rng.random() < 0.9 else rng.randrange(1000)
            queue.push(item, rank)
            heap.push(name, rank)
        elif action < 0.65:
            queue.drop(item)
            heap.drop(name)
        else:
            first = queue.first()
            expected = heap.first()
            assert (None if first is None else names[id(first)]) == expected
            assert queue.entries == len(heap.heap)
            if first is not None and action < 0.9:
                queue.take(first)
                heap.take(names[id(first)])
                taken += 1
    assert taken > 5_000
    buckets = [b for b in queue._buckets if b is not None]
    assert sum(len(b.items) - b.head for b in buckets) == queue.entries  # what a heap holds
    assert all(b.head < COMPACT_MIN or 2 * b.head < len(b.items) for b in buckets)
    in_use = {b.rank for b in buckets if b.items}
    marked = {r for r in range(queue.ranks) if queue._levels[0][r // WORD] >> (r % WORD) & 1}
    assert marked == in_use  # the bitmap's lowest level is the ranks in use
    for level, words in enumerate(queue._levels[1:]):  # each level above: its words in use
        below = queue._levels[level]
        assert all(bool(words[i // WORD] >> (i % WORD) & 1) == bool(w) for i, w in enumerate(below))
    lowest = queue._lowest
    assert (lowest.rank if lowest is not None else None) == min(in_use, default=None)


def test_an_emptied_queue_gives_nothing_and_fills_again() -> None:
    queue = RankQueue(10)
    a, b = Ranked(), Ranked()
    queue.push(a, 5)
    queue.push(b, 3)
    queue.push(a, 1)  # a's first entry is now dead
    assert queue.first() is a
    queue.take(a)
    assert queue.first() is b
    queue.drop(b)
    assert queue.first() is None
    assert queue.entries == 0
    queue.push(b, 9)
    assert queue.first() is b


def test_ranks_are_bounded_by_the_queue() -> None:
    queue = RankQueue(3)
    item = Ranked()
    queue.push(item, 2)
    for bad in (3, -1):
        with pytest.raises(ValueError, match=r"outside 0 \.\. 2"):
            queue.push(item, bad)
    assert queue.first() is item


def test_the_lowest_rank_is_found_across_every_level() -> None:
    rng = random.Random(3)
    queue = RankQueue(5000)  # five levels of 8-bit words
    assert len(queue._levels) == 5
    assert len(queue._levels[-1]) == 1
    items = {r: Ranked() for r in rng.sample(range(5000), 200)}
    for r, item in items.items():
        queue.push(item, r)
    for r in sorted(items):  # each bucket emptied in turn finds the next one in the bitmap
        first = queue.first()
        assert first is items[r]
        queue.take(first)
    assert queue.first() is None
    assert queue.entries == 0
