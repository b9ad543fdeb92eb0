"""Packaging one rendition: parts are stored and announced, segments close on their
boundaries, and a segment's parts are deleted once no playlist (nor a POP's cached blocking
playlist) can name them any more: a long broadcast and its recording keep the segments, not
every part twice; and the program dates say when the media was made, at the latest."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from manifests.live_playlist import PlaylistView, render_live_playlist
from manifests.live_streams import LiveRendition, LiveSettings
from storage.local import LocalStorage
from transcoder.fragments import Fragment
from transcoder.live_command import audio_part_s
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
    ("segment_s", "part_s"),
    [
        (2.0, 0.5),
        (2.0, 0.2),
        (2.0, 1.0),
        (2.0, 0.7),
        (1.0, 1.0),
        (1.0, 0.5),
        (3.0, 0.65),
        (6.0, 0.8),
    ],
)
def test_an_audio_segment_covers_its_video_segment_within_the_target_duration(
    tmp_path: Path, segment_s: float, part_s: float
) -> None:
    """Audio parts are whole AAC frames (as the live encoder cuts them), so they do not end
    on the video's boundaries. A segment closes with the first part that reaches the
    boundary: a player that joins within a segment finds its audio there as long as its
    video. Closing at the nearest part instead ended the first segment at 1.877 s, before the
    video's 2 s, and hls.js then loaded that segment's video again and again, and stalled at
    the audio's end. Every segment stays on the grid (within a part of its boundary) and
    rounds to the playlist's target duration or under (RFC 8216bis 4.4.3.1): with long parts,
    say 1 s parts of 2 s segments, a segment that covers its boundary runs to 2.75 s, so the
    target is 3 there, and the segment length wherever parts fit."""
    settings = LiveSettings(segment_s, part_s, 60.0)
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
    duration = audio_part_s(part_s)
    for n in range(round(20 * segment_s / duration)):
        packager.on_fragment(Fragment(b"moof" + n.to_bytes(4, "big"), n * duration, duration, True))
    ends, end = [], 0.0
    for segment in packager.recorded:
        assert segment.duration_s is not None
        end += segment.duration_s
        ends.append(end)
    assert len(ends) >= 18
    target = packager.track.target_duration_s
    for k, end in enumerate(ends):  # on the grid: within a part of its boundary
        assert abs(end - segment_s * (k + 1)) < duration
    rounded = [math.floor((s.duration_s or 0) + 0.5) for s in packager.recorded]
    assert max(rounded) <= target
    assert f"#EXT-X-TARGETDURATION:{target}" in render_live_playlist(
        packager.rendition().track, PlaylistView()
    )
    short = [e for k, e in enumerate(ends) if e < segment_s * (k + 1) - 1e-6]
    assert short == []  # each covers its boundary
    assert target == max(1, math.ceil(segment_s), max(rounded))  # no longer than it must be
