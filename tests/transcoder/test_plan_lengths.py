"""How long a video's renditions last: until the last of its own streams ends, counted from the
file's start, read from each stream (Matroska's DURATION tags included) and never longer than
the file says; a video that starts after its sound is held on its first picture until then."""

from __future__ import annotations

import pytest

from transcoder.plan import EncodePlan
from transcoder.probe import AudioStream, SourceInfo, VideoStream, parse_probe, stream_duration


def plan(whole_s: float, video_s: float | None, *sound_s: float | None) -> EncodePlan:
    video = VideoStream(320, 240, 25.0, "h264", video_s)
    sounds = tuple(AudioStream("aac", 2, None, s) for s in sound_s)
    return EncodePlan(SourceInfo("mov", whole_s, video, sounds), (), (), (), ())


def started(
    whole_s: float, file_at: float, video: tuple[float | None, float], *sound: tuple[float, float]
) -> EncodePlan:
    """A plan whose streams start at their own times: (start, length) on the file's clock."""
    picture = VideoStream(320, 240, 25.0, "h264", video[1], start_s=video[0])
    sounds = tuple(AudioStream("aac", 2, None, s[1], start_s=s[0]) for s in sound)
    return EncodePlan(SourceInfo("ts", whole_s, picture, sounds, start_s=file_at), (), (), (), ())


def test_the_longest_stream_sets_the_length_and_the_picture_is_held_to_it() -> None:
    assert plan(12.0, 3.0, 12.0).expected_duration_s == 12.0
    assert plan(12.0, 3.0, 12.0).video_pad_s == pytest.approx(9.0)
    assert plan(12.0, 12.0, 3.0).expected_duration_s == 12.0
    assert plan(12.0, 12.0, 3.0).video_pad_s == 0.0


def test_streams_that_end_within_a_frame_are_not_padded() -> None:
    assert plan(3.04, 3.0, 3.04).video_pad_s == 0.0
    assert plan(3.3, 3.0, 3.3).video_pad_s == pytest.approx(0.3)


def test_a_stream_that_claims_more_than_the_file_is_not_believed() -> None:
    assert plan(5.0, 3.0, 36_000.0).expected_duration_s == 5.0
    assert plan(5.0, None, None).expected_duration_s == 5.0
    assert plan(5.0, None, None).video_pad_s == 0.0


def test_a_streams_length_from_its_own_field_or_matroskas_tag() -> None:
    assert stream_duration({"duration": "3.000000"}) == 3.0
    assert stream_duration({"tags": {"DURATION": "00:01:02.500000000"}}) == 62.5
    assert stream_duration({"tags": {"DURATION-eng": "01:00:00.000"}}) == 3600.0
    assert stream_duration({"tags": {"DURATION": "soon"}}) is None
    assert stream_duration({"duration": "N/A"}) is None


def test_streams_that_start_late_are_counted_from_the_files_start() -> None:
    sound_late = started(8.0, 1.4, (1.4, 8.0), (4.4, 5.0))  # a transport stream's clock
    assert sound_late.expected_duration_s == 8.0
    assert (sound_late.video_lead_s, sound_late.video_pad_s) == (0.0, 0.0)
    picture_late = started(8.0, 0.0, (2.0, 6.0), (0.0, 8.0))
    assert picture_late.expected_duration_s == 8.0
    assert picture_late.video_lead_s == pytest.approx(2.0)
    assert picture_late.video_pad_s == 0.0  # it ends with the sound: held at the start only
    short_and_late = started(8.0, 0.0, (2.0, 3.0), (0.0, 8.0))
    assert short_and_late.video_pad_s == pytest.approx(3.0)


def test_a_picture_within_half_a_frame_of_the_start_is_not_held() -> None:
    assert started(8.0, 0.0, (0.019, 8.0), (0.0, 8.0)).video_lead_s == 0.0
    assert started(8.0, 0.0, (0.1, 7.9), (0.0, 8.0)).video_lead_s == pytest.approx(0.1)
    assert started(8.0, 0.0, (None, 8.0), (3.0, 5.0)).video_lead_s == 0.0


def test_start_times_are_read_from_the_file_and_each_stream() -> None:
    streams = [
        {"codec_type": "video", "width": 320, "height": 240, "avg_frame_rate": "25/1",
         "start_time": "1.400000"},
        {"codec_type": "audio", "channels": 2, "start_time": "4.376011"},
        {"codec_type": "audio", "channels": 2, "start_time": "N/A"},
    ]  # fmt: skip
    info = parse_probe("mpegts", {"streams": streams, "format": {"start_time": "1.400000"}})
    assert info.start_s == 1.4
    assert info.video is not None
    assert info.video.start_s == 1.4
    assert [a.start_s for a in info.audio] == [4.376011, None]
    assert info.offset_s(4.376011) == pytest.approx(2.976011)
    assert info.offset_s(None) == 0.0
    undeclared = parse_probe("mpegts", {"streams": streams, "format": {}})
    assert undeclared.start_s == 1.4  # the earliest stream's
