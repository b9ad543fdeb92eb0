"""Popularity caching for video: keep what the most-watched videos' viewers ask for (pure).

On a POP's logs most segments are asked for once, and a segment that is asked for again is
asked for hours later, by another viewer of the same video: neither recency nor an object's own
count says which segments those are (a segment has no history the first time it is stored).
What does is the video's: how many requests its objects have had per object so far. Every
object of a popular video, at a rung and a depth that viewers reach, is worth keeping; a
segment of a video nobody else watches is not, however recent.

The score of an object is the number of requests per distinct object its video has had,
scaled by how its rendition and its depth in the video (the segment number's power of two) do
across all videos (requests per object there over requests per object everywhere): top rungs
and early segments are watched by more of a video's viewers. It is scaled again by how its
segment number does within its video, at every rung together (a viewer who switches rungs
still asks for the next segment of the same video): that position's requests over the video's
mean per position, shrunk toward 1 by `POSITION_PRIOR` means' worth, so that a position with
little evidence keeps the video's score (no rung or depth where requests do not follow
viewers: the `sequential` share, below). Playlists, init segments and other files outside a
numbered sequence score by their own requests. Every `HALVE_EVERY` requests all counts are
halved and objects are counted afresh, so that requests per object is a recent rate with new
requests weighing more than old ones; a video (rendition, depth) not asked for since the last
halving has only its requests halved, so it is worth half as much at each halving until it is
forgotten. Where popularity moves faster than that, edge/eviction/adaptive.py runs S3-FIFO or LRU.

Eviction removes the lowest score, the oldest entry first among scores within about 1% of
each other (a lazily re-checked queue by rank, edge/eviction/rankqueue.py: an entry whose
object's score has grown by more than `GROWN` since it was pushed goes back; a hit pushes a new
entry only then). An object a viewer behind it should ask for within the horizon (the interval
policy's viewer model, edge/eviction/guide.py) is spared: it is held out of the order until that
viewer should have asked for it, then goes back; only when every cached object is held is one of
them evicted (one wanted late). The viewer model is trusted only while it says something:
while most requests follow a viewer or start one (the model's `sequential` share; traffic whose
object numbers are not segment numbers does not) and fewer than `SOON_MAX` of the objects looked
at for eviction are wanted soon (when nearly all are, as in a flash crowd or random traffic in
one numbered directory, sparing them is no choice at all).

An object that scores lower than everything it would displace, and that no viewer behind it
wants soon, goes on probation (S3-FIFO's small queue): a first-in first-out area of at most
`1/PROBATION_PARTS` of the cache (or `PROBATION_MIN` objects), from which it is promoted to
the rest if asked for again while there and dropped if not. A new object that no evidence
favours yet (the newest part of a live stream, whose older parts have many more requests) is
kept long enough for its first viewers to find it, and promoted worth at least what it was
refused for. One larger than a tenth of the cache and than twice the mean size of the objects
missed lately is not stored; where objects that large are the rule (a cache of a few objects),
it is.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from typing import Any, Final, cast

from edge.eviction.fifo import Fifo
from edge.eviction.guide import ViewerGuide
from edge.eviction.interval import ViewerGroup
from edge.eviction.minheap import MinHeap
from edge.eviction.placed import ASKED, MAIN, TRIAL, Held, Placed
from edge.eviction.rankqueue import RankQueue, rank
from edge.eviction.tallies import Tally, add_request, per_object, seen_mark, split_group

Key = Hashable
Locate = Callable[[Key], "tuple[Hashable, int] | None"]

HALVE_EVERY: Final = 1 << 20  # requests between halvings of every count
SEEN_KEPT: Final = 1 << 18  # object hashes per generation of the "asked for before" memory
# a held object is looked at again this long after its viewer should have asked for it: a
# request on time (give or take the clock's grain, a whole second in a trace) always comes first
HOLD_SLACK_S: Final = 8.0
# an object larger than a tenth of the capacity is not stored: it would displace most of the
# cache for itself (S3-FIFO's rule too; a POP's memory tier leaves such files to its disk tier);
# unless it is under LARGE times the mean size of the objects missed lately: where objects that
# large are the rule (a cache of a few objects), refusing them would leave the cache empty
TENTHS: Final = 10
LARGE: Final = 2
# The horizon within which a viewer's coming spares an object: HORIZON_STAYS times how long
# evicted objects had stayed (a running mean, STAY_WEIGHT per eviction), within these bounds.
# A small cache cannot hold what a viewer wants in five minutes without giving up more than it
# keeps; a large one can wait for viewers ten minutes behind.
HORIZON_STAYS: Final = 4.0
HORIZON_MIN_S: Final = 120.0
HORIZON_MAX_S: Final = 600.0
STAY_WEIGHT: Final = 0.001
HEAP_SLACK: Final = 4  # rebuild when the order holds 4x as many entries as the cache
GROWN: Final = 1.05  # a popped entry goes back if its object's score grew by more than this
SEQ_LIMIT: Final = (1 << 39) - 1  # sequence numbers start afresh past this
TICKS_PER_S: Final = 16  # the grain of held entries' times
# How far a segment number's own requests move its score, at every rung together: its count
# weighs against this many times its video's mean per position. Chosen on 13 trace logs, and
# better by as much on 12 others no value was chosen on (BENCHMARKS.md, cache policy).
POSITION_PRIOR: Final = 3.0
# The viewer model spares objects only while at least this share of requests follow viewers,
SEQUENTIAL_MIN: Final = 0.5
# and while fewer than this share of the objects looked at for eviction are wanted soon (a
# running share, SOON_WEIGHT per object looked at).
SOON_MAX: Final = 0.8
SOON_WEIGHT: Final = 1.0 / 256
PROBATION_PARTS: Final = 40  # probation holds 1/40 of the cache or, if more, PROBATION_MIN
# objects (at most half the cache): a live stream's crowd asks for a new part a hold-back
PROBATION_MIN: Final = 6  # (>= 3 parts, RFC 8216bis) after its edge's first viewer: twice 3


class PopularityCache:
    name = "popular"

    def __init__(
        self,
        capacity_bytes: int,
        *,
        clock: Callable[[], float],
        locate: Locate,
        horizon_s: float = 300.0,  # until evictions say how long objects stay
        halve_every: int = HALVE_EVERY,
    ) -> None:
        self.capacity_bytes = capacity_bytes
        self.halve_every = halve_every
        self.guide = ViewerGuide(clock, locate)  # its model of viewers; the horizon is ours
        self.horizon_s = horizon_s
        self._stay_s = -1.0  # how long evicted objects had stayed (a running mean; -1: none yet)
        self._locate = locate
        self._objects: dict[Key, Placed] = {}
        self._used = 0
        # the eviction order: by the rank of the score when pushed, the oldest entry first
        self._order = RankQueue()
        self._held = MinHeap()  # out of the order till a viewer should have come (Held)
        self._seq = 0
        self._videos: dict[Hashable, Tally] = {}
        self._renditions: dict[Hashable, Tally] = {}
        self._depths: dict[Hashable, Tally] = {}
        # group → (video, rendition, the group's viewers in the guide)
        self._groups: dict[Hashable, tuple[Tally, Tally, ViewerGroup]] = {}
        self._total = Tally()
        # object hashes counted → the generation that counted them (SEEN_KEPT a generation, at
        # most 3 generations kept): one counted in this generation or the one before is known
        self._seen: dict[int, int] = {}
        self._fresh = 0  # hashes counted in this generation
        self._generation = 0
        self._until_halving = halve_every
        self._inserts = 0  # objects missed and inserted (halved with the counts), and their bytes
        self._inserted_bytes = 0
        self._missed: Placed | None = None  # placed by touch() for the insert that follows
        self._probation: Fifo[Placed] = Fifo()  # oldest first
        self._probation_used = 0
        self._soon = 0.0  # running share of eviction candidates a viewer wants soon
        self._victim_score = 0.0

    @property
    def used_bytes(self) -> int:
        return self._used

    def __contains__(self, key: object) -> bool:
        return key in self._objects

    def __len__(self) -> int:
        return len(self._objects)

    # -- the model -------------------------------------------------------------------------

    def _tally(self, obj: Placed) -> None:
        """Find (or start) the tallies that count `obj`, at its group and position."""
        pair = self._groups.get(obj.group)
        if pair is None:
            video, rendition = split_group(obj.group)
            video_tally = self._videos.get(video)
            if video_tally is None:
                video_tally = self._videos[video] = Tally()
            rendition_tally = self._renditions.get(rendition)
            if rendition_tally is None:
                rendition_tally = self._renditions[rendition] = Tally()
            viewers = self.guide.group_at(obj.group)
            pair = self._groups[obj.group] = (video_tally, rendition_tally, viewers)
        depth = obj.position.bit_length()
        at_depth = self._depths.get(depth)
        if at_depth is None:
            at_depth = self._depths[depth] = Tally()
        obj.video, obj.rendition, obj.at_depth, obj.viewers = pair[0], pair[1], at_depth, pair[2]

    def _place(self, key: Key, located: tuple[Hashable, int] | None) -> Placed:
        obj = Placed(key)
        if located is not None:
            obj.group, obj.position = located
            self._tally(obj)
        return obj

    def _count(self, key: Key, obj: Placed) -> None:
        added = 0.0
        if obj.counted < self._generation - 1:  # not known to be remembered: look
            mark: Any = seen_mark(key)  # boxed once (compiled code boxes an int at each look-up)
            counted = self._seen.get(mark, -2)
            if counted >= self._generation - 1:
                obj.counted = counted
            else:
                if self._fresh >= SEEN_KEPT:  # a new generation; the one before last is gone
                    self._generation += 1
                    self._fresh = 0
                    if len(self._seen) > 3 * SEEN_KEPT:
                        kept = self._generation - 1
                        self._seen = {m: g for m, g in self._seen.items() if g >= kept}
                self._seen[mark] = obj.counted = self._generation
                self._fresh += 1
                added = 1.0
        add_request(self._total, added)
        video = obj.video
        if video is not None:
            add_request(video, added)
            positions = video.positions
            at: Any = obj.position  # boxed once for both look-ups (compiled code boxes each)
            positions[at] = positions.get(at, 0.0) + 1.0
        if obj.rendition is not None:
            add_request(obj.rendition, added)
        if obj.at_depth is not None:
            add_request(obj.at_depth, added)
        self._until_halving -= 1
        if self._until_halving <= 0:
            self._halve()

    def _halve(self) -> None:
        self._until_halving = self.halve_every
        self._inserts //= 2
        self._inserted_bytes //= 2
        # objects are counted afresh: a count of objects is of those asked for in its window
        self._seen = {}
        self._fresh = 0
        self._generation += 2  # nothing counted before is remembered
        self._total.requests /= 2
        self._total.objects /= 2
        self._groups = {}
        for table in (self._videos, self._renditions, self._depths):
            for name in [n for n, t in table.items() if t.requests < 1.0]:
                del table[name]
            for tally in table.values():
                tally.requests /= 2
                if tally.positions:
                    tally.halve_positions()
                if tally.asked:  # the same requests per object, on half the evidence
                    tally.objects /= 2
                tally.asked = False  # else: worth half as much
        for obj in self._objects.values():  # their tallies may be gone: find them again
            obj.own /= 2
            if obj.viewers is not None:
                self._tally(obj)
        if self._missed is not None and self._missed.viewers is not None:
            self._tally(self._missed)

    def _score(self, obj: Placed) -> float:
        video, rendition, at_depth = obj.video, obj.rendition, obj.at_depth
        if video is None or rendition is None or at_depth is None:
            return obj.own
        scale = 1.0  # rung and depth say how viewers watch: nothing where none walk through
        if self.guide.viewers.sequential >= SEQUENTIAL_MIN:  # numbers (their `sequential` share)
            total = self._total
            mean = total.requests / total.objects if total.objects > 0 else 1.0
            scale = per_object(rendition) * per_object(at_depth) / (mean * mean)
        score = per_object(video) * scale
        spread = len(video.positions)
        if spread and video.requests > 0.0:
            per_position = video.requests / spread
            asked = video.positions.get(obj.position, 0.0)
            score *= (asked + POSITION_PRIOR * per_position) / (
                per_position * (1.0 + POSITION_PRIOR)
            )
        return score

    def learn(self, keys: Iterable[Key]) -> None:
        """Count requests for `keys` in the model, as if asked for now, without caching them
        or moving viewers: a model that starts from what a log says."""
        for key in keys:
            self._count(key, self._place(key, self._locate(key)))

    def score(self, key: Key) -> float:
        """How many requests the model expects for `key`, relative to other objects."""
        obj = self._objects.get(key)
        return self._score(obj if obj is not None else self._place(key, self._locate(key)))

    # -- the cache -------------------------------------------------------------------------

    def _push(self, obj: Placed, priority: float) -> None:
        """A new live entry for `obj` (its older one, if any, is dead)."""
        self._seq += 1
        obj.seq = self._seq
        obj.priority = priority
        self._order.push(obj, rank(priority))

    def touch(self, key: Key) -> bool:
        obj = self._objects.get(key)
        if obj is None:  # placed for the insert that follows (located afresh: most objects are
            # asked for once, remembering their places would cost more than locating them)
            obj = self._missed = self._place(key, self._locate(key))
            if obj.viewers is not None:  # every request moves a viewer
                self.guide.saw_in(obj.viewers, obj.position, self.guide.clock())
            self._count(key, obj)
            return False
        if obj.viewers is not None:
            self.guide.saw_in(obj.viewers, obj.position, self.guide.clock())
        self._count(key, obj)
        obj.own += 1.0
        if obj.trial != MAIN:  # on probation: asked for again, so promoted when it leaves
            obj.trial = ASKED
            return True
        score = self._score(obj)
        if score > obj.priority * GROWN:  # worth more than its entry says: a new entry
            self._push(obj, score)
            if self._order.entries > HEAP_SLACK * len(self._objects) + 64:
                self._rebuild()
        return True

    def _rebuild(self) -> None:
        self._held = MinHeap()
        self._order = RankQueue()
        for obj in sorted(self._objects.values(), key=lambda o: o.seq):  # the oldest first again
            obj.seq = 0  # no live entry (sequence numbers may start afresh)
            if obj.trial == MAIN:
                self._push(obj, self._score(obj))

    def _release(self, now: float) -> None:
        """Held entries whose viewer should have come by now go back to the order."""
        held, due = self._held, int(now * TICKS_PER_S) + 1
        while held.entries and held.entries[0].key < due:
            entry = cast(Held, held.pop())
            if entry.obj.seq == entry.tie:  # not asked for again, and still cached
                self._push(entry.obj, self._score(entry.obj))

    def _wait_s(self, obj: Placed, now: float) -> float:
        if obj.viewers is None:
            return self.guide.wait_s(obj.key)
        return self.guide.wait_in(obj.viewers, obj.position, now)

    def _trusted(self) -> bool:
        """Does the viewer model say anything here (see the module's docstring)?"""
        return self.guide.viewers.sequential >= SEQUENTIAL_MIN and self._soon < SOON_MAX

    def _spared(self, obj: Placed, now: float) -> bool:
        """Should a viewer ask for `obj` within the horizon, by a model that is trusted?"""
        return self._trusted() and self._wait_s(obj, now) < self.horizon_s

    def _victim(self, now: float) -> Placed | None:
        """The cached object to evict next (its score in `_victim_score`: no tuple made); its
        entry is left where it is (first in the order, or a held leaf): evicting it kills it."""
        self._release(now)
        order = self._order
        first = order.first()
        while first is not None:
            obj = cast(Placed, first)
            score = self._score(obj)
            if score > obj.priority * GROWN:  # a new entry, behind this one (now dead)
                self._push(obj, score)
            else:
                wait = self._wait_s(obj, now)
                soon = wait < self.horizon_s
                self._soon += SOON_WEIGHT * ((1.0 if soon else 0.0) - self._soon)
                if not (soon and self._trusted()):
                    self._victim_score = score
                    return obj
                order.take(obj)  # held until its viewer should have come
                when = int((now + wait + HOLD_SLACK_S) * TICKS_PER_S)
                self._held.push(Held(when, obj))
            first = order.first()
        # every cached object is wanted soon: one wanted late goes (a leaf of the held heap,
        # at least as late as the entries above it, taken in constant time)
        held = self._held
        entry = held.last()
        while entry is not None:
            held_obj = cast(Held, entry).obj
            if held_obj.seq == entry.tie:
                self._victim_score = self._score(held_obj)
                return held_obj
            held.pop_last()
            entry = held.last()
        return None

    def insert(self, key: Key, size: int) -> list[Key]:
        if key in self._objects or size > self.capacity_bytes:
            return []
        self._inserts += 1
        self._inserted_bytes += size
        if size * TENTHS > self.capacity_bytes and size * self._inserts > (
            LARGE * self._inserted_bytes
        ):  # large, and larger than the objects missed lately
            return []
        if self._seq > SEQ_LIMIT:  # (after about 5e11 entries) number them afresh
            self._seq = 0
            self._rebuild()
        obj = self._missed
        if obj is None or (obj.key is not key and obj.key != key):
            obj = self._place(key, self._locate(key))
        self._missed = None
        score = self._score(obj)
        now = self.guide.clock()
        evicted: list[Key] = []
        while self._used + size > self.capacity_bytes:
            victim = self._victim(now)
            if victim is None:
                return self._on_probation(obj, size, now, 0.0, evicted)
            if self._victim_score > score and not self._spared(obj, now):
                # worth less than what it would displace: on probation
                return self._on_probation(obj, size, now, self._victim_score, evicted)
            self._evict(victim, now, evicted)
        obj.size = size
        obj.stored_at = now
        self._objects[key] = obj
        self._used += size
        self._push(obj, score)
        return evicted

    def _on_probation(
        self, obj: Placed, size: int, now: float, floor: float, evicted: list[Key]
    ) -> list[Key]:
        """Store `obj` on probation, making room from the probation area's oldest while it is
        full (promoting those asked for again), then from the rest; `evicted` gets what went."""
        limit = self.capacity_bytes // PROBATION_PARTS  # (or PROBATION_MIN objects)
        probation = self._probation
        while self._used + size > self.capacity_bytes:
            full = (
                self._probation_used + size > limit and probation.waiting() >= PROBATION_MIN
            ) or 2 * (self._probation_used + size) > self.capacity_bytes
            victim = None if full else self._victim(now)
            if victim is not None:
                self._evict(victim, now, evicted)
            elif probation.waiting():
                self._leave_probation(floor, evicted)
            else:
                return evicted
        obj.size = size
        obj.stored_at = now
        obj.trial = TRIAL
        self._objects[obj.key] = obj
        self._used += size
        self._probation_used += size
        probation.append(obj)
        return evicted

    def _leave_probation(self, floor: float, evicted: list[Key]) -> None:
        """The oldest object on probation leaves it: promoted (worth at least `floor`) if it
        was asked for again there, else dropped."""
        old = self._probation.popleft()
        self._probation_used -= old.size
        if old.trial == ASKED:
            old.trial = MAIN
            self._push(old, max(self._score(old), floor))
        else:  # dropped (its stay is not one the horizon follows); no entry to kill
            del self._objects[old.key]
            self._used -= old.size
            evicted.append(old.key)

    def _evict(self, obj: Placed, now: float, evicted: list[Key]) -> None:
        self._drop(obj)
        self._stayed(now - obj.stored_at)
        evicted.append(obj.key)

    def _stayed(self, stay: float) -> None:
        """An eviction after `stay` seconds: the horizon follows how long objects stay
        (HORIZON_STAYS times it)."""
        mean = self._stay_s
        mean = stay if mean < 0 else mean + STAY_WEIGHT * (stay - mean)
        self._stay_s = mean
        self.horizon_s = min(max(HORIZON_STAYS * mean, HORIZON_MIN_S), HORIZON_MAX_S)

    def _drop(self, obj: Placed) -> None:
        del self._objects[obj.key]
        self._order.drop(obj)  # (none on probation)
        obj.seq = 0
        self._used -= obj.size
        if obj.trial != MAIN:
            self._probation.remove(obj)
            self._probation_used -= obj.size

    def contents(self) -> list[tuple[Key, int]]:
        """Cached keys and sizes, the least valuable first: on probation, then by score."""
        scored = sorted(
            (o for o in self._objects.values() if o.trial == MAIN), key=lambda o: o.priority
        )
        return [(o.key, o.size) for o in [*self._probation.oldest_first(), *scored]]

    def remove(self, key: Key) -> bool:
        obj = self._objects.get(key)
        if obj is None:
            return False
        self._drop(obj)
        return True
