"""Interval caching for video: our default eviction policy (pure).

Viewers of a video rendition fetch its segments in order, one segment duration apart, and most
start at the beginning. So the next request for segment p of a rendition is predictable: the
nearest viewer behind it, at segment q, should arrive in about (p − q) segment durations; with
no viewer behind it, the next new session must get there (the rendition's recent gap between
session starts, plus p segments). Objects outside any sequence (playlists, init segments) are
predicted to be wanted again after about as long as they were last left alone.

On eviction we sample a few cached objects and evict the one whose next use is predicted
farthest away: an online approximation of Belady's rule (the interval-caching idea of Dan and
Sitaram, applied to HLS segments). Group and position come from a `locate` function: for the
edge, a URL's directory (plus its Vary values) and the number in its file name.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable, Hashable

Key = Hashable
Locate = Callable[[Key], "tuple[Hashable, int] | None"]

STALE_VIEWER_STEPS = 3.0  # a viewer not seen for 3 segment durations has stopped
DEFAULT_STEP_S = 4.0
FAR_S = 1e7
_SEGMENT_NUMBER = re.compile(r"^(.*/)(\d{1,9})\.[A-Za-z0-9]+$")


def locate_url(key: Key) -> tuple[Hashable, int] | None:
    """For edge store keys (url, variant): ("dir/", variant) and the segment number."""
    if not isinstance(key, tuple) or not key or not isinstance(key[0], str):
        return None
    match = _SEGMENT_NUMBER.match(key[0].split("?", 1)[0])
    if match is None:
        return None
    return (match.group(1), key[1] if len(key) > 1 else ()), int(match.group(2))


class IntervalCache:
    name = "interval"

    def __init__(
        self,
        capacity_bytes: int,
        *,
        locate: Locate = locate_url,
        clock: Callable[[], float] = time.monotonic,
        samples: int = 8,
        seed: int = 0,
    ) -> None:
        self.capacity_bytes = capacity_bytes
        self.locate = locate
        self.clock = clock
        self.samples = samples
        self._random = random.Random(seed).random
        self._sizes: dict[Key, int] = {}
        self._keys: list[Key] = []  # for O(1) random sampling
        self._index: dict[Key, int] = {}
        self._used = 0
        self._viewers: dict[Hashable, dict[int, float]] = {}  # group → position → last seen
        self._steps: dict[Hashable, float] = {}  # group → seconds between a viewer's requests
        self._starts: dict[Hashable, tuple[float, float]] = {}  # group → (last start, mean gap)
        self._last_seen: dict[Key, float] = {}  # for objects outside any sequence
        self._where: dict[Key, tuple[Hashable, int] | None] = {}  # locate() of cached keys

    @property
    def used_bytes(self) -> int:
        return self._used

    def __contains__(self, key: object) -> bool:
        return key in self._sizes

    def __len__(self) -> int:
        return len(self._sizes)

    def _observe(self, key: Key, now: float) -> None:
        located = self._where[key] if key in self._where else self.locate(key)
        if located is None:
            if key in self._sizes or key in self._last_seen:
                self._last_seen[key] = now
            return
        group, position = located
        viewers = self._viewers.get(group)
        if viewers is None:
            viewers = self._viewers[group] = {}
        previous = viewers.pop(position - 1, None)  # that viewer moved on to this segment
        step = self._steps.get(group, DEFAULT_STEP_S)
        if previous is not None:
            step = self._steps[group] = 0.8 * step + 0.2 * (now - previous)
        viewers[position] = now
        if len(viewers) > 16:
            horizon = now - STALE_VIEWER_STEPS * step
            for q in [q for q, seen in viewers.items() if seen < horizon]:
                del viewers[q]
        if position == 0:
            last, gap = self._starts.get(group, (None, 3600.0))
            if last is not None:
                gap = 0.7 * gap + 0.3 * (now - last)
            self._starts[group] = (now, gap)

    def next_use(self, key: Key, now: float) -> float:
        """When the object is predicted to be requested next."""
        located = self._where[key] if key in self._where else self.locate(key)
        if located is None:
            last = self._last_seen.get(key, now)
            return now + max(1.0, now - last)
        group, position = located
        step = self._steps.get(group, DEFAULT_STEP_S)
        best = FAR_S + now
        viewers = self._viewers.get(group)
        if viewers:
            horizon = now - STALE_VIEWER_STEPS * step
            for q, seen in viewers.items():
                if q < position and seen >= horizon:
                    arrival = seen + (position - q) * step
                    if arrival < best:
                        best = arrival
        if best < FAR_S + now:
            return best
        start = self._starts.get(group)
        return best if start is None else now + start[1] + position * step

    def touch(self, key: Key) -> bool:
        self._observe(key, self.clock())
        return key in self._sizes

    def insert(self, key: Key, size: int) -> list[Key]:
        if key in self._sizes or size > self.capacity_bytes:
            return []
        now = self.clock()
        evicted = []
        while self._used + size > self.capacity_bytes:
            victim = self._pick_victim(now)
            self._drop(victim)
            evicted.append(victim)
        self._index[key] = len(self._keys)
        self._keys.append(key)
        self._sizes[key] = size
        self._used += size
        located = self._where[key] = self.locate(key)
        if located is None:
            self._last_seen.setdefault(key, now)
        return evicted

    def _pick_victim(self, now: float) -> Key:
        keys, n = self._keys, len(self._keys)
        victim, farthest = keys[0], -1.0
        rand, next_use = self._random, self.next_use
        for _ in range(min(self.samples, n)):
            key = keys[int(rand() * n)]
            predicted = next_use(key, now)
            if predicted > farthest:
                victim, farthest = key, predicted
        return victim

    def _drop(self, key: Key) -> None:
        i = self._index.pop(key)
        last = self._keys.pop()
        if last != key:
            self._keys[i] = last
            self._index[last] = i
        self._used -= self._sizes.pop(key)
        self._last_seen.pop(key, None)
        self._where.pop(key, None)

    def remove(self, key: Key) -> bool:
        if key not in self._sizes:
            return False
        self._drop(key)
        return True
