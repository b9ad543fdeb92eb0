"""The popularity oracles keep what is asked for most, and the informed model starts from the
whole trace's counts."""

from __future__ import annotations

from collections import Counter

from edge.eviction.interval import locate_url
from edge.eviction.popularity import PopularityCache
from edge.sim.bounds import CountOracle, count_oracle
from edge.sim.trace import TraceClock, TraceRequest

SIZE = 100


def requests(ids: list[int]) -> list[TraceRequest]:
    return [TraceRequest(t, obj, SIZE) for t, obj in enumerate(ids)]


def test_the_count_oracle_keeps_the_most_requested() -> None:
    """Room for two: 1 and 2 are asked for three times, 3-6 once each, in between. LRU would
    let the one-offs push 1 and 2 out; the oracle never stores them and misses each first
    request only."""
    trace = requests([1, 2, 3, 1, 4, 2, 5, 1, 6, 2])
    result = count_oracle(trace, 2 * SIZE)
    assert result.misses == 2 + 4
    oracle = CountOracle(2 * SIZE, Counter(r.obj_id for r in trace))
    for r in trace:
        if not oracle.touch(r.obj_id):
            oracle.insert(r.obj_id, r.size)
        assert oracle.used_bytes <= 2 * SIZE
    assert [obj for obj in range(1, 7) if obj in oracle] == [1, 2]


def test_the_count_oracle_evicts_the_first_stored_among_equals() -> None:
    oracle = CountOracle(2 * SIZE, Counter({1: 2, 2: 2, 3: 2}))
    oracle.insert(1, SIZE)
    oracle.insert(2, SIZE)
    assert oracle.touch(1)
    assert oracle.insert(3, SIZE) == [1]
    assert [obj for obj in (1, 2, 3) if obj in oracle] == [2, 3]
    assert not oracle.remove(1)
    assert oracle.insert(1, SIZE) == [2]  # stored again: the newest of its count
    assert oracle.insert(4, 3 * SIZE) == []  # larger than the cache
    assert (len(oracle), oracle.used_bytes) == (2, 2 * SIZE)


def test_a_learnt_model_scores_before_the_first_request() -> None:
    """Learnt from a log in which video A's segment was asked for four times and B's once, the
    model scores A's above B's before either is requested again, and caches nothing."""
    clock = TraceClock()
    policy = PopularityCache(10 * SIZE, clock=clock, locate=locate_url)
    a, b = ("/vod/A/720p/1.m4s", ()), ("/vod/B/720p/1.m4s", ())
    policy.learn([a, a, a, a, b])
    assert (len(policy), policy.used_bytes) == (0, 0)
    assert policy.score(a) == 4 * policy.score(b)
