"""Popularity caching where it wins, S3-FIFO or LRU where they do much better (pure): the
default policy.

Popularity caching (edge/eviction/popularity.py) keeps the segments of the most-watched videos
and wins on a video POP's traffic, where most segments are asked for once and a reuse comes
hours later from another viewer of the same video. Where popularity moves (news, a feed, a
catalog that turns over) it can lose badly: its counts keep what was popular, up to several
times LRU's byte misses. S3-FIFO and LRU do not, and which of them does better depends on the
traffic and the cache's size: S3-FIFO's filter of objects asked for once wins in a small cache,
while in a large one its main queue holds yesterday's proven objects where LRU lets them go.
Which does best on a POP's traffic is not known in advance, so the policies not running are
tried on a sample of it, as set dueling does in CPU caches. Once the cache is first full, one
key in 2**bits (by a hash of the key, at most one in `SAMPLE`, chosen so that a trial holds
about `TRIAL_OBJECTS` objects) is also replayed through a trial cache of each other policy, of
1/2**bits of the capacity: a sampled cache of a sampled stream misses about as the whole cache
does on the whole stream (SHARDS, Waldspurger et al., FAST '15). Each trial is compared with the
cache itself on the same sampled requests, so that popularity caching is judged by what it does
on all the traffic (a sample would cut its viewers' walks). When a trial has missed
`LEAVE_POPULAR` fewer of the sampled bytes than popularity caching in `WINS` windows of
`EVIDENCE` sampled requests in a row (as many times fewer as the sample is sparser than one key
in 2**`WINDOW_BITS`, so that a window spans as many of the cache's requests: a large cache's
trials hold enough objects with a sparser sample, and cost a quarter as much), the cache
switches to that policy; from S3-FIFO or LRU it switches on `SWITCH` fewer (the video policy is
the one to leave only on clear evidence). Where requests do not follow viewers through segment
numbers (the viewer model's `sequential` share under `SEQUENTIAL_MIN`: block traces, hashed or
numbered ids), its model adds nothing and it is left on `LEAVE_UNGUIDED` fewer. Each switch
doubles the window (up to `BACKOFF` times), so that traffic between two policies cannot
make the cache swing. At a switch the new policy takes the cached objects, the first to go
first, as if each had been stored and asked for once in that order (popularity caching evicts by
its own scores whatever it holds; S3-FIFO takes them as it takes a new cache's first objects, a
tenth in its small queue and the rest in its main one, which they leave as proven objects come
in). The trial of the policy left starts with the sampled part of what the cache held;
the other trials go on.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Final

from edge.eviction.popularity import SEQUENTIAL_MIN, Locate, PopularityCache
from edge.eviction.queues import LRU
from edge.eviction.s3fifo import S3FIFO

Key = Hashable
Policy = PopularityCache | S3FIFO | LRU
POLICIES: Final = ("popular", "s3fifo", "lru")  # what the cache may run, by number
POPULAR: Final = 0
S3: Final = 1

SAMPLE_BITS: Final = 6
SAMPLE: Final = 1 << SAMPLE_BITS  # at most one key in 64 is sampled
# a key's hash modulo a prime, times a constant modulo the same prime, scatters neighbouring
# hashes (a video's segment numbers) over the residues (Knuth's golden-ratio multiplier
# 2 654 435 761, reduced modulo the prime: the same residues, with factors small enough for
# compiled code to multiply in a machine word)
PRIME: Final = 1_000_003
SCATTER: Final = 427_799
EVIDENCE: Final = 2048  # sampled requests a window (doubled at each switch, BACKOFF times)
WINDOW_BITS: Final = 4  # ... sampling one key in 16 or more; half as many each bit past it
LEAVE_POPULAR: Final = 0.20  # leave popularity caching when a trial missed 20% fewer bytes
LEAVE_UNGUIDED: Final = 0.10  # ... 10% fewer, where requests do not follow viewers
SWITCH: Final = 0.05  # leave S3-FIFO or LRU when a trial missed 5% fewer
TRIAL_OBJECTS: Final = 128  # about this many objects in a trial (fewer: it says little)
WINS: Final = 2  # windows in a row a trial must win before a switch
PENDING_MAX: Final = 4096  # sampled misses awaiting their inserts
BACKOFF: Final = 3  # each switch doubles the evidence the next one needs, up to 8 times


def sample_mark(key: Key) -> int:
    """A number in [0, PRIME) for `key`: it is sampled when the number is below a threshold
    (PRIME >> bits for one key in 2**bits)."""
    return (hash(key) % PRIME) * SCATTER % PRIME


class AdaptiveCache:
    name = "adaptive"

    def __init__(self, capacity_bytes: int, *, clock: Callable[[], float], locate: Locate) -> None:
        self.capacity_bytes = capacity_bytes
        self._clock = clock
        self._locate = locate
        popular = PopularityCache(capacity_bytes, clock=clock, locate=locate)
        self._main: Policy = popular
        self._pop: PopularityCache | None = popular  # the same, while it runs (a native call)
        self._running = POPULAR  # which of POLICIES the cache runs
        self.switches = 0
        # sampled: 1/2**bits of the keys, chosen when the cache is first full (-1 till then)
        self._bits = -1
        self._below = -1  # sampled: sample_mark(key) < this (none till the cache is full)
        self._kinds: list[int] = []  # the policies tried, and their trials
        self._trials: list[Policy] = []
        self._sizes: dict[Key, int] = {}  # of sampled keys in the cache or a trial
        # sampled keys missed whose sizes come with their inserts (a POP answers many misses
        # at once), and which trials had them (bit i: trial i)
        self._pending: dict[Key, int] = {}
        self._missed_main = 0.0  # sampled bytes missed in this window
        self._missed: list[float] = []  # by each trial
        self._won: list[int] = []  # windows in a row each trial has won
        self._next = -1  # the policy to switch to at the next insert (-1: none)
        self._sampled = 0  # sampled requests in this window
        self._marked: Key = None  # the key touch() last missed, and its sample mark
        self._mark = -1

    @property
    def running(self) -> str:
        """The policy the cache runs now."""
        return POLICIES[self._running]

    def _make(self, kind: int, capacity_bytes: int) -> Policy:
        if kind == POPULAR:
            return PopularityCache(capacity_bytes, clock=self._clock, locate=self._locate)
        if kind == S3:
            return S3FIFO(capacity_bytes)
        return LRU(capacity_bytes)

    def _trial_of(self, kind: int, contents: list[tuple[Key, int]]) -> Policy:
        """A trial of `kind` holding the sampled part of `contents`, the first to go first."""
        trial = self._make(kind, max(self.capacity_bytes >> self._bits, 1))
        sizes = self._sizes
        for key, size in contents:
            if key in sizes:
                trial.insert(key, size)
                trial.touch(key)
        return trial

    def _try_all_but(self, running: int) -> None:
        self._kinds = [kind for kind in range(len(POLICIES)) if kind != running]
        self._missed = [0.0] * len(self._kinds)
        self._won = [0] * len(self._kinds)
        self._missed_main = 0.0
        self._sampled = 0
        self._next = -1

    def _start_trial(self) -> None:
        """The cache is full for the first time: sample so that a trial holds about
        TRIAL_OBJECTS objects (all of them for a small cache), at most one key in SAMPLE."""
        ratio = len(self._main) // TRIAL_OBJECTS
        self._bits = min(max(ratio.bit_length() - 1, 0), SAMPLE_BITS)
        self._below = PRIME >> self._bits
        contents = self._main.contents()
        for key, size in contents:  # the trials start with the sampled cached
            if sample_mark(key) < self._below:
                self._sizes[key] = size
        self._try_all_but(self._running)
        self._trials = [self._trial_of(kind, contents) for kind in self._kinds]

    @property
    def used_bytes(self) -> int:
        return self._main.used_bytes

    def __contains__(self, key: object) -> bool:
        return key in self._main

    def __len__(self) -> int:
        return len(self._main)

    def touch(self, key: Key) -> bool:
        pop = self._pop
        hit = pop.touch(key) if pop is not None else self._main.touch(key)
        if self._below < 0:
            return hit
        mark = sample_mark(key)
        if not hit:  # for the insert that follows
            self._marked, self._mark = key, mark
        if mark < self._below:
            trial_hits = 0
            bit = 1
            for trial in self._trials:
                if trial.touch(key):
                    trial_hits |= bit
                bit <<= 1
            size = self._sizes.get(key)
            if size is not None:
                self._tried(key, size, hit, trial_hits)
            elif not hit:  # its size comes with the insert that follows
                if len(self._pending) >= PENDING_MAX:  # inserts that never came
                    self._pending.clear()
                self._pending[key] = trial_hits
        return hit

    def insert(self, key: Key, size: int) -> list[Key]:
        mark = self._mark if key is self._marked else sample_mark(key)
        self._marked = None
        sampled = mark < self._below
        if sampled:
            trial_hits = self._pending.get(key)
            if trial_hits is not None:
                del self._pending[key]
                self._tried(key, size, False, trial_hits)
        pop = self._pop
        if self._next >= 0:
            evicted = self._switch(self._next)
            evicted += self._main.insert(key, size)
        elif pop is not None:
            evicted = pop.insert(key, size)
        else:
            evicted = self._main.insert(key, size)
        if sampled and self._holds(key):
            self._sizes[key] = size  # its hits are counted from now on
        if evicted:
            if self._bits < 0:
                self._start_trial()
            self._forget(evicted)
        return evicted

    def remove(self, key: Key) -> bool:
        if sample_mark(key) < self._below:
            for trial in self._trials:
                trial.remove(key)
            self._sizes.pop(key, None)
        return self._main.remove(key)

    def _tried(self, key: Key, size: int, hit: bool, trial_hits: int) -> None:
        """A sampled request, and how the cache and each trial did on it."""
        if not hit:
            self._missed_main += size
        bit = 1
        for i, trial in enumerate(self._trials):
            if not trial_hits & bit:
                self._missed[i] += size
                self._forget(trial.insert(key, size))
            bit <<= 1
        self._sampled += 1
        window = EVIDENCE >> max(self._bits - WINDOW_BITS, 0)
        if self._sampled >= window << min(self.switches, BACKOFF):
            self._judge()

    def _judge(self) -> None:
        """The end of a window: a trial that has won WINS windows in a row (the one that
        missed least in this one, if several have) is run from the next insert."""
        pop = self._pop
        if pop is None:
            margin = SWITCH
        elif pop.guide.viewers.sequential >= SEQUENTIAL_MIN:
            margin = LEAVE_POPULAR
        else:
            margin = LEAVE_UNGUIDED
        bar = self._missed_main * (1.0 - margin)
        best = -1.0
        for i, missed in enumerate(self._missed):
            self._won[i] = self._won[i] + 1 if missed < bar else 0
            if self._won[i] >= WINS and (best < 0 or missed < best):
                best = missed
                self._next = self._kinds[i]
            self._missed[i] = 0.0
        self._sampled = 0
        self._missed_main = 0.0

    def _forget(self, evicted: list[Key]) -> None:
        """Sizes of sampled keys no cache holds any more are forgotten."""
        sizes = self._sizes
        for key in evicted:
            if key in sizes and not self._holds(key):
                del sizes[key]

    def _holds(self, key: Key) -> bool:
        """Whether the cache or a trial holds `key`."""
        if key in self._main:
            return True
        for trial in self._trials:  # noqa: SIM110 (compiled, any() makes a generator a call)
            if key in trial:
                return True
        return False

    def _switch(self, kind: int) -> list[Key]:
        """Run policy `kind`, whose trial is dropped, and try the one left behind; the keys
        evicted. The new policy takes the cached objects, the first to go first: a cache that
        started empty would miss again what it held."""
        old, left = self._main, self._running
        new = self._make(kind, self.capacity_bytes)
        contents = old.contents()
        dropped: list[Key] = []
        for key, size in contents:
            dropped += new.insert(key, size)
            if not new.touch(key):
                dropped.append(key)
        trials = dict(zip(self._kinds, self._trials, strict=True))
        self._main = new
        self._pop = new if isinstance(new, PopularityCache) else None
        self._running = kind
        self.switches += 1
        self._try_all_but(kind)
        trials[left] = self._trial_of(left, contents)
        self._trials = [trials[k] for k in self._kinds]
        self._sizes = {k: v for k, v in self._sizes.items() if self._holds(k)}
        return dropped
