"""The popularity policy keeps the segments of the videos many viewers watch, learns from every
request (misses too, in the POP's store) and forgets in halvings."""

from __future__ import annotations

import pytest

from edge.eviction.fifo import PASSED_KEPT, Fifo
from edge.eviction.interval import locate_url
from edge.eviction.placed import MAIN, Placed
from edge.eviction.policy import EvictionPolicy, make_policy
from edge.eviction.popularity import PROBATION_MIN, SEQ_LIMIT, PopularityCache
from edge.eviction.tallies import split_group
from edge.pop.store import ResponseStore
from edge.sim.trace import TraceClock

SIZE = 100
HOUR = 3600.0


def watch(
    cache: EvictionPolicy, clock: TraceClock, video: str, start: float, segments: int = 10
) -> int:
    """One viewer plays the first `segments` of `video`'s 720p rendition, 4 s apart; its hits."""
    hits = 0
    for n in range(segments):
        clock.now = start + 4.0 * n
        key = (f"/vod/{video}/720p/{n}.m4s", ())
        if cache.touch(key):
            hits += 1
        else:
            cache.insert(key, SIZE)
    return hits


def test_a_watched_videos_segments_outlast_a_lone_viewers() -> None:
    """Four viewers, an hour apart, watch video A; then one watches B, which the cache (forty
    segments) cannot hold with A. LRU gives A up for B; the popularity policy keeps A but for
    the places its probation area takes (B's newest segments, in case they are asked for
    again: PROBATION_MIN of them in a cache this small)."""
    kept = {}
    for name in ("lru", "popular"):
        clock = TraceClock()
        cache = make_policy(name, 40 * SIZE, clock=clock, locate=locate_url)
        for viewer in range(4):
            watch(cache, clock, "A", viewer * HOUR, segments=40)
        watch(cache, clock, "B", 5 * HOUR, segments=40)
        kept[name] = sum((f"/vod/A/720p/{n}.m4s", ()) in cache for n in range(40))
        assert cache.used_bytes <= 40 * SIZE
    assert kept == {"lru": 0, "popular": 40 - PROBATION_MIN}
    clock = TraceClock()
    cache = make_policy("popular", 10 * SIZE, clock=clock, locate=locate_url)
    assert sum(watch(cache, clock, "A", viewer * HOUR) for viewer in range(4)) == 30


def test_the_pop_store_counts_misses_in_the_policy() -> None:
    """Requests nothing answers count in the model: a segment asked for three times before it
    is stored is worth three times one asked for once."""
    clock = TraceClock()
    policy = PopularityCache(10 * SIZE, clock=clock, locate=locate_url)
    store: ResponseStore[object] = ResponseStore(policy)  # type: ignore[type-var]
    for _ in range(3):
        store.missed("/vod/A/720p/1.m4s", {})
    store.missed("/vod/B/720p/1.m4s", {})
    a = policy.score(("/vod/A/720p/1.m4s", ()))
    b = policy.score(("/vod/B/720p/1.m4s", ()))
    assert a == 3 * b


def test_halving_keeps_the_ratios_and_forgets_what_is_no_longer_watched() -> None:
    clock = TraceClock()
    cache = PopularityCache(10 * SIZE, clock=clock, locate=locate_url, halve_every=30)
    watch(cache, clock, "A", 0.0)
    watch(cache, clock, "A", HOUR)  # 20 requests of 10 objects: 2 per object
    assert cache.score(("/vod/A/720p/3.m4s", ())) == 2.0
    for viewer in range(4):  # halved at the 30th request (15 of 5) and the 60th (45 of 15)
        watch(cache, clock, "A", (2 + viewer) * HOUR)
    assert cache.score(("/vod/A/720p/3.m4s", ())) == 3.0
    for viewer in range(4):  # at the 90th request A, unwatched since, is worth half: 1.5
        watch(cache, clock, "D", (6 + viewer) * HOUR)
    assert cache.score(("/vod/A/720p/3.m4s", ())) == 1.5
    assert cache.score(("/vod/D/720p/3.m4s", ())) == 25 / 15  # (30 / 2 + 10) of (10 / 2 + 10)


def test_groups_split_into_video_and_rendition() -> None:
    assert split_group(("/vod/abc/720p/", ())) == ("/vod/abc", ("720p", ()))
    assert split_group((7, 2)) == (7, 2)
    assert split_group("video/360p/") == ("video/360p/", None)


def test_entries_are_numbered_afresh_before_their_numbers_run_out() -> None:
    """Entries carry a sequence number (held ones under the time to look again): near the top
    of its range the policy numbers every entry afresh, keeping the order, and goes on
    evicting by score."""
    clock = TraceClock()
    cache = PopularityCache(40 * SIZE, clock=clock, locate=locate_url)
    watch(cache, clock, "A", 0.0, segments=40)
    watch(cache, clock, "A", HOUR, segments=40)  # A's forty segments, twice watched
    cache._seq = SEQ_LIMIT + 1  # as after some 5e11 entries
    for video in ("B", "C", "D"):  # lone viewers, each a segment of video per request
        watch(cache, clock, video, 3 * HOUR, segments=40)
    assert cache._seq < 200
    assert len(cache) == 40
    assert [obj.key for obj in cache._probation.oldest_first()] == [
        (f"/vod/D/720p/{n}.m4s", ()) for n in range(40 - PROBATION_MIN, 40)
    ]
    scored = [obj for obj in cache._objects.values() if obj.trial == MAIN]
    assert len(scored) == 40 - PROBATION_MIN
    assert all(o.bucket is not None and o.bucket.items[o.index] is o for o in scored)
    assert sum((f"/vod/A/720p/{n}.m4s", ()) in cache for n in range(40)) == 40 - PROBATION_MIN


def test_an_object_over_a_tenth_of_the_cache_and_unlike_the_others_is_not_stored() -> None:
    """It would displace most of the cache for itself (a POP's memory tier leaves it to disk),
    where the objects missed lately were a fraction of its size."""
    cache = PopularityCache(100 * SIZE, clock=TraceClock(), locate=locate_url)
    for n, size in enumerate([SIZE] * 20 + [10 * SIZE, 10 * SIZE + 1]):
        key = (f"/vod/A/720p/{n}.m4s", ())
        cache.touch(key)
        cache.insert(key, size)
    assert len(cache) == 21  # a tenth of the cache is not over it
    assert cache.used_bytes == 30 * SIZE


@pytest.mark.parametrize("fifths", [1, 2])
def test_a_cache_of_a_few_objects_stores_objects_that_large(fifths: int) -> None:
    """Where every object is over a tenth of the cache, refusing them would leave it empty: it
    keeps what fits (four objects asked for in turn: all of them in room for five, where LRU
    hits as often; some of them in room for two, where LRU never hits)."""
    cache = PopularityCache(10 * SIZE, clock=TraceClock(), locate=locate_url)
    hits = 0
    for n in [0, 1, 2, 3] * 10:
        key = (f"/vod/A/720p/{n}.m4s", ())
        if cache.touch(key):
            hits += 1
        else:
            cache.insert(key, 2 * fifths * SIZE + n)
    assert len(cache) == (4 if fifths == 1 else 2)
    assert cache.used_bytes <= 10 * SIZE
    assert hits >= (36 if fifths == 1 else 5)


def test_an_object_larger_than_the_cache_is_never_stored() -> None:
    cache = PopularityCache(10 * SIZE, clock=TraceClock(), locate=locate_url)
    key = ("/vod/A/720p/0.m4s", ())
    cache.touch(key)
    assert cache.insert(key, 10 * SIZE + 1) == []
    assert key not in cache
    assert cache.used_bytes == 0


def test_the_viewer_horizon_follows_how_long_objects_stay() -> None:
    """A viewer's coming spares an object if it is due within four times how long objects have
    stayed in this cache (two minutes at least, ten at most): a small or busy cache cannot wait
    as long for a viewer as a large one."""
    horizons = []
    for gap in (1.0, 5.0, 60.0):  # ten objects fit: each stays ten gaps
        clock = TraceClock()
        cache = PopularityCache(10 * SIZE, clock=clock, locate=locate_url)
        for n in range(40):
            clock.now = n * gap
            key = (f"/vod/V{n}/720p/0.m4s", ())
            cache.touch(key)
            cache.insert(key, SIZE)
        horizons.append(cache.horizon_s)
    assert horizons == [120.0, 200.0, 600.0]


def test_a_segment_number_asked_for_at_other_rungs_scores_higher() -> None:
    """A viewer who switches rungs still wants the next segment of the same video: requests
    for a segment number at any rung raise that number's score at every rung."""
    clock = TraceClock()
    cache = PopularityCache(100 * SIZE, clock=clock, locate=locate_url)
    for rung, asked in (("360p", {2: 3, 3: 1}), ("720p", {2: 3, 3: 1})):
        for n, times in asked.items():
            for _ in range(times):
                key = (f"/vod/A/{rung}/{n}.m4s", ())
                if not cache.touch(key):
                    cache.insert(key, SIZE)
    two = cache.score(("/vod/A/1080p/2.m4s", ()))
    three = cache.score(("/vod/A/1080p/3.m4s", ()))
    # the same video, rung and depth: only the numbers' counts differ, 6 and 2 of a mean of
    # 4, each shrunk toward the mean by three means' worth: (6 + 12) / (2 + 12)
    assert two / three == pytest.approx(18 / 14)


def test_a_live_streams_old_segment_numbers_are_forgotten() -> None:
    clock = TraceClock()
    cache = PopularityCache(10 * SIZE, clock=clock, locate=locate_url, halve_every=100)
    for n in range(3000):
        clock.now = 2.0 * n
        key = (f"/live/L/720p/{n}.m4s", ())
        if not cache.touch(key):
            cache.insert(key, SIZE)
    video = cache._videos["/live/L"]
    assert len(video.positions) <= 300  # about three halvings' worth, not all 3000


def test_probation_is_first_in_first_out_through_its_compactions() -> None:
    probation: Fifo[Placed] = Fifo()
    model: list[Placed] = []
    objects = [Placed(n) for n in range(5 * PASSED_KEPT)]
    for n, obj in enumerate(objects):
        probation.append(obj)
        model.append(obj)
        if n % 3 == 2:  # two in, one out: the list passes PASSED_KEPT and is compacted
            assert probation.popleft() is model.pop(0)
        if n % 50 == 49:  # one from the middle leaves
            gone = model[len(model) // 2]
            probation.remove(gone)
            model.remove(gone)
        assert probation.waiting() == len(model)
    assert probation.oldest_first() == model
    assert len(probation.items) < 2 * len(model) + PASSED_KEPT  # the passed ones were dropped
    while model:
        assert probation.popleft() is model.pop(0)
    with pytest.raises(IndexError):
        probation.popleft()
