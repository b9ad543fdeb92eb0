"""Container sniffing: what ffmpeg may open."""

from __future__ import annotations

import pytest

from transcoder.sniff import sniff_audio_demuxer, sniff_demuxer


@pytest.mark.parametrize(
    ("head", "demuxer"),
    [
        pytest.param(b"\x00\x00\x00\x20ftypisom" + b"\x00" * 100, "mov", id="mp4"),
        pytest.param(b"\x1a\x45\xdf\xa3" + b"\x00" * 100, "matroska", id="mkv"),
        pytest.param(b"RIFF\x00\x00\x00\x00AVI LIST", "avi", id="avi"),
        pytest.param(
            b"G" + b"\x00" * 187 + b"G" + b"\x00" * 187 + b"G" + b"\x00" * 200, "mpegts", id="ts"
        ),
        pytest.param(b"#EXTM3U\n#EXTINF:4,\nseg.ts\n", None, id="hls-playlist"),
        pytest.param(b"ffconcat version 1.0\nfile /etc/passwd\n", None, id="concat-list"),
        pytest.param(b"<?xml version='1.0'?><MPD>", None, id="dash-manifest"),
        pytest.param(b"hello, this is text", None, id="text"),
        pytest.param(b"", None, id="empty"),
    ],
)
def test_sniff_demuxer(head: bytes, demuxer: str | None) -> None:
    assert sniff_demuxer(head) == demuxer


def test_audio_files() -> None:
    assert sniff_audio_demuxer(b"RIFF\x00\x00\x00\x00WAVEfmt ") == "wav"
    assert sniff_audio_demuxer(b"fLaC\x00") == "flac"
    assert sniff_audio_demuxer(b"#EXTM3U") is None
