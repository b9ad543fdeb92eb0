"""What the viewers behind an object say about keeping it: the interval policy's viewer model
(edge/eviction/interval.py), used by the guided policies as evidence for sparing an object
rather than as the eviction order."""

from __future__ import annotations

from collections.abc import Callable, Hashable

from edge.eviction.interval import IntervalCache

Key = Hashable

MAX_SPARED = 8  # objects a guided eviction may pass over because a viewer will want them


class ViewerGuide:
    def __init__(
        self,
        clock: Callable[[], float],
        locate: Callable[[Key], tuple[Hashable, int] | None],
        horizon_s: float = 300.0,
    ) -> None:
        self.viewers = IntervalCache(0, clock=clock, locate=locate)  # stores nothing
        self.clock = clock
        self.horizon_s = horizon_s

    def saw(self, key: Key) -> None:
        """A request for `key`: it moves its viewer along."""
        self.viewers.touch(key)

    def wanted_soon(self, key: Key) -> bool:
        """Should a viewer behind `key` ask for it within the horizon?"""
        return self.viewers.wait_s(key, self.clock()) < self.horizon_s
