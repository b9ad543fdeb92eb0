"""A worker's memory of its latest purges: which URLs were purged since a fill began."""

from __future__ import annotations

from edge.pop.purges import PurgeLog


def test_urls_and_prefixes_purged_since_a_point() -> None:
    log = PurgeLog()
    before = log.count
    assert not log.purged_since("/a", before)
    log.record("/a", prefix=False)
    log.record("/vod/x/", prefix=True)
    assert log.purged_since("/a", before)
    assert log.purged_since("/vod/x/720p/1.m4s", before)
    assert not log.purged_since("/b", before)
    assert not log.purged_since("/a", log.count)  # a fill begun after them


def test_a_fill_older_than_every_remembered_purge_counts_as_purged() -> None:
    log = PurgeLog(kept=4)
    before = log.count
    for n in range(10):
        log.record(f"/other/{n}", prefix=False)
    assert log.purged_since("/a", before)  # cannot tell: taken as purged, never stored stale
    recent = log.count - 2
    assert not log.purged_since("/a", recent)
