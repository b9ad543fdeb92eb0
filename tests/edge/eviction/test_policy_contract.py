"""What every eviction policy promises the code that drives it: asking whether an object is
held (`in`) says what `touch` would (the simulator asks its upstream before its policy on a
miss, and serves a held object without one), over viewers' walks through segments mixed with
objects no viewer walks to, in a cache that evicts all the time."""

from __future__ import annotations

import random

import pytest

from edge.eviction.policy import POLICIES, make_policy
from edge.sim.trace import TraceClock
from edge.sim.workload import locate_object, object_id


@pytest.mark.parametrize("policy", POLICIES)
def test_holding_an_object_is_what_touch_says(policy: str) -> None:
    rng = random.Random(3)
    clock = TraceClock()
    cache = make_policy(policy, 200_000, clock=clock, locate=locate_object)
    evicted = 0
    for i in range(30_000):
        clock.now = i / 10
        if rng.random() < 0.8:
            video = int(rng.paretovariate(1.0)) % 300
            key = object_id(video, rng.randrange(3), rng.randrange(40))
        else:
            key = rng.randrange(1 << 40)
        held = key in cache
        assert cache.touch(key) == held, (i, key)
        if not held:
            evicted += len(cache.insert(key, rng.randrange(500, 20_000)))
    assert evicted > 10_000  # (the cache turned over many times)
