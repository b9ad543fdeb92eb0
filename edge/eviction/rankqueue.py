"""A priority queue of items by integer rank, first in first out within a rank (pure).

What the popularity policy's eviction order needs: the lowest rank first and, among equal
ranks, the oldest entry, as a heap of (rank, sequence number) would give, with entries that
go stale when their item is pushed again or removed. A heap of Python ints pays for every
comparison and for a map from sequence numbers back to items; here each rank has a bucket, a
list its entries are appended to, kept while the queue lasts in a list by rank (ranks are
bounded: the queue is made for `ranks` of them). Which ranks are in use is a bitmap in levels,
each bit of a level saying whether a word of the one below has any bit set (words of `WORD`
bits: their values are ints Python keeps made, and compiled code finds a word's lowest bit in
a few machine instructions). Finding the next rank in use after the lowest bucket empties
climbs from its bit to the first word left with one and back down; a heap of buckets would
sift through its depth, as it also would for each rank that comes into use. An item knows
where its live entry is (its bucket and index there), so an entry is stale exactly when the
item no longer points at it, with nothing to look up. `rank` gives a score's rank: its log2 in
steps of 1/RANK_STEPS, so that scores within about 1% of each other share one.
"""

from __future__ import annotations

import math
from typing import Final

RANK_STEPS: Final = 64  # heap ranks of scores per doubling (scores within 1.1% share a rank)
RANK_ZERO: Final = 1 << 16  # the rank of a score of 1
RANKS: Final = 2 * RANK_ZERO + 1  # rank() gives 0 .. RANKS - 1
RANK_PER_E: Final = RANK_STEPS / math.log(2.0)  # ranks per e-fold (math.log compiles natively)
NUDGE: Final = 1e-9  # away from zero: log(2**k) * RANK_PER_E lands on k * RANK_STEPS, as log2
COMPACT_MIN: Final = 64  # a bucket drops the entries it has passed once this many (and half)
WORD_BITS: Final = 3
WORD: Final = 1 << WORD_BITS  # bits a word of the bitmap (values up to 255: no int is made)


class Ranked:
    """An item a RankQueue orders: where its live entry is (no bucket: none)."""

    __slots__ = ("bucket", "index")

    def __init__(self) -> None:
        self.bucket: _Bucket | None = None
        self.index = 0


class _Bucket:
    """The entries of one rank in the order they came; those before `head` are passed. The
    rank is in use while it has entries (a bucket all passed is emptied)."""

    def __init__(self, rank: int) -> None:
        self.rank = rank
        self.items: list[Ranked] = []
        self.head = 0


class RankQueue:
    def __init__(self, ranks: int = RANKS) -> None:
        """A queue of ranks 0 .. ranks - 1 (those `rank` gives, unless told)."""
        if ranks < 1:
            raise ValueError(f"a queue needs at least one rank, not {ranks}")
        self.ranks = ranks
        self._buckets: list[_Bucket | None] = [None] * ranks  # made when first used, kept
        # the ranks in use: bit r of level 0 for rank r; bit w of level k + 1 for a word w of
        # level k with a bit set; the last level is one word
        self._levels: list[list[int]] = []
        size = ranks
        while True:
            size = (size + WORD - 1) >> WORD_BITS
            self._levels.append([0] * size)
            if size == 1:
                break
        self._lowest: _Bucket | None = None  # the bucket of the lowest rank in use
        self.entries = 0  # live and stale entries not yet passed (a heap's length)

    def push(self, item: Ranked, rank: int) -> None:
        """A new live entry for `item` at `rank`, after every entry there; its older entry,
        if any, is stale."""
        if not 0 <= rank < self.ranks:
            raise ValueError(f"rank {rank} is outside 0 .. {self.ranks - 1}")
        bucket = self._buckets[rank]
        if bucket is None:
            bucket = self._buckets[rank] = _Bucket(rank)
        items = bucket.items
        if not items:  # the rank comes into use
            self._mark(rank)
            lowest = self._lowest
            if lowest is None or rank < lowest.rank:
                self._lowest = bucket
        item.bucket = bucket
        item.index = len(items)
        items.append(item)
        self.entries += 1

    def _mark(self, rank: int) -> None:
        """Rank `rank` is in use: its bit set, and each level's above it up to one already set."""
        at = rank
        for words in self._levels:
            index = at >> WORD_BITS
            word = words[index]
            words[index] = word | (1 << (at & (WORD - 1)))
            if word:
                return
            at = index

    def first(self) -> Ranked | None:
        """The item of the lowest live entry (passing stale ones), left in the queue."""
        bucket = self._lowest
        while bucket is not None:
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
            bucket = self._lowest
        return None

    def _done(self, bucket: _Bucket) -> None:
        """Every entry of the lowest rank's bucket is passed: it is emptied, out of use. Its
        bit is cleared, and each level's above it that leaves a word empty; the first word left
        with a bit leads down to the next rank in use (every rank below this one is out of use,
        so that word's lowest bit is the way)."""
        bucket.items = []
        bucket.head = 0
        levels = self._levels
        at = bucket.rank
        for level, words in enumerate(levels):
            index = at >> WORD_BITS
            word = words[index] & ~(1 << (at & (WORD - 1)))
            words[index] = word
            if word:
                at = (index << WORD_BITS) + (word & -word).bit_length() - 1
                while level > 0:
                    level -= 1
                    word = levels[level][at]
                    at = (at << WORD_BITS) + (word & -word).bit_length() - 1
                self._lowest = self._buckets[at]
                return
            at = index
        self._lowest = None

    def take(self, item: Ranked) -> None:
        """Take out the entry `first` gave, `item`'s."""
        bucket = item.bucket
        if bucket is None or bucket.head != item.index or bucket is not self._lowest:
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


def rank(score: float) -> int:
    """The heap rank of a score: its log2 in steps of 1/RANK_STEPS, from 0 (0 and below)."""
    if score <= 0.0:
        return 0
    scaled = math.log(score) * RANK_PER_E
    step = int(scaled + NUDGE if scaled > 0.0 else scaled - NUDGE) + RANK_ZERO
    return 1 if step < 1 else min(step, 2 * RANK_ZERO)
