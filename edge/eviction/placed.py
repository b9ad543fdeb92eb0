"""An object the popularity model has placed, and its entry while it is held out of the
eviction order (pure; edge/eviction/popularity.py)."""

from __future__ import annotations

from collections.abc import Hashable

from edge.eviction.interval import ViewerGroup
from edge.eviction.minheap import HeapEntry
from edge.eviction.rankqueue import Ranked
from edge.eviction.tallies import Tally

Key = Hashable

# an object's place: in the scored part of the cache, on probation, on probation and asked for
MAIN, TRIAL, ASKED = 0, 1, 2


class Placed(Ranked):
    """An object the model has placed (cached, or just missed and about to be): its size,
    where it sits (its located group and position, the tallies that count it and the group's
    viewers; no video tally outside any sequence) and its live entry in the eviction order."""

    __slots__ = (
        "at_depth", "counted", "group", "key", "own", "position", "priority", "rendition", "seq",
        "size", "stored_at", "trial", "video", "viewers",
    )  # fmt: skip

    def __init__(self, key: Key) -> None:
        super().__init__()
        self.key = key
        self.size = 0
        self.group: Hashable = None
        self.position = 0
        self.video: Tally | None = None
        self.rendition: Tally | None = None
        self.at_depth: Tally | None = None
        self.viewers: ViewerGroup | None = None
        self.own = 1.0  # its own requests, for an object outside any sequence
        self.seq = 0  # of its live entry (0: none)
        self.priority = 0.0  # the score its live entry was pushed with
        self.stored_at = 0.0
        self.counted = -2  # the generation of the "asked for before" memory that holds it
        self.trial = MAIN  # or TRIAL/ASKED: on probation (and asked for again there)


class Held(HeapEntry):
    """An object held out of the order until `key` (ticks): live while its entry is `tie`."""

    def __init__(self, when: int, obj: Placed) -> None:
        super().__init__(when, obj.seq)
        self.obj = obj
