"""A replay runs the cyclic collector less often: that loses nothing only while no policy
makes reference cycles as it replays, which is checked here for every policy."""

from __future__ import annotations

import gc

import pytest

from edge.eviction.policy import POLICIES, make_policy
from edge.sim.trace import REPLAY_COLLECT_EVERY, TraceClock, TraceRequest, replay
from edge.sim.workload import HlsWorkload, generate, locate_object

REQUESTS = list(generate(HlsWorkload(sessions=400, seed=7)))
FOOTPRINT = sum({r.obj_id: r.size for r in REQUESTS}.values())


@pytest.mark.parametrize("fraction", [0.01, 0.1])
@pytest.mark.parametrize("name", POLICIES)
def test_no_policy_leaves_cycles_behind_as_it_replays(name: str, fraction: float) -> None:
    clock = TraceClock()
    policy = make_policy(name, int(FOOTPRINT * fraction), clock=clock, locate=locate_object)
    gc.collect()
    gc.disable()
    try:
        result = replay(policy, REQUESTS, clock)
        unreachable = gc.collect()  # the policy still alive: only garbage of its replay
    finally:
        gc.enable()
    assert result.misses > len(policy) > 0  # it evicted, and it holds objects
    assert unreachable == 0


class _Failing:
    """A policy that fails on its third request."""

    name = "failing"
    capacity_bytes = 1

    def __init__(self) -> None:
        self.seen = 0
        self.thresholds_seen: tuple[int, int, int] | None = None

    def touch(self, key: object) -> bool:
        self.seen += 1
        self.thresholds_seen = gc.get_threshold()
        if self.seen == 3:
            raise RuntimeError("broken policy")
        return True

    def insert(self, key: object, size: int) -> list[object]:
        return []


def test_the_collector_is_set_back_after_a_replay_even_one_that_fails() -> None:
    before = gc.get_threshold()
    requests = [TraceRequest(t, t, 10) for t in range(5)]
    policy = _Failing()
    with pytest.raises(RuntimeError):
        replay(policy, requests)  # type: ignore[arg-type]
    assert policy.thresholds_seen is not None
    assert policy.thresholds_seen[0] == max(before[0], REPLAY_COLLECT_EVERY)
    assert gc.get_threshold() == before
    done = replay(make_policy("lru", 100), requests)
    assert done.requests == 5
    assert gc.get_threshold() == before


class _Nested:
    """A policy whose first request runs another replay and changes the thresholds, as a
    replay in another thread, started and ended within this one, would."""

    name = "nested"
    capacity_bytes = 1

    def __init__(self) -> None:
        self.ran = False

    def touch(self, key: object) -> bool:
        if not self.ran:
            self.ran = True
            replay(make_policy("lru", 100), [TraceRequest(0, 1, 10)])
            gc.set_threshold(REPLAY_COLLECT_EVERY + 1)  # someone else's setting, kept
        return True

    def insert(self, key: object, size: int) -> list[object]:
        return []


def test_a_threshold_changed_during_a_replay_is_left_as_it_was_changed() -> None:
    before = gc.get_threshold()
    try:
        replay(_Nested(), [TraceRequest(t, t, 10) for t in range(3)])  # type: ignore[arg-type]
        assert gc.get_threshold()[0] == REPLAY_COLLECT_EVERY + 1
    finally:
        gc.set_threshold(*before)
