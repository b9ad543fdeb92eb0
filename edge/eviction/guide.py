"""What the viewers behind an object say about keeping it: the interval policy's viewer model
(edge/eviction/interval.py), used by the guided policies as evidence for sparing an object
rather than as the eviction order."""

from __future__ import annotations

from collections.abc import Callable, Hashable

from edge.eviction.interval import IntervalCache, ViewerGroup

Key = Hashable

LOCATED_KEPT = 8192  # keys whose place is remembered (a few MiB; forgotten all at once)
MAX_SPARED = 8  # objects a guided eviction may pass over because a viewer will want them
_NOWHERE: tuple[Hashable, int] = ((), -1)  # remembered for a key `locate` places nowhere


class ViewerGuide:
    def __init__(
        self,
        clock: Callable[[], float],
        locate: Callable[[Key], tuple[Hashable, int] | None],
        horizon_s: float = 300.0,
    ) -> None:
        # stores nothing; asks where each key is once while it is asked for
        self.viewers = IntervalCache(0, clock=clock, locate=self.where)
        self._where = locate
        self._located: dict[Key, tuple[Hashable, int]] = {}
        self.clock = clock
        self.horizon_s = horizon_s

    def where(self, key: Key) -> tuple[Hashable, int] | None:
        """(group, position) of `key`, as `locate` says (remembered while it is asked for)."""
        located = self._located.get(key)
        if located is not None:
            return located if located[1] >= 0 else None
        if len(self._located) >= LOCATED_KEPT:
            self._located.clear()
        found = self._where(key)
        self._located[key] = found if found is not None else _NOWHERE
        return found

    def saw(self, key: Key) -> None:
        """A request for `key`: it moves its viewer along."""
        located = self.where(key)
        if located is not None:
            self.viewers.observe(located[0], located[1], self.clock())

    def saw_at(self, group: Hashable, position: int) -> None:
        """A request for the object `where` places at (group, position)."""
        self.viewers.observe(group, position, self.clock())

    def group_at(self, group: Hashable) -> ViewerGroup:
        """The viewers of `group`, a handle for `saw_in` and `wait_in` (no look-up each time)."""
        return self.viewers.group_at(group)

    def saw_in(self, group: ViewerGroup, position: int, now: float) -> None:
        """`saw_at` in a group from `group_at`, at `now` (the caller's reading of the clock)."""
        self.viewers.observe_in(group, position, now)

    def wait_in(self, group: ViewerGroup, position: int, now: float) -> float:
        """`wait_at` in a group from `group_at`, at `now`."""
        return self.viewers.wait_in(group, position, now)

    def wait_s(self, key: Key) -> float:
        """How soon a viewer behind `key` should ask for it (very long: nobody is behind)."""
        return self.viewers.wait_s(key, self.clock())

    def wait_at(self, group: Hashable, position: int) -> float:
        """`wait_s` of the object `where` places at (group, position)."""
        return self.viewers.wait_at(group, position, self.clock())

    def wanted_soon(self, key: Key) -> bool:
        """Should a viewer behind `key` ask for it within the horizon?"""
        return self.wait_s(key) < self.horizon_s
