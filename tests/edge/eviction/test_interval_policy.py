"""The interval policy: predictions from trailing viewers, and a lower byte miss ratio than
LRU on an HLS-shaped trace."""

from __future__ import annotations

from edge.eviction.interval import IntervalCache, locate_url
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
