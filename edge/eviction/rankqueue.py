"""A priority queue of items by integer rank, first in first out within a rank (pure).

What the popularity policy's eviction order needs: the lowest rank first and, among equal
ranks, the oldest entry, as a heap of (rank, sequence number) would give, with entries that
go stale when their item is pushed again or removed. A heap of Python ints pays for every
comparison and for a map from sequence numbers back to items; here each rank has a bucket, a
list its entries are appended to, kept while the queue lasts, and only the buckets in use are
kept in a heap by rank (edge/eviction/minheap.py, compiled: it compares machine words, and
moves buckets without making int objects). An item knows where its live entry is (its bucket
and index there), so an entry is stale exactly when the item no longer points at it, with
nothing to look up.
"""

from __future__ import annotations

from typing import Final, cast

from edge.eviction.minheap import HeapEntry, MinHeap

COMPACT_MIN: Final = 64  # a bucket drops the entries it has passed once this many (and half)


class Ranked:
    """An item a RankQueue orders: where its live entry is (no bucket: none)."""

    __slots__ = ("bucket", "index")

    def __init__(self) -> None:
        self.bucket: _Bucket | None = None
        self.index = 0


class _Bucket(HeapEntry):
    """The entries of one rank (its `key`) in the order they came; those before `head` are
    passed. The rank is in use while it has entries (a bucket all passed is emptied)."""

    def __init__(self, rank: int) -> None:
        super().__init__(rank)
        self.items: list[Ranked] = []
        self.head = 0


class RankQueue:
    def __init__(self) -> None:
        self._buckets: dict[int, _Bucket] = {}  # by rank, made when first used and kept
        self._in_use = MinHeap()  # by rank, the buckets with entries
        self.entries = 0  # live and stale entries not yet passed (a heap's length)

    def push(self, item: Ranked, rank: int) -> None:
        """A new live entry for `item` at `rank`, after every entry there; its older entry,
        if any, is stale."""
        bucket = self._buckets.get(rank)
        if bucket is None:
            bucket = self._buckets[rank] = _Bucket(rank)
        items = bucket.items
        if not items:  # the rank comes into use
            self._in_use.push(bucket)
        item.bucket = bucket
        item.index = len(items)
        items.append(item)
        self.entries += 1

    def first(self) -> Ranked | None:
        """The item of the lowest live entry (passing stale ones), left in the queue."""
        in_use = self._in_use.entries
        while in_use:
            bucket = cast(_Bucket, in_use[0])
            items, head = bucket.items, bucket.head
            while head < len(items):
                item = items[head]
                if item.bucket is bucket and item.index == head:
                    bucket.head = head
                    self._compact(bucket)
                    return item
                head += 1
                self.entries -= 1
            self._done(bucket)
        return None

    def _done(self, bucket: _Bucket) -> None:
        """Every entry of the lowest rank's bucket is passed: it is emptied, off the heap."""
        bucket.items = []
        bucket.head = 0
        self._in_use.pop()

    def take(self, item: Ranked) -> None:
        """Take out the entry `first` gave, `item`'s."""
        bucket = item.bucket
        if bucket is None or bucket.head != item.index or bucket is not self._in_use.entries[0]:
            raise ValueError("take() is for the entry first() gave")
        item.bucket = None
        self.entries -= 1
        bucket.head += 1
        if bucket.head == len(bucket.items):
            self._done(bucket)
        else:
            self._compact(bucket)

    def _compact(self, bucket: _Bucket) -> None:
        """Drop the entries a bucket has passed once they are many and most of it."""
        head = bucket.head
        if head >= COMPACT_MIN and 2 * head >= len(bucket.items):
            items = bucket.items[head:]
            for index, kept in enumerate(items):
                if kept.bucket is bucket and kept.index == index + head:
                    kept.index = index
            bucket.items = items
            bucket.head = 0

    def drop(self, item: Ranked) -> None:
        """`item`'s entry, wherever it is, goes stale (it is passed when it comes first)."""
        item.bucket = None
