"""ARC (Megiddo and Modha, FAST '03) over bytes, and ARC guided by the viewers behind each object.

ARC keeps two LRU lists of cached objects, T1 (seen once lately) and T2 (seen at least twice),
and two ghost lists of keys recently evicted from each, B1 and B2. A miss that finds its key
in B1 says T1 was too small and moves the target size of T1, `p`, up; one found in B2 moves it
down. Eviction takes the least recently used object of T1 while T1 holds more than `p` bytes,
else of T2. Sizes count in bytes; the bookkeeping follows libCacheSim's ARC, whose miss ratios
it matches (tests/edge/eviction/test_policy_vs_libcachesim.py).

`GuidedARC` also spares from eviction (at most `MAX_SPARED` per eviction) an object a viewer
behind it should ask for within `horizon_s` (edge/eviction/guide.py): it goes back to the
most recently used end of T2, as if asked for again.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable

from edge.eviction.guide import MAX_SPARED, ViewerGuide

Key = Hashable


class ARC:
    name = "arc"

    def __init__(self, capacity_bytes: int) -> None:
        self.capacity_bytes = capacity_bytes
        self.target = 0.0  # `p`: the bytes T1 should hold
        # each an LRU list: first = least recently used
        self._t1: OrderedDict[Key, int] = OrderedDict()
        self._t2: OrderedDict[Key, int] = OrderedDict()
        self._b1: OrderedDict[Key, int] = OrderedDict()
        self._b2: OrderedDict[Key, int] = OrderedDict()
        self._t1_used = self._t2_used = self._b1_used = self._b2_used = 0

    @property
    def used_bytes(self) -> int:
        return self._t1_used + self._t2_used

    def __contains__(self, key: object) -> bool:
        return key in self._t1 or key in self._t2

    def __len__(self) -> int:
        return len(self._t1) + len(self._t2)

    def touch(self, key: Key) -> bool:
        size = self._t1.pop(key, None)
        if size is not None:
            self._t1_used -= size
        else:
            size = self._t2.pop(key, None)
            if size is None:
                return False
            self._t2_used -= size
        self._t2[key] = size
        self._t2_used += size
        return True

    def _spares(self, key: Key, spared: int) -> bool:
        """Does eviction pass over `key` this time (it goes back to the top of T2)?"""
        return False

    def _replace(self, from_b2: bool, evicted: list[Key]) -> None:
        """REPLACE: evict one object into its ghost list, from T1 when it holds more than its
        target (or T2 is empty), else from T2."""
        spared = 0
        while self._t1 or self._t2:
            take_t1 = not self._t2 or (
                bool(self._t1)
                and (self._t1_used > self.target or (from_b2 and self._t1_used == self.target))
            )
            if take_t1:
                key, size = self._t1.popitem(last=False)
                self._t1_used -= size
            else:
                key, size = self._t2.popitem(last=False)
                self._t2_used -= size
            if self._spares(key, spared):
                spared += 1
                self._t2[key] = size
                self._t2_used += size
                continue
            if take_t1:
                self._b1[key] = size
                self._b1_used += size
            else:
                self._b2[key] = size
                self._b2_used += size
            evicted.append(key)
            return

    def _evict(self, size: int, evicted: list[Key]) -> None:
        """Make room on a miss that no ghost remembered: keep T1 and B1 within the capacity
        (forgetting B1's oldest ghost, or with no ghost left, T1's oldest object outright) and
        all four lists within twice it (forgetting B2's oldest), then REPLACE."""
        capacity = self.capacity_bytes
        if self._t1_used + self._b1_used + size > capacity:
            if not self._b1:
                key, dropped = self._t1.popitem(last=False)
                self._t1_used -= dropped
                evicted.append(key)
                return
            _, ghost = self._b1.popitem(last=False)
            self._b1_used -= ghost
        elif self._b2 and self.used_bytes + self._b1_used + self._b2_used >= 2 * capacity:
            _, ghost = self._b2.popitem(last=False)
            self._b2_used -= ghost
        self._replace(False, evicted)

    def insert(self, key: Key, size: int) -> list[Key]:
        if key in self or size > self.capacity_bytes:
            return []
        evicted: list[Key] = []
        from_b1 = key in self._b1
        from_b2 = not from_b1 and key in self._b2
        # as in libCacheSim, a ghost hit moves the target by the other ghost list's share of
        # bytes (at least 1): in bytes a small step; T2 grows mostly by what ghost hits bring
        if from_b1:
            step = max(self._b2_used / max(self._b1_used, 1), 1.0)
            self.target = min(float(self.capacity_bytes), self.target + step)
            self._b1_used -= self._b1.pop(key)
        elif from_b2:
            step = max(self._b1_used / max(self._b2_used, 1), 1.0)
            self.target = max(0.0, self.target - step)
            self._b2_used -= self._b2.pop(key)
        while self.used_bytes + size > self.capacity_bytes:
            if from_b1 or from_b2:
                self._replace(from_b2, evicted)
            else:
                self._evict(size, evicted)
        if from_b1 or from_b2:
            self._t2[key] = size
            self._t2_used += size
        else:
            self._t1[key] = size
            self._t1_used += size
        return evicted

    def remove(self, key: Key) -> bool:
        size = self._t1.pop(key, None)
        if size is not None:
            self._t1_used -= size
            return True
        size = self._t2.pop(key, None)
        if size is not None:
            self._t2_used -= size
            return True
        size = self._b1.pop(key, None)  # a ghost: forgotten, nothing was cached
        if size is not None:
            self._b1_used -= size
        else:
            size = self._b2.pop(key, None)
            if size is not None:
                self._b2_used -= size
        return False


class GuidedARC(ARC):
    """ARC that spares from eviction what a viewer behind will ask for soon."""

    name = "guided-arc"

    def __init__(
        self,
        capacity_bytes: int,
        *,
        clock: Callable[[], float],
        locate: Callable[[Key], tuple[Hashable, int] | None],
        horizon_s: float = 300.0,
    ) -> None:
        super().__init__(capacity_bytes)
        self.guide = ViewerGuide(clock, locate, horizon_s)

    def touch(self, key: Key) -> bool:
        self.guide.saw(key)
        return super().touch(key)

    def _spares(self, key: Key, spared: int) -> bool:
        return spared < MAX_SPARED and self.guide.wanted_soon(key)
