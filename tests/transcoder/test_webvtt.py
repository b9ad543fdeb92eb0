"""WebVTT parsing and per-segment splitting for HLS subtitle renditions."""

from __future__ import annotations

import pytest

from transcoder.errors import InvalidMedia
from transcoder.webvtt import Cue, format_timestamp, parse_webvtt, segment_webvtt

VTT = """WEBVTT

NOTE a comment block

1
00:00:00.500 --> 00:00:02.000
Hello

00:00:03.500 --> 00:00:04.500 align:start
Across the
boundary
"""


def test_parse_cues_with_and_without_ids() -> None:
    cues = parse_webvtt(VTT)
    assert cues == [
        Cue(0.5, 2.0, "Hello"),
        Cue(3.5, 4.5, "Across the\nboundary", "align:start"),
    ]


def test_hours_and_crlf_and_bom() -> None:
    text = "\ufeffWEBVTT\r\n\r\n01:00:00.000 --> 01:00:01,250\r\nLate\r\n"
    assert parse_webvtt(text) == [Cue(3600.0, 3601.25, "Late")]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        pytest.param("", "WEBVTT", id="empty"),
        pytest.param("1\n00:00:01,000 --> 00:00:02,000\nhi\n", "WEBVTT", id="srt-without-header"),
        pytest.param("WEBVTT\n\n00:00:02.000 --> 00:00:01.000\nx\n", "ends before", id="reversed"),
        pytest.param("WEBVTT\n\n00:00:61.000 --> 00:01:02.000\nx\n", "timestamp|timing", id="secs"),
        pytest.param("WEBVTT\n\nid-only\n", "timing", id="no-timing"),
    ],
)
def test_bad_subtitles_are_invalid_media(text: str, reason: str) -> None:
    with pytest.raises(InvalidMedia, match=reason):
        parse_webvtt(text)


def test_segments_follow_video_boundaries_and_repeat_spanning_cues() -> None:
    segments = segment_webvtt(parse_webvtt(VTT), [4.0, 4.0, 1.0])
    assert len(segments) == 3
    assert all(s.startswith("WEBVTT\nX-TIMESTAMP-MAP=") for s in segments)
    assert "Hello" in segments[0]
    assert "boundary" in segments[0]
    assert "boundary" in segments[1]
    assert "Hello" not in segments[1]
    assert "-->" not in segments[2]
    for segment in segments:
        parse_webvtt(segment)  # each segment is a valid WebVTT document


@pytest.mark.parametrize(
    ("seconds", "text"), [(0, "00:00:00.000"), (3601.25, "01:00:01.250"), (59.9996, "00:01:00.000")]
)
def test_timestamps(seconds: float, text: str) -> None:
    assert format_timestamp(seconds) == text
