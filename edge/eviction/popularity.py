"""Popularity caching for video: keep what the most-watched videos' viewers ask for (pure).

On a POP's logs most segments are asked for once, and a segment that is asked for again is
asked for hours later, by another viewer of the same video: neither recency nor an object's own
count says which segments those are (a segment has no history the first time it is stored).
What does say it is the video's: how many requests its objects have had per object so far.
Every object of a popular video, at a rung and a depth that viewers reach, is worth keeping;
a segment of a video nobody else watches is not, however recent.

The score of an object is the number of requests per distinct object its video has had,
scaled by how its rendition and its depth in the video (the segment number's power of two) do
across all videos (requests per object there over requests per object everywhere): top rungs
and early segments are watched by more of a video's viewers. Playlists, init segments and other
files outside a numbered sequence score by their own requests. Every `HALVE_EVERY` requests
all counts are halved and objects are counted afresh, so that requests per object is a recent
rate with new requests weighing more than old ones; a video (rendition,
depth) not asked for since the last halving has only its requests halved, so it is worth half
as much at each halving until it is forgotten.

Eviction removes the lowest score, oldest first among equals (a lazily re-checked min-heap: an
entry whose score has grown since it was pushed goes back). An object a viewer behind it should
ask for within `horizon_s` (the interval policy's viewer model, edge/eviction/guide.py) is
spared: it is held out of the heap until that viewer should have asked for it (its request
pushes a new entry), then goes back; only when every cached object is held is one of them
evicted (one wanted late). An object that scores lower than everything it would displace is
not stored (admission), unless a viewer behind it wants it soon.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Hashable
from typing import Final

from edge.eviction.guide import ViewerGuide

Key = Hashable
Locate = Callable[[Key], "tuple[Hashable, int] | None"]

HALVE_EVERY: Final = 1 << 20  # requests between halvings of every count
SEEN_KEPT: Final = 1 << 18  # object hashes per generation of the "asked for before" memory
# a held object is looked at again this long after its viewer should have asked for it: a
# request on time (give or take the clock's grain, a whole second in a trace) always comes first
HOLD_SLACK_S: Final = 8.0
HEAP_SLACK: Final = 4  # rebuild when the heap holds 4x as many entries as the cache
GROWN: Final = 1.05  # a popped entry goes back if its object's score grew by more than this


class _Tally:
    """Requests and distinct objects counted for one video, rendition or depth."""

    __slots__ = ("asked", "objects", "requests")

    def __init__(self) -> None:
        self.requests = 0.0
        self.objects = 0.0
        self.asked = True  # requested since the last halving

    def per_object(self) -> float:
        return self.requests / self.objects if self.objects > 0 else 1.0


class _Where:
    """What the model knows of one object's place: its video, rendition and depth."""

    __slots__ = ("depth", "rendition", "video")

    def __init__(self, video: Hashable, rendition: Hashable, depth: int) -> None:
        self.video = video
        self.rendition = rendition
        self.depth = depth


def split_group(group: Hashable) -> tuple[Hashable, Hashable]:
    """(video, rendition) of a located group: for the edge, a URL directory ("/vod/ID/720p/")
    and its Vary values; for the simulator, a (video, rendition) pair."""
    if isinstance(group, tuple) and len(group) == 2:
        first, second = group
        if isinstance(first, str):
            parent, _, name = first.rstrip("/").rpartition("/")
            return parent, (name, second)
        return first, second
    return group, None


class PopularityCache:
    name = "popular"

    def __init__(
        self,
        capacity_bytes: int,
        *,
        clock: Callable[[], float],
        locate: Locate,
        horizon_s: float = 300.0,
        halve_every: int = HALVE_EVERY,
    ) -> None:
        self.capacity_bytes = capacity_bytes
        self.halve_every = halve_every
        self.guide = ViewerGuide(clock, locate, horizon_s)
        self._sizes: dict[Key, int] = {}
        self._used = 0
        self._heap: list[tuple[float, int, Key]] = []
        self._held: list[tuple[float, int, Key]] = []  # (when to look again, seq, key)
        self._entry: dict[Key, int] = {}  # key → sequence number of its live heap entry
        self._seq = 0
        self._where: dict[Key, _Where | None] = {}  # of the cached objects
        self._own: dict[Key, float] = {}  # requests of cached objects outside any sequence
        self._videos: dict[Hashable, _Tally] = {}
        self._renditions: dict[Hashable, _Tally] = {}
        self._depths: dict[Hashable, _Tally] = {}
        self._total = _Tally()
        self._seen: set[int] = set()
        self._seen_before: set[int] = set()
        self._until_halving = halve_every

    @property
    def used_bytes(self) -> int:
        return self._used

    def __contains__(self, key: object) -> bool:
        return key in self._sizes

    def __len__(self) -> int:
        return len(self._sizes)

    # -- the model -------------------------------------------------------------------------

    def _place(self, key: Key) -> _Where | None:
        located = self.guide.where(key)
        if located is None:
            return None
        video, rendition = split_group(located[0])
        return _Where(video, rendition, located[1].bit_length())

    def _count(self, key: Key, where: _Where | None) -> None:
        mark = hash(key)
        new = mark not in self._seen and mark not in self._seen_before
        if new:
            if len(self._seen) >= SEEN_KEPT:
                self._seen_before = self._seen
                self._seen = set()
            self._seen.add(mark)
        added = 1.0 if new else 0.0
        total = self._total
        total.requests += 1.0
        total.objects += added
        if where is not None:
            for table, name in (
                (self._videos, where.video),
                (self._renditions, where.rendition),
                (self._depths, where.depth),
            ):
                tally = table.get(name)
                if tally is None:
                    tally = table[name] = _Tally()
                tally.requests += 1.0
                tally.objects += added
                tally.asked = True
        self._until_halving -= 1
        if self._until_halving <= 0:
            self._halve()

    def _halve(self) -> None:
        self._until_halving = self.halve_every
        # objects are counted afresh: a count of objects is of those asked for in its window
        self._seen = set()
        self._seen_before = set()
        self._total.requests /= 2
        self._total.objects /= 2
        for table in (self._videos, self._renditions, self._depths):
            for name in [n for n, t in table.items() if t.requests < 1.0]:
                del table[name]
            for tally in table.values():
                tally.requests /= 2
                if tally.asked:  # the same requests per object, on half the evidence
                    tally.objects /= 2
                tally.asked = False  # else: worth half as much
        for key in self._own:
            self._own[key] /= 2

    def _score_of(self, key: Key, where: _Where | None) -> float:
        if where is None:
            return self._own.get(key, 1.0)
        video = self._videos.get(where.video)
        score = video.per_object() if video is not None else 1.0
        mean = self._total.per_object()
        rendition = self._renditions.get(where.rendition)
        if rendition is not None:
            score *= rendition.per_object() / mean
        depth = self._depths.get(where.depth)
        if depth is not None:
            score *= depth.per_object() / mean
        return score

    def score(self, key: Key) -> float:
        """How many requests the model expects for `key`, relative to other objects."""
        where = self._where[key] if key in self._where else self._place(key)
        return self._score_of(key, where)

    # -- the cache -------------------------------------------------------------------------

    def _push(self, key: Key, priority: float) -> None:
        self._seq += 1
        self._entry[key] = self._seq
        heapq.heappush(self._heap, (priority, self._seq, key))

    def touch(self, key: Key) -> bool:
        self.guide.saw(key)  # every request moves a viewer along
        cached = key in self._sizes
        where = self._where[key] if cached else self._place(key)
        self._count(key, where)
        if not cached:
            return False
        if where is None:
            self._own[key] = self._own.get(key, 1.0) + 1.0
        self._push(key, self._score_of(key, where))
        if len(self._heap) > HEAP_SLACK * len(self._sizes) + 64:
            self._rebuild()
        return True

    def _rebuild(self) -> None:
        self._held = []
        self._heap = [(self.score(k), seq, k) for k, seq in self._entry.items()]
        heapq.heapify(self._heap)

    def _release(self, now: float) -> None:
        """Held entries whose viewer should have come by now go back to the heap."""
        held, heap = self._held, self._heap
        while held and held[0][0] <= now:
            _, seq, key = heapq.heappop(held)
            if self._entry.get(key) == seq:  # not asked for again, and still cached
                heapq.heappush(heap, (self.score(key), seq, key))

    def _victim(self) -> tuple[Key, float] | None:
        """The cached object to evict next and its score (it stays in the cache)."""
        now = self.guide.clock()
        self._release(now)
        heap = self._heap
        while heap:
            priority, seq, key = heapq.heappop(heap)
            if self._entry.get(key) != seq:
                continue  # superseded, or no longer cached
            score = self.score(key)
            if score > priority * GROWN:
                self._push(key, score)
                continue
            wait = self.guide.wait_s(key)
            if wait < self.guide.horizon_s:  # held until its viewer should have come
                heapq.heappush(self._held, (now + wait + HOLD_SLACK_S, seq, key))
                continue
            heapq.heappush(heap, (priority, seq, key))  # still its entry, if it stays
            return key, score
        # every cached object is wanted soon: one wanted late goes (a leaf of the held heap,
        # at least as late as the entries above it, taken in constant time)
        held = self._held
        while held:
            entry = held.pop()
            if self._entry.get(entry[2]) == entry[1]:
                heapq.heappush(held, entry)  # still its entry, if it stays
                return entry[2], self.score(entry[2])
        return None

    def insert(self, key: Key, size: int) -> list[Key]:
        if key in self._sizes or size > self.capacity_bytes:
            return []
        where = self._place(key)
        score = self._score_of(key, where)
        evicted: list[Key] = []
        while self._used + size > self.capacity_bytes:
            victim = self._victim()
            if victim is None:
                return evicted
            if victim[1] > score and not self.guide.wanted_soon(key):
                return evicted  # worth less than what it would displace: not stored
            self._drop(victim[0])
            evicted.append(victim[0])
        self._sizes[key] = size
        self._used += size
        self._where[key] = where
        if where is None:
            self._own[key] = 1.0
        self._push(key, score)
        return evicted

    def _drop(self, key: Key) -> None:
        self._used -= self._sizes.pop(key)
        del self._entry[key]
        del self._where[key]
        self._own.pop(key, None)

    def remove(self, key: Key) -> bool:
        if key not in self._sizes:
            return False
        self._drop(key)
        return True
