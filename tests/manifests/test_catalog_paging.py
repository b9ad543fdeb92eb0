"""Listing videos page by page on SQLite and PostgreSQL: a page starts after the last video
of the one before, by (created_at, id), so no video is skipped or repeated, ties included."""

from __future__ import annotations

from manifests.catalog import Catalog
from tests.manifests.test_catalog_contract import new_video
from tests.support.clock import FakeClock


def test_pages_after_a_video_cover_every_video_once_newest_first(
    catalog: Catalog, clock: FakeClock
) -> None:
    for i in range(7):
        catalog.create_video(new_video(f"v{i}"))
        if i % 3 == 2:  # three at a time share a creation time
            clock.advance(1)
    everything = [v.id for v in catalog.list_videos(limit=100)]
    seen: list[str] = []
    after = None
    while True:
        page = catalog.list_videos(limit=2, after=after)
        seen += [v.id for v in page]
        if len(page) < 2:
            break
        after = (page[-1].created_at, page[-1].id)
    assert seen == everything
    assert len(set(seen)) == 7
    assert everything[0] == "v6"  # the newest first
