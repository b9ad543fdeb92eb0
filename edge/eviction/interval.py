"""Interval caching for video: our default eviction policy (pure).

Viewers of a video rendition fetch its segments in order, one segment duration apart, and most
start at the beginning. So the next request for segment p of a rendition is predictable: the
nearest viewer behind it, at segment q, should arrive in about (p − q) segment durations; with
no viewer behind it, the next new session must get there (the rendition's recent gap between
session starts, or the time since the last one if longer, plus p segments). Objects outside any
sequence (playlists, init segments) are predicted to be wanted again after about as long as
they were last left alone.

Eviction removes the object whose predicted next use is farthest away: an online approximation
of Belady's rule (the interval-caching idea of Dan and Sitaram, applied to HLS segments). Each
request predicts the object's next use once and pushes it on a max-heap; the eviction pops the
top and predicts it again, so a viewer who arrived behind it since is seen (it goes back on the
heap if it is no longer the farthest). Superseded heap entries are skipped, and the heap is
rebuilt from fresh predictions when it holds too many of them. Group and position come from a
`locate` function: for the edge, a URL's directory (plus its Vary values) and the number in its
file name.

The module is plain Python; `make` also compiles it with mypyc when it can (see
`tools/build_native.py`), which replays traces about three times as fast.
"""

from __future__ import annotations

import heapq
import re
import time
from collections.abc import Callable, Hashable
from typing import Any, Final

Key = Hashable
Located = tuple[Hashable, int]
Locate = Callable[[Key], "Located | None"]

STALE_VIEWER_STEPS: Final = 3.0  # a viewer not seen for 3 segment durations has stopped
DEFAULT_STEP_S: Final = 4.0
DEFAULT_GAP_S: Final = 3600.0  # a rendition with a single session start so far
FAR_S: Final = 1e7  # no session start seen: not part of anything being watched
MAX_VIEWERS: Final = 16  # prune stopped viewers of a rendition beyond this many
HEAP_SLACK: Final = 4  # rebuild when the heap holds 4× as many entries as the cache
SEQUENTIAL_WEIGHT: Final = 1.0 / 1024  # of each request in the running share that follows viewers
_SEGMENT_NUMBER: Final = re.compile(r"^(.*/)(\d{1,9})\.[A-Za-z0-9]+$")


def locate_url(key: Key) -> Located | None:
    """For edge store keys (url, variant): ("dir/", variant) and the segment number."""
    if not isinstance(key, tuple) or not key or not isinstance(key[0], str):
        return None
    match = _SEGMENT_NUMBER.match(key[0].split("?", 1)[0])
    if match is None:
        return None
    return (match.group(1), key[1] if len(key) > 1 else ()), int(match.group(2))


class _Group:
    """What is known of one rendition's viewers (a URL directory, for the edge): each viewer's
    position and when it last asked for it, in two lists side by side (compiled code walks
    lists at a fraction of a dict's cost per entry), and each position's index in them."""

    def __init__(self) -> None:
        self.positions: list[int] = []
        self.seen: list[float] = []  # when the viewer at positions[i] asked for it
        self.index: dict[int, int] = {}  # position → its index in the lists
        self.oldest = FAR_S  # no later than the earliest time in `seen` (none stale before)
        self.step = DEFAULT_STEP_S  # seconds between one viewer's requests
        self.started = False
        self.last_start = 0.0
        self.gap = DEFAULT_GAP_S  # mean time between session starts

    def drop(self, i: int) -> None:
        """Take the viewer at index `i` out of the lists (its `index` entry is gone already):
        the last one takes its place."""
        positions, seen = self.positions, self.seen
        last = len(positions) - 1
        if i != last:
            positions[i] = positions[last]
            seen[i] = seen[last]
            self.index[positions[i]] = i
        positions.pop()
        seen.pop()


ViewerGroup = _Group  # what `group_at` hands out (its fields are the cache's own)


class _Object:
    """A cached object: its size, where it sits in a rendition, its live heap entry."""

    def __init__(self, key: Key, size: int, group: _Group | None, position: int, now: float):
        self.key = key
        self.size = size
        self.group = group
        self.position = position
        self.seq = 0
        self.last_seen = now  # for objects outside any sequence


class IntervalCache:
    name = "interval"

    def __init__(
        self,
        capacity_bytes: int,
        *,
        locate: Locate = locate_url,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.capacity_bytes = capacity_bytes
        self.locate = locate
        self.clock = clock
        self._objects: dict[Key, _Object] = {}
        self._groups: dict[Hashable, _Group] = {}
        self._heap: list[tuple[float, int, _Object]] = []  # (−predicted next use, seq, object)
        self._seq = 0
        self._used = 0
        # what touch() learnt about the key it missed, for the insert() that follows
        self._missed: Key = None
        self._missed_group: _Group | None = None
        self._missed_position = 0
        self._missed_now = 0.0
        # the running share of requests that follow a viewer (at the next position of one
        # seen behind) or start one (at position 0): what says whether this traffic is
        # viewers watching sequences at all (on-demand video: 0.75-0.97; a cache trace whose
        # object numbers are not segment numbers: 0.0-0.3; a live edge, where the viewers at
        # one position count as one, 0.01: there no viewer is behind the newest part anyway)
        self.sequential = 1.0

    @property
    def used_bytes(self) -> int:
        return self._used

    def __contains__(self, key: object) -> bool:
        return key in self._objects

    def __len__(self) -> int:
        return len(self._objects)

    def next_use(self, key: Key, now: float) -> float:
        """When the cached object `key` is predicted to be requested next."""
        return now + self._until_next_use(self._objects[key], now)

    def wait_s(self, key: Key, now: float) -> float:
        """How long until `key` is predicted to be wanted, whether it is cached or not (an
        object of no known rendition: never)."""
        obj = self._objects.get(key)
        if obj is not None:
            return self._until_next_use(obj, now)
        located = self.locate(key)
        return FAR_S if located is None else self.wait_at(located[0], located[1], now)

    def wait_at(self, group_key: Hashable, position: int, now: float) -> float:
        """`wait_s` of the object at `position` in the located group `group_key`."""
        group = self._groups.get(group_key)
        return FAR_S if group is None else self._until(group, position, now)

    def _until_next_use(self, obj: _Object, now: float) -> float:
        group = obj.group
        if group is None:
            idle = now - obj.last_seen
            return idle if idle > 1.0 else 1.0
        return self._until(group, obj.position, now)

    def _until(self, group: _Group, position: int, now: float) -> float:
        step = group.step
        if group.started:
            since = now - group.last_start
            best = (group.gap if group.gap > since else since) + position * step
        else:
            best = FAR_S + position * step
        positions, seen = group.positions, group.seen
        horizon = now - STALE_VIEWER_STEPS * step
        for i in range(len(positions)):
            q = positions[i]
            if q < position:
                when = seen[i]
                if when >= horizon:
                    arrival = when - now + (position - q) * step
                    if arrival < best:
                        best = arrival
        return best

    def group_at(self, group_key: Hashable) -> ViewerGroup:
        """The viewers of the located group `group_key`, for `observe_in` and `wait_in`: a
        handle that saves a caller who keeps it looking the group up on every request."""
        return self._group_at(group_key)

    def observe_in(self, group: ViewerGroup, position: int, now: float) -> None:
        """`observe` in a group from `group_at`."""
        self._observe(group, position, now)

    def wait_in(self, group: ViewerGroup, position: int, now: float) -> float:
        """`wait_at` in a group from `group_at`."""
        return self._until(group, position, now)

    def _group(self, located: Located | None) -> _Group | None:
        return None if located is None else self._group_at(located[0])

    def _group_at(self, group_key: Hashable) -> _Group:
        group = self._groups.get(group_key)
        if group is None:
            group = self._groups[group_key] = _Group()
        return group

    def _observe(self, group: _Group, position: int, now: float) -> None:
        index, positions, seen = group.index, group.positions, group.seen
        before: Any = position - 1  # boxed once (compiled code boxes an int at each look-up)
        moved = index.get(before, -1)  # the viewer there moved on to this segment
        follows = 1.0 if moved >= 0 or position == 0 else 0.0
        self.sequential += SEQUENTIAL_WEIGHT * (follows - self.sequential)
        at: Any = position
        if moved >= 0:
            group.step = 0.8 * group.step + 0.2 * (now - seen[moved])
            del index[before]
            kept = index.setdefault(at, moved)
            if kept == moved:
                positions[moved] = position
                seen[moved] = now
            else:  # a viewer was there already: the two are one from now on
                seen[kept] = now
                group.drop(moved)
        else:
            kept = index.setdefault(at, len(positions))
            if kept == len(positions):
                positions.append(position)
                seen.append(now)
            else:
                seen[kept] = now
        if now < group.oldest:
            group.oldest = now
        horizon = now - STALE_VIEWER_STEPS * group.step
        if len(positions) > MAX_VIEWERS and group.oldest < horizon:
            oldest = now
            for i in range(len(positions) - 1, -1, -1):  # from the end: a swap keeps the rest
                when = seen[i]
                if when < horizon:
                    del index[positions[i]]
                    group.drop(i)
                elif when < oldest:
                    oldest = when
            group.oldest = oldest
        if position == 0:
            if group.started:
                group.gap = 0.7 * group.gap + 0.3 * (now - group.last_start)
            group.started = True
            group.last_start = now

    def observe(self, group_key: Hashable, position: int, now: float) -> None:
        """A request at `position` in the located group `group_key` for an object this cache
        does not hold: its viewer moves along (what `touch` does on a miss, for a model that
        stores nothing)."""
        self._observe(self._group_at(group_key), position, now)

    def _push(self, obj: _Object, now: float) -> None:
        self._seq += 1
        obj.seq = self._seq
        predicted = now + self._until_next_use(obj, now)
        heapq.heappush(self._heap, (-predicted, self._seq, obj))
        if len(self._heap) > HEAP_SLACK * len(self._objects) + 64:
            self._rebuild(now)

    def touch(self, key: Key) -> bool:
        now = self.clock()
        obj = self._objects.get(key)
        if obj is None:
            located = self.locate(key)
            group = self._group(located)
            position = 0 if located is None else located[1]
            if group is not None:
                self._observe(group, position, now)
            self._missed, self._missed_group = key, group
            self._missed_position, self._missed_now = position, now
            return False
        if obj.group is None:
            obj.last_seen = now
        else:
            self._observe(obj.group, obj.position, now)
        self._push(obj, now)
        return True

    def _rebuild(self, now: float) -> None:
        heap: list[tuple[float, int, _Object]] = []
        for obj in self._objects.values():
            self._seq += 1
            obj.seq = self._seq
            heap.append((-(now + self._until_next_use(obj, now)), self._seq, obj))
        heapq.heapify(heap)
        self._heap = heap

    def insert(self, key: Key, size: int) -> list[Key]:
        if key in self._objects or size > self.capacity_bytes:
            return []
        if key == self._missed:
            group, position, now = self._missed_group, self._missed_position, self._missed_now
        else:
            located, now = self.locate(key), self.clock()
            group = self._group(located)
            position = 0 if located is None else located[1]
        self._missed = None
        evicted: list[Key] = []
        while self._used + size > self.capacity_bytes:
            evicted.append(self._evict_one(now))
        obj = self._objects[key] = _Object(key, size, group, position, now)
        self._used += size
        self._push(obj, now)
        return evicted

    def _evict_one(self, now: float) -> Key:
        heap = self._heap
        while True:
            _, seq, obj = heapq.heappop(heap)
            if obj.seq != seq:
                continue  # superseded by a later prediction, or no longer cached
            predicted = now + self._until_next_use(obj, now)
            if heap and predicted < -heap[0][0]:  # wanted sooner than thought: look again
                self._seq += 1
                obj.seq = self._seq
                heapq.heappush(heap, (-predicted, self._seq, obj))
                continue
            self._drop(obj)
            return obj.key

    def _drop(self, obj: _Object) -> None:
        del self._objects[obj.key]
        obj.seq = -1  # its heap entries are dead
        self._used -= obj.size

    def remove(self, key: Key) -> bool:
        obj = self._objects.get(key)
        if obj is None:
            return False
        self._drop(obj)
        return True
