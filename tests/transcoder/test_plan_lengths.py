"""How long a video's renditions last: the longest of its own streams, read from each stream
(Matroska's DURATION tags included) and never longer than the file says."""

from __future__ import annotations

import pytest

from transcoder.plan import EncodePlan
from transcoder.probe import AudioStream, SourceInfo, VideoStream, stream_duration


def plan(whole_s: float, video_s: float | None, *sound_s: float | None) -> EncodePlan:
    video = VideoStream(320, 240, 25.0, "h264", video_s)
    sounds = tuple(AudioStream("aac", 2, None, s) for s in sound_s)
    return EncodePlan(SourceInfo("mov", whole_s, video, sounds), (), (), (), ())


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
