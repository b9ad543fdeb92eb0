"""S3-FIFO (Yang et al., SOSP '23) as libCacheSim implements it (pure): a small FIFO for new
objects, a main FIFO with a 2-bit clock, and a ghost FIFO of recently evicted keys."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable

Key = Hashable


class S3FIFO:
    """S3-FIFO (Yang et al., SOSP '23) as libCacheSim implements it: a small FIFO (10% of
    the bytes) for new objects, a main FIFO with a 2-bit clock, and a ghost FIFO of recently
    evicted keys (90% of the bytes' worth) whose return goes straight to main."""

    name = "s3fifo"

    def __init__(
        self,
        capacity_bytes: int,
        *,
        small_ratio: float = 0.10,
        ghost_ratio: float = 0.90,
        move_to_main_threshold: int = 2,
    ) -> None:
        self.capacity_bytes = capacity_bytes
        self.small_capacity = int(capacity_bytes * small_ratio)
        self.main_capacity = capacity_bytes - self.small_capacity
        self.ghost_capacity = int(capacity_bytes * ghost_ratio)
        self.threshold = move_to_main_threshold
        self._small: OrderedDict[Key, int] = OrderedDict()
        self._main: OrderedDict[Key, int] = OrderedDict()
        self._ghost: OrderedDict[Key, int] = OrderedDict()
        self._freq: dict[Key, int] = {}
        self._small_used = 0
        self._main_used = 0
        self._ghost_used = 0
        self._has_evicted = False

    @property
    def used_bytes(self) -> int:
        return self._small_used + self._main_used

    def __contains__(self, key: object) -> bool:
        return key in self._small or key in self._main

    def __len__(self) -> int:
        return len(self._small) + len(self._main)

    def touch(self, key: Key) -> bool:
        if key in self._small or key in self._main:
            self._freq[key] += 1
            return True
        return False

    def _ghost_remove(self, key: Key) -> bool:
        size = self._ghost.get(key)
        if size is None:
            return False
        del self._ghost[key]
        self._ghost_used -= size
        return True

    def _ghost_add(self, key: Key, size: int) -> None:
        if key in self._ghost or size > self.ghost_capacity:
            return
        while self._ghost_used + size > self.ghost_capacity:
            _, old = self._ghost.popitem(last=False)
            self._ghost_used -= old
        self._ghost[key] = size
        self._ghost_used += size

    def _promotes(self, key: Key) -> bool:
        """Does `key`, leaving the small queue, go to main (rather than to the ghosts)?"""
        return self._freq[key] >= self.threshold

    def _spares(self, key: Key, spared: int) -> bool:
        """Does main's CLOCK pass over `key`, unused since its last round, this time?"""
        return False

    def _evict_small(self, evicted: list[Key]) -> None:
        while self._small:
            key, size = self._small.popitem(last=False)
            self._small_used -= size
            if self._promotes(key):
                self._main[key] = size  # freq carries over, as in libCacheSim
                self._main_used += size
            else:
                del self._freq[key]
                self._ghost_add(key, size)
                evicted.append(key)
                return

    def _evict_main(self, evicted: list[Key]) -> None:
        spared = 0
        while self._main:
            key, size = self._main.popitem(last=False)
            freq = self._freq[key]
            if freq >= 1:
                self._main[key] = size  # reinserted at the head, clock decremented
                self._freq[key] = min(freq, 3) - 1
            elif self._spares(key, spared):
                spared += 1
                self._main[key] = size
            else:
                self._main_used -= size
                del self._freq[key]
                evicted.append(key)
                return

    def insert(self, key: Key, size: int) -> list[Key]:
        if key in self:
            return []
        from_ghost = self._ghost_remove(key)
        if size > self.small_capacity or size > self.capacity_bytes:
            return []
        evicted: list[Key] = []
        while self.used_bytes + size > self.capacity_bytes:
            self._has_evicted = True
            if self._main_used > self.main_capacity or self._small_used == 0:
                self._evict_main(evicted)
            else:
                self._evict_small(evicted)
        if from_ghost:
            self._main[key] = size
            self._main_used += size
        elif size >= self.small_capacity:
            return evicted
        elif not self._has_evicted and self._small_used >= self.small_capacity:
            self._main[key] = size
            self._main_used += size
        else:
            self._small[key] = size
            self._small_used += size
        self._freq[key] = 0
        return evicted

    def contents(self) -> list[tuple[Key, int]]:
        """Cached keys and sizes, the first to go first: the small queue, then main."""
        return [*self._small.items(), *self._main.items()]

    def remove(self, key: Key) -> bool:
        for queue, attr in ((self._small, "_small_used"), (self._main, "_main_used")):
            size = queue.pop(key, None)
            if size is not None:
                setattr(self, attr, getattr(self, attr) - size)
                del self._freq[key]
                return True
        return self._ghost_remove(key)
