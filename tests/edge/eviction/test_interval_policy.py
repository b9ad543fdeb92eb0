"""The interval policy: predictions from trailing viewers, and a lower byte miss ratio than
LRU on an HLS-shaped trace."""

from __future__ import annotations

import random

from edge.eviction.interval import (
    FAR_S,
    MAX_VIEWERS,
    STALE_VIEWER_STEPS,
    IntervalCache,
    locate_url,
)
from edge.eviction.policy import make_policy
from edge.sim.trace import TraceClock, replay
from edge.sim.workload import HlsWorkload, generate, locate_object
from tests.support.clock import FakeClock


def test_locate_url() -> None:
    assert locate_url(("/vod/a/720p/12.m4s", ())) == (("/vod/a/720p/", ()), 12)
    assert locate_url(("/vod/a/720p/12.m4s?token=1", ("gzip",))) == (
        ("/vod/a/720p/", ("gzip",)),
        12,
    )
    assert locate_url(("/vod/a/720p/index.m3u8", ())) is None
    assert locate_url(("/vod/a/720p/init.mp4", ())) is None


def test_a_trailing_viewer_protects_the_segment_it_will_need() -> None:
    clock = FakeClock(0.0)
    cache = IntervalCache(3 * 100, clock=clock)
    ahead, lonely = ("/v/a/360p/5.m4s", ()), ("/v/b/360p/5.m4s", ())
    for key in (ahead, lonely):
        cache.touch(key)
        cache.insert(key, 100)
    clock.advance(4)
    cache.touch(("/v/a/360p/3.m4s", ()))  # a viewer two segments behind `ahead`
    assert cache.next_use(ahead, clock.now) < cache.next_use(lonely, clock.now)
    filler = ("/v/c/360p/0.m4s", ())
    cache.touch(filler)
    cache.insert(filler, 100)
    other = ("/v/d/360p/0.m4s", ())
    cache.touch(other)
    evicted = cache.insert(other, 100)
    assert ahead in cache
    assert evicted != [ahead]


def test_beats_lru_on_an_hls_trace() -> None:
    requests = list(generate(HlsWorkload(sessions=1500, videos=300, seed=3)))
    footprint = sum({r.obj_id: r.size for r in requests}.values())
    capacity = footprint // 10
    lru = replay(make_policy("lru", capacity), requests)
    clock = TraceClock()
    interval = replay(
        make_policy("interval", capacity, clock=clock, locate=locate_object), requests, clock
    )
    assert interval.byte_miss_ratio < lru.byte_miss_ratio * 0.95


def test_the_viewer_table_follows_a_dict_of_positions() -> None:
    """Random walks with jumps, viewers meeting at one position, and stopped viewers pruned:
    the lists and their index say what a dict of position → last request says, and a wait
    is the nearest live viewer's behind, as computed from that dict."""
    rng = random.Random(7)
    cache = IntervalCache(0, clock=lambda: 0.0)
    group = cache.group_at("video")
    model: dict[int, float] = {}
    step = group.step
    now = 0.0
    merged = pruned = 0
    for _ in range(20_000):
        now += rng.expovariate(4.0)
        position = rng.choice([rng.randrange(40), *[q + 1 for q in list(model)[-3:]]])
        previous = model.pop(position - 1, None)
        if previous is not None:
            step = 0.8 * step + 0.2 * (now - previous)
            merged += position in model
        model[position] = now
        horizon = now - STALE_VIEWER_STEPS * step
        if len(model) > MAX_VIEWERS and min(model.values()) < horizon:
            stale = [q for q, seen in model.items() if seen < horizon]
            pruned += len(stale)
            for q in stale:
                del model[q]
        cache.observe_in(group, position, now)
        assert dict(zip(group.positions, group.seen, strict=True)) == model
        assert group.index == {q: i for i, q in enumerate(group.positions)}
        assert group.step == step
        target = rng.randrange(45)
        since = now - group.last_start
        start = (max(group.gap, since) if group.started else FAR_S) + target * step
        live = [
            seen - now + (target - q) * step
            for q, seen in model.items()
            if q < target and seen >= now - STALE_VIEWER_STEPS * step
        ]
        assert cache.wait_in(group, target, now) == min([start, *live])
    assert merged > 100
    assert pruned > 30
