"""The popularity policy's eviction order against the heap of (rank, sequence number) it
stands for, on random pushes, re-pushes, takes and drops."""

from __future__ import annotations

import heapq
import random

from edge.eviction.rankqueue import COMPACT_MIN, Ranked, RankQueue


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
    queue, heap = RankQueue(), HeapOrder()
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
    buckets = list(queue._buckets.values())
    assert sum(len(b.items) - b.head for b in buckets) == queue.entries  # what a heap holds
    assert all(b.head < COMPACT_MIN or 2 * b.head < len(b.items) for b in buckets)
    ranks = [b.key for b in queue._in_use.entries]  # the ranks in use, as a heap
    assert sorted(ranks) == sorted(b.key for b in buckets if b.items)
    assert all(ranks[(i - 1) // 2] <= r for i, r in enumerate(ranks) if i)


def test_an_emptied_queue_gives_nothing_and_fills_again() -> None:
    queue = RankQueue()
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
