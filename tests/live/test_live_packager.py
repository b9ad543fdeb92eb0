"""Packaging one rendition: parts are stored and announced, segments close on their
boundaries, and a segment's parts are deleted once no playlist (nor a POP's cached blocking
playlist) can name them any more: a long broadcast and its recording keep the segments, not
every part twice."""

from __future__ import annotations

from pathlib import Path

from manifests.live_playlist import PlaylistView, render_live_playlist
from manifests.live_streams import LiveRendition, LiveSettings
from storage.local import LocalStorage
from transcoder.fragments import Fragment
from transcoder.live_packager import PARTS_KEPT_TARGETS, TrackPackager, WallClock


def test_old_parts_are_deleted_and_every_segment_kept(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    announced: list[LiveRendition] = []
    settings = LiveSettings(2.0, 0.5, 60.0)
    packager = TrackPackager(
        "s1",
        "360p",
        "video",
        0,
        settings,
        storage,
        lambda _, rendition: announced.append(rendition),
        WallClock(lambda: 1_000.0),
        {},
    )
    segments, parts_per_segment = 40, 4
    for i in range(segments * parts_per_segment):
        data = b"moof" + i.to_bytes(4, "big")
        packager.on_fragment(Fragment(data, i * 0.5, 0.5, i % parts_per_segment == 0))
        listed = render_live_playlist(announced[-1].track, PlaylistView())
        for line in listed.splitlines():  # whatever a playlist names is in storage
            if line.startswith("#EXT-X-PART:"):
                uri = line.split("URI=")[1].split(",")[0].strip('"')
                assert storage.stat(f"live/s1/360p/{uri}") is not None, uri
    packager.finish()
    keys = storage.list_keys("live/s1/360p/")
    whole = sorted(int(Path(k).stem) for k in keys if Path(k).name.count(".") == 1)
    assert whole == list(range(segments))  # the recording's segments
    with_parts = sorted({int(Path(k).name.split(".")[0]) for k in keys if k.count(".") == 2})
    kept = PARTS_KEPT_TARGETS * 2 // 2 + 1  # segments of 2 s, target duration 2 s
    assert with_parts == list(range(segments - kept, segments))
    ended = render_live_playlist(packager.track, PlaylistView())
    for line in ended.splitlines():
        if line.startswith("#EXT-X-PART:"):
            uri = line.split("URI=")[1].split(",")[0].strip('"')
            assert storage.stat(f"live/s1/360p/{uri}") is not None, uri
