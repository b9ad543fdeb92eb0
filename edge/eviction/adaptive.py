"""Popularity caching where it wins, S3-FIFO where it does not (pure): the default policy.

Popularity caching (edge/eviction/popularity.py) keeps the segments of the most-watched videos
and wins on a video POP's traffic, where most segments are asked for once and a reuse comes
hours later from another viewer of the same video. Where popularity moves (news, a feed, a
catalog that turns over) it can lose badly: its counts keep what was popular, up to several
times LRU's byte misses. S3-FIFO does not; which of the two does better on a POP's traffic is
not known in advance, so the one not running is tried on a sample of it, as set dueling does
in CPU caches. Once the cache is first full, one key in 2**bits (by a hash of the key, at most
one in `SAMPLE`, chosen so that the trial holds about `TRIAL_OBJECTS` objects) is also replayed
through a trial cache of 1/2**bits of the capacity: a sampled cache of a sampled stream misses
about as the whole cache does on the whole stream (SHARDS, Waldspurger et al., FAST '15). The
trial is compared with the cache itself on the same sampled requests, so that popularity
caching is judged by what it does on all the traffic (a sample would cut its viewers' walks).
When the trial has missed `TO_S3FIFO` fewer of the sampled bytes than popularity caching in
`WINS` windows of `EVIDENCE` sampled requests in a row, the cache switches to S3-FIFO; it
switches back when a trial of popularity caching misses `TO_POPULAR` fewer than S3-FIFO (the
video policy is the one to leave only on clear evidence). Each switch doubles the window (up
to `BACKOFF` times), so that traffic between the two cannot make the cache swing. At a switch
popularity caching takes S3-FIFO's objects (it evicts by its own scores whatever it holds);
S3-FIFO starts empty, since its main queue, which gives up an object only when one it has
proven comes in, would keep what it was handed for good. The trial starts with the sampled
part of what the cache held.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Final

from edge.eviction.popularity import Locate, PopularityCache
from edge.eviction.s3fifo import S3FIFO

Key = Hashable
Policy = PopularityCache | S3FIFO

SAMPLE_BITS: Final = 4
SAMPLE: Final = 1 << SAMPLE_BITS  # at most one key in 16 is sampled
# a key's hash modulo a prime, times a constant modulo the same prime, scatters neighbouring
# hashes (a video's segment numbers) over the residues (Knuth's golden-ratio multiplier
# 2 654 435 761, reduced modulo the prime: the same residues, with factors small enough for
# compiled code to multiply in a machine word)
PRIME: Final = 1_000_003
SCATTER: Final = 427_799
EVIDENCE: Final = 2048  # sampled requests a window (doubled at each switch, BACKOFF times)
TO_S3FIFO: Final = 0.20  # leave popularity caching when the trial missed 20% fewer bytes
TO_POPULAR: Final = 0.05  # and come back when it missed 5% fewer
TRIAL_OBJECTS: Final = 128  # about this many objects in the trial (fewer: it says little)
WINS: Final = 2  # windows in a row the trial must win before a switch
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
        self.popular = True  # is the cache running popularity caching (else S3-FIFO)?
        self.switches = 0
        # sampled: 1/2**bits of the keys, chosen when the cache is first full (-1 till then)
        self._bits = -1
        self._below = -1  # sampled: sample_mark(key) < this (none till the cache is full)
        self._trial: Policy = self._make(False, 1)
        self._sizes: dict[Key, int] = {}  # of sampled keys in the cache or the trial
        # sampled keys missed whose sizes come with their inserts (a POP answers many misses
        # at once), and whether the trial had them
        self._pending: dict[Key, bool] = {}
        self._missed_main = 0.0  # sampled bytes missed in this window
        self._missed_trial = 0.0
        self._sampled = 0  # sampled requests in this window
        self._won = 0  # windows in a row the trial has won
        self._marked: Key = None  # the key touch() last missed, and its sample mark
        self._mark = -1

    def _make(self, popular: bool, capacity_bytes: int) -> Policy:
        if popular:
            return PopularityCache(capacity_bytes, clock=self._clock, locate=self._locate)
        return S3FIFO(capacity_bytes)

    def _trial_capacity(self) -> int:
        return max(self.capacity_bytes >> self._bits, 1)

    def _start_trial(self) -> None:
        """The cache is full for the first time: sample so that the trial holds about
        TRIAL_OBJECTS objects (all of them for a small cache), at most one key in SAMPLE."""
        ratio = len(self._main) // TRIAL_OBJECTS
        self._bits = min(max(ratio.bit_length() - 1, 0), SAMPLE_BITS)
        self._below = PRIME >> self._bits
        self._trial = self._make(not self.popular, self._trial_capacity())
        for key, size in self._main.contents():  # the trial starts with the sampled cached
            if sample_mark(key) < self._below:
                self._sizes[key] = size
                self._trial.insert(key, size)
                self._trial.touch(key)

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
            trial_hit = self._trial.touch(key)
            size = self._sizes.get(key)
            if size is not None:
                self._tried(key, size, hit, trial_hit)
            elif not hit:  # its size comes with the insert that follows
                if len(self._pending) >= PENDING_MAX:  # inserts that never came
                    self._pending.clear()
                self._pending[key] = trial_hit
        return hit

    def insert(self, key: Key, size: int) -> list[Key]:
        mark = self._mark if key is self._marked else sample_mark(key)
        self._marked = None
        sampled = mark < self._below
        if sampled:
            trial_hit = self._pending.get(key)
            if trial_hit is not None:
                del self._pending[key]
                self._tried(key, size, False, trial_hit)
        pop = self._pop
        if self._won >= WINS:
            evicted = self._switch()
            evicted += self._main.insert(key, size)
        elif pop is not None:
            evicted = pop.insert(key, size)
        else:
            evicted = self._main.insert(key, size)
        if sampled and (key in self._main or key in self._trial):
            self._sizes[key] = size  # its hits are counted from now on
        if evicted:
            if self._bits < 0:
                self._start_trial()
            self._forget(evicted, self._trial)
        return evicted

    def remove(self, key: Key) -> bool:
        if sample_mark(key) < self._below:
            self._trial.remove(key)
            self._sizes.pop(key, None)
        return self._main.remove(key)

    def _tried(self, key: Key, size: int, hit: bool, trial_hit: bool) -> None:
        """A sampled request, and how the cache and the trial did on it."""
        if not hit:
            self._missed_main += size
        if not trial_hit:
            self._missed_trial += size
            self._forget(self._trial.insert(key, size), self._main)
        self._sampled += 1
        if self._sampled >= EVIDENCE << min(self.switches, BACKOFF):
            margin = TO_S3FIFO if self.popular else TO_POPULAR
            won = self._missed_trial < self._missed_main * (1.0 - margin)
            self._won = self._won + 1 if won else 0
            self._sampled = 0
            self._missed_main = self._missed_trial = 0.0

    def _forget(self, evicted: list[Key], other: Policy) -> None:
        """Sizes of sampled keys neither cache holds any more are forgotten."""
        sizes = self._sizes
        for key in evicted:
            if key in sizes and key not in other:
                del sizes[key]

    def _switch(self) -> list[Key]:
        """Run the other policy and try the one left behind; the keys evicted. Popularity
        caching takes the cached objects, least valuable first (it evicts by its own scores
        whatever it holds); S3-FIFO starts empty, since its main queue, which gives up an
        object only when one it has proven comes, would hold what it was handed for good."""
        old = self._main
        new = self._make(not self.popular, self.capacity_bytes)
        trial = self._make(self.popular, self._trial_capacity())
        dropped: list[Key] = []
        for key, size in old.contents():
            if self.popular:
                dropped.append(key)
            else:
                dropped += new.insert(key, size)
                if not new.touch(key):
                    dropped.append(key)
            if key in self._sizes:
                trial.insert(key, size)
                trial.touch(key)
        self._main, self._trial = new, trial
        self._pop = new if isinstance(new, PopularityCache) else None
        self.popular = not self.popular
        self.switches += 1
        self._sampled = self._won = 0
        self._missed_main = self._missed_trial = 0.0
        self._sizes = {k: v for k, v in self._sizes.items() if k in new or k in trial}
        return dropped
