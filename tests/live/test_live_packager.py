"""Packaging one rendition: parts are stored and announced, segments close on their
boundaries, and a segment's parts are deleted once no playlist (nor a POP's cached blocking
playlist) can name them any more: a long broadcast and its recording keep the segments, not
every part twice; and the program dates say when the media was made, at the latest."""

from __future__ import annotations

from pathlib import Path

import pytest

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


def test_the_wall_clock_anchors_on_the_earliest_the_media_could_have_begun() -> None:
    """The first part (media 0-0.5 s) arrives at 100.0: media time 0 began by 99.5 at the
    latest. The next (to 1.0 s) arrives at 100.2, so by 99.2: the first came late (out of
    what the receiver read to probe the encoder). Once on air the anchor stays; an encoder
    back after a pause anchors it again."""
    now = [100.0]
    wall = WallClock(lambda: now[0])
    assert wall.anchored(0.5) == pytest.approx(99.5)
    now[0] = 100.2
    assert wall.anchored(1.0) == pytest.approx(99.2)
    now[0] = 100.8
    assert wall.anchored(1.5) == pytest.approx(99.2)  # later than the least: no move
    wall.settle()
    now[0] = 100.9
    assert wall.anchored(2.0) == pytest.approx(99.2)  # earlier, but on air: it stays
    wall.reset()
    now[0] = 200.0
    assert wall.anchored(10.5) == pytest.approx(189.5)


def test_a_tracks_dates_follow_the_anchor_until_on_air_and_keep_them_after(
    tmp_path: Path,
) -> None:
    now = [100.0]
    wall = WallClock(lambda: now[0])
    settings = LiveSettings(2.0, 0.5, 60.0)
    storage = LocalStorage(tmp_path)
    packagers = [
        TrackPackager("s1", "360p", "video", 0, settings, storage, lambda *_: None, wall, {}),
        TrackPackager("s1", "audio", "audio", 1, settings, storage, lambda *_: None, wall, {}),
    ]

    def part(n: int, arrived: float) -> None:
        now[0] = arrived
        for packager in packagers:
            packager.on_fragment(Fragment(b"moof" + bytes(4), n * 0.5, 0.5, n % 4 == 0))

    part(0, 100.0)  # a second after its end: the anchor 99.5
    for n in range(1, 6):  # then 0.3 s after theirs: 99.2
        part(n, 99.2 + (n + 1) * 0.5)
    wall.settle()
    for n in range(6, 12):  # a part a little early after on air moves nothing
        part(n, 99.1 + (n + 1) * 0.5)
    for packager in packagers:
        dates = [s.started_at for s in packager.track.segments]
        assert dates == pytest.approx([99.2, 101.2, 103.2])  # every segment, the first too
        assert packager.track.pending_started_at is None


@pytest.mark.parametrize(
    ("part_s", "frames"),
    [(0.5, 22), (0.2, 9), (1.0, 43)],  # AAC parts as the live encoder cuts them (1024 a frame)
)
def test_an_audio_segment_covers_its_video_segment_within_the_target_duration(
    tmp_path: Path, part_s: float, frames: int
) -> None:
    """Audio parts are whole AAC frames, so they do not end on the video's boundaries (every
    2 s here). A segment closes with the first part that reaches the boundary: a player that
    joins within a segment finds its audio there as long as its video. Closing at the
    nearest part instead ended the first segment at 1.877 s, before the video's 2 s, and
    hls.js then loaded that segment's video again and again, and stalled at the audio's end.
    Only near its boundary, where one more part would make a segment longer than the target
    duration allows (rounded, RFC 8216bis), does it close short; no segment drifts off the
    grid."""
    settings = LiveSettings(2.0, part_s, 60.0)
    packager = TrackPackager(
        "s1",
        "audio",
        "audio",
        1,
        settings,
        LocalStorage(tmp_path),
        lambda *_: None,
        WallClock(lambda: 1_000.0),
        {},
    )
    duration = frames * 1024 / 48_000
    for n in range(round(40 / duration)):
        packager.on_fragment(Fragment(b"moof" + n.to_bytes(4, "big"), n * duration, duration, True))
    ends, end = [], 0.0
    for segment in packager.recorded:
        assert segment.duration_s is not None
        end += segment.duration_s
        ends.append(end)
    assert len(ends) >= 15
    for k, end in enumerate(ends):  # on the grid: within a part of its boundary
        assert abs(end - 2.0 * (k + 1)) < duration
    short = [e for k, e in enumerate(ends) if e < 2.0 * (k + 1) - 1e-6]
    if 2.0 + duration < packager.track.target_duration_s + 0.5:
        assert short == []  # each covers its boundary
        assert all(round(s.duration_s or 0) <= 2 for s in packager.recorded)
    else:  # 1 s parts: a segment that reached its boundary could round to 3 s; near it, not
        assert short
