"""The default policy: popularity caching, and S3-FIFO or LRU where a sample of the traffic says
one does much better (edge/eviction/adaptive.py)."""

from __future__ import annotations

import random
from collections.abc import Hashable

import pytest

from edge.eviction.adaptive import POLICIES, WINS, AdaptiveCache
from edge.eviction.policy import EvictionPolicy, make_policy
from edge.sim.trace import TraceClock, TraceRequest, replay
from edge.sim.workload import HlsWorkload, generate, locate_object


def _turnover(requests: int, catalog: int, every: int) -> list[TraceRequest]:
    """Zipf requests over a catalog replaced by a new one every `every` requests, ids placed
    in no numbered sequence, sizes 1-100 KB."""
    rng = random.Random(7)
    weights = [1.0 / (rank + 1) ** 0.9 for rank in range(catalog)]
    sizes: dict[int, int] = {}
    out: list[TraceRequest] = []
    for start in range(0, requests, every):
        ids = [
            ((start * catalog // every + i) * 0x9E3779B97F4A7C15) % (1 << 62)
            for i in range(catalog)
        ]
        for k in rng.choices(range(catalog), weights, k=every):
            size = sizes.setdefault(ids[k], rng.randrange(1_000, 100_000))
            out.append(TraceRequest(len(out) // 20, ids[k], size))
    return out


def _byte_miss(
    name: str, requests: list[TraceRequest], capacity: int
) -> tuple[float, EvictionPolicy]:
    clock = TraceClock()
    policy = make_policy(name, capacity, clock=clock, locate=locate_object)
    return replay(policy, requests, clock).byte_miss_ratio, policy


def _footprint(requests: list[TraceRequest]) -> int:
    return sum({r.obj_id: r.size for r in requests}.values())


def test_where_popularity_moves_it_leaves_popularity_caching() -> None:
    """A catalog that turns over: in a small cache S3-FIFO's filter of one-time objects does
    best, in a large one LRU (S3-FIFO's main queue holds the old catalog's proven objects);
    the cache runs whichever its trials say, and in the large cache beats S3-FIFO."""
    requests = _turnover(240_000, 4_000, 30_000)
    for share, best in ((100, "s3fifo"), (10, "lru")):
        capacity = _footprint(requests) // share
        adaptive, cache = _byte_miss("adaptive", requests, capacity)
        popular, _ = _byte_miss("popular", requests, capacity)
        s3fifo, _ = _byte_miss("s3fifo", requests, capacity)
        lru, _ = _byte_miss("lru", requests, capacity)
        assert isinstance(cache, AdaptiveCache)
        assert cache.switches >= 1
        assert cache.running == best
        assert popular > 1.35 * min(s3fifo, lru)  # the loss the switch is for
        assert adaptive < 0.8 * popular
        assert adaptive < 1.05 * s3fifo  # the evidence a switch waits for costs a little
    assert adaptive < s3fifo  # in the large cache, where LRU beats S3-FIFO


def test_on_video_traffic_it_is_popularity_caching() -> None:
    requests = list(generate(HlsWorkload(sessions=3000, seed=3)))
    for share in (100, 10):
        capacity = _footprint(requests) // share
        adaptive, cache = _byte_miss("adaptive", requests, capacity)
        popular, _ = _byte_miss("popular", requests, capacity)
        assert isinstance(cache, AdaptiveCache)
        assert cache.switches == 0
        assert cache.running == "popular"
        assert adaptive == popular  # the same decisions, to the last request


def _after_trials_win(requests: list[TraceRequest], fewer: float) -> str:
    """Replay `requests` (no switch), then WINS windows in which every trial missed `fewer`
    of the sampled bytes fewer than the cache: the policy it then switches to, or "none"."""
    clock = TraceClock()
    cache = AdaptiveCache(_footprint(requests) // 10, clock=clock, locate=locate_object)
    replay(cache, requests, clock)
    assert cache.running == "popular"
    assert cache._kinds  # the trials run
    for _ in range(WINS):
        cache._missed_main = 1000.0
        cache._missed = [1000.0 * (1.0 - fewer)] * len(cache._kinds)
        cache._judge()
    return POLICIES[cache._next] if cache._next >= 0 else "none"


def test_popularity_caching_is_left_sooner_where_requests_follow_no_viewers() -> None:
    """On video traffic popularity caching is left only on clear evidence (20% fewer missed
    bytes); where requests do not walk through segment numbers its viewer model adds nothing,
    and 15% fewer is enough."""
    video = list(generate(HlsWorkload(sessions=1000, seed=5)))
    rng = random.Random(5)
    files = [rng.randrange(1 << 40) for _ in range(5_000)]
    weights = [1.0 / (rank + 1) ** 0.9 for rank in range(len(files))]
    numbered = [
        TraceRequest(i // 20, key, 10_000 + key % 90_000)
        for i, key in enumerate(rng.choices(files, weights, k=60_000))
    ]
    assert _after_trials_win(video, 0.15) == "none"
    assert _after_trials_win(video, 0.25) != "none"
    assert _after_trials_win(numbered, 0.15) != "none"
    assert _after_trials_win(numbered, 0.05) == "none"


def test_the_caller_holds_what_the_policy_holds_through_switches() -> None:
    """What a POP stores (every insert, less every key returned as evicted) is what the
    policy holds, whichever way it switches; nothing over the capacity."""
    rng = random.Random(11)
    capacity = 2_000_000
    cache = AdaptiveCache(capacity, clock=TraceClock(), locate=locate_object)
    stored: dict[Hashable, int] = {}
    switch_at = {15_000: "s3fifo", 30_000: "lru", 45_000: "popular", 60_000: "lru"}
    sizes = {k: rng.randrange(1_000, 60_000) for k in range(3_000)}
    for step in range(75_000):
        if step in switch_at:  # a trial has won: the next insert switches
            cache._next = POLICIES.index(switch_at[step])
        key = rng.randrange(3_000) if rng.random() < 0.7 else rng.randrange(300)
        if step % 997 == 0 and key in stored:
            assert cache.remove(key)
            del stored[key]
            continue
        if cache.touch(key):
            assert key in stored
            continue
        assert key not in cache
        for gone in cache.insert(key, sizes[key]):
            del stored[gone]
        if key in cache:
            stored[key] = sizes[key]
        assert cache.used_bytes <= capacity
        assert cache.used_bytes == sum(stored.values())
    assert cache.switches == 4
    assert cache.running == "lru"
    assert set(stored) == {k for k in sizes if k in cache}


@pytest.mark.parametrize("to", ["s3fifo", "lru"])
def test_a_switch_keeps_what_the_cache_held(to: str) -> None:
    """The policy switched to takes the cached objects: a switch does not empty the cache (a
    POP would delete what it stored and ask its upstream for all of it again)."""
    rng = random.Random(5)
    cache = AdaptiveCache(2_000_000, clock=TraceClock(), locate=locate_object)
    for _ in range(20_000):
        key = rng.randrange(3_000)
        if not cache.touch(key):
            cache.insert(key, rng.randrange(1_000, 60_000))
    held = {key for key in range(3_000) if key in cache}
    cache._next = POLICIES.index(to)  # a trial has won: the next insert switches
    evicted = cache.insert(10_000, 30_000)
    assert cache.running == to
    kept = {key for key in held if key in cache}
    assert kept == held - set(evicted)
    assert len(kept) >= 0.9 * len(held)  # the newcomer's room, and no more


def test_misses_answered_together_are_all_counted() -> None:
    """A POP answers many misses at once: touch a, touch b, insert a, insert b. Each sampled
    miss is still counted, with the size its insert brings."""
    cache = AdaptiveCache(64 * 1000, clock=TraceClock(), locate=locate_object)
    key = 0
    while True:  # fill it: at the first eviction the trial starts (every key sampled)
        assert not cache.touch(key)
        if cache.insert(key, 1000):
            break
        key += 1
    counted = cache._sampled
    first, second = key + 1, key + 2
    assert not cache.touch(first)
    assert not cache.touch(second)
    cache.insert(first, 1000)
    cache.insert(second, 1000)
    assert cache._sampled == counted + 2
    assert cache.touch(first)  # a hit on a key whose size is known: counted too
    assert cache._sampled == counted + 3


def test_a_cache_of_a_few_objects_does_as_well_as_lru() -> None:
    """Where a cache holds only a few objects, each is over a tenth of it: the default policy
    still keeps what fits (refusing such objects, as S3-FIFO does, leaves the cache empty)."""
    rng = random.Random(3)
    weights = [1.0 / (rank + 1) ** 0.9 for rank in range(300)]
    requests = [
        TraceRequest(t, (k + 1) * 7919, 4096)
        for t, k in enumerate(rng.choices(range(300), weights, k=20_000))
    ]
    for objects in (3, 6):
        lru, _ = _byte_miss("lru", requests, objects * 4096)
        ours, _ = _byte_miss("adaptive", requests, objects * 4096)
        s3fifo, _ = _byte_miss("s3fifo", requests, objects * 4096)
        assert s3fifo == 1.0  # (every object is over its small queue's tenth)
        assert ours <= 0.95 * lru
