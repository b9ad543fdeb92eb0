"""The single-queue policies (pure): FIFO, and LRU, the anchor every other policy is measured
against, and one of the policies the default runs where its sample says it does better."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable

Key = Hashable


class _QueuePolicy:
    """Shared bookkeeping for the single-queue policies."""

    name = "base"

    def __init__(self, capacity_bytes: int) -> None:
        self.capacity_bytes = capacity_bytes
        self._sizes: OrderedDict[Key, int] = OrderedDict()  # head = last, tail = first
        self._used = 0

    @property
    def used_bytes(self) -> int:
        return self._used

    def __contains__(self, key: object) -> bool:
        return key in self._sizes

    def __len__(self) -> int:
        return len(self._sizes)

    def _evict_one(self) -> Key:
        key, size = self._sizes.popitem(last=False)
        self._used -= size
        return key

    def insert(self, key: Key, size: int) -> list[Key]:
        if key in self._sizes or size > self.capacity_bytes:
            return []
        evicted = []
        while self._used + size > self.capacity_bytes:
            evicted.append(self._evict_one())
        self._sizes[key] = size
        self._used += size
        return evicted

    def contents(self) -> list[tuple[Key, int]]:
        """Cached keys and sizes, the first to go first."""
        return list(self._sizes.items())

    def remove(self, key: Key) -> bool:
        size = self._sizes.pop(key, None)
        if size is None:
            return False
        self._used -= size
        return True


class FIFO(_QueuePolicy):
    name = "fifo"

    def touch(self, key: Key) -> bool:
        return key in self._sizes


class LRU(_QueuePolicy):
    name = "lru"

    def touch(self, key: Key) -> bool:
        if key in self._sizes:
            self._sizes.move_to_end(key)
            return True
        return False
