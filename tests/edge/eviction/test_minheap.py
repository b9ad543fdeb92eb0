"""The heap under the eviction order's ranks and the held entries: it pops in (key, tie) order
whatever came in, and its last entry is never before one above it."""

from __future__ import annotations

import random

from edge.eviction.minheap import HeapEntry, MinHeap


def test_pops_come_in_key_then_tie_order_and_the_last_entry_is_a_late_one() -> None:
    rng = random.Random(7)
    heap = MinHeap()
    held: list[tuple[int, int]] = []  # what the heap should hold
    popped = 0
    for step in range(20_000):
        action = rng.random()
        if action < 0.55 or not held:
            entry = HeapEntry(rng.randrange(50), step)  # many equal keys: ties decide
            heap.push(entry)
            held.append((entry.key, entry.tie))
        elif action < 0.9:
            first = heap.pop()
            assert (first.key, first.tie) == min(held)
            held.remove((first.key, first.tie))
            popped += 1
        else:
            last = heap.last()
            assert last is not None
            at = len(heap.entries) - 1
            while at:  # every entry above the last goes before it
                at = (at - 1) // 2
                above = heap.entries[at]
                assert (above.key, above.tie) < (last.key, last.tie)
            heap.pop_last()
            held.remove((last.key, last.tie))
    assert popped > 5_000
    assert sorted((e.key, e.tie) for e in heap.entries) == sorted(held)
    while held:
        first = heap.pop()
        assert (first.key, first.tie) == min(held)
        held.remove((first.key, first.tie))
    assert heap.last() is None
