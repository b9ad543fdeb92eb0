"""A binary min-heap of entries ordered by two machine-word ints (pure).

Compiled with mypyc, comparing two ints held in native attributes costs a few instructions,
where `heapq` compares Python objects through a call each and a key past 62 bits is a big
integer; and an entry can carry what it stands for, so that nothing has to map a popped key
back to its item. A leaf (`last`) is at least as late as every entry above it: a caller may
take it as one of the latest in constant time.
"""

from __future__ import annotations


class HeapEntry:
    """An entry of a MinHeap: the lower `key` first, then the lower `tie`."""

    def __init__(self, key: int, tie: int = 0) -> None:
        self.key = key
        self.tie = tie


class MinHeap:
    def __init__(self) -> None:
        self.entries: list[HeapEntry] = []  # the first at 0; each before its two children

    def push(self, entry: HeapEntry) -> None:
        entries = self.entries
        entries.append(entry)
        self._up(entry, len(entries) - 1)

    def pop(self) -> HeapEntry:
        """The first entry, taken off (an IndexError when there is none)."""
        entries = self.entries
        last = entries.pop()
        size = len(entries)
        if not size:
            return last
        first = entries[0]
        key, tie = last.key, last.tie
        at = 0
        child = 1
        while child < size:  # the last entry down from the top, past each smaller child
            below = entries[child]
            if child + 1 < size:
                right = entries[child + 1]
                if right.key < below.key or (right.key == below.key and right.tie < below.tie):
                    child += 1
                    below = right
            if not (below.key < key or (below.key == key and below.tie < tie)):
                break  # (it goes before both children, or ties)
            entries[at] = below
            at = child
            child = 2 * at + 1
        entries[at] = last
        return first

    def _up(self, entry: HeapEntry, at: int) -> None:
        """Put `entry` at `at`, or above it while it goes before its parent."""
        entries = self.entries
        key, tie = entry.key, entry.tie
        while at > 0:
            parent = (at - 1) >> 1
            above = entries[parent]
            if not (key < above.key or (key == above.key and tie < above.tie)):
                break
            entries[at] = above
            at = parent
        entries[at] = entry

    def last(self) -> HeapEntry | None:
        """The last entry, a leaf: at least as late as every entry above it (None: empty)."""
        return self.entries[-1] if self.entries else None

    def pop_last(self) -> None:
        """Take the leaf `last` gave off (the rest stays a heap)."""
        self.entries.pop()
