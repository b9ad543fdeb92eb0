"""Container sniffing: what ffmpeg may open."""

from __future__ import annotations

import pytest

from transcoder.sniff import sniff_audio_demuxer, sniff_demuxer


def chunk(kind: bytes, length: int) -> bytes:
    """A PNG chunk: length, type, data, CRC (not checked by the sniff)."""
    return length.to_bytes(4, "big") + kind + b"\x00" * length + b"\x00" * 4


PNG_HEAD = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", 13)


@pytest.mark.parametrize(
    ("head", "demuxer"),
    [
        pytest.param(b"\x00\x00\x00\x20ftypisom" + b"\x00" * 100, "mov", id="mp4"),
        pytest.param(b"\x1a\x45\xdf\xa3" + b"\x00" * 100, "matroska", id="mkv"),
        pytest.param(b"RIFF\x00\x00\x00\x00AVI LIST", "avi", id="avi"),
        pytest.param(
            b"G" + b"\x00" * 187 + b"G" + b"\x00" * 187 + b"G" + b"\x00" * 200, "mpegts", id="ts"
        ),
        pytest.param(
            b"\x00\x00\x00\x00G" + b"\x00" * 191 + b"G" + b"\x00" * 191 + b"G" + b"\x00" * 200,
            "mpegts",
            id="m2ts",
        ),
        pytest.param(bytes.fromhex("060e2b34020501010d0102010102040000"), "mxf", id="mxf"),
        pytest.param(b"\x1f\x07\x00\xbf\xf8xxx", "dv", id="dv-pal"),
        pytest.param(b"\x1f\x07\x00\x3f\xf8xxx", "dv", id="dv-ntsc"),
        pytest.param(b"GIF89a\x40\x01\xf0\x00", "gif", id="gif"),
        pytest.param(b"GIF87a\x40\x01\xf0\x00", "gif", id="gif87"),
        pytest.param(PNG_HEAD + chunk(b"acTL", 8) + chunk(b"IDAT", 30), "apng", id="apng"),
        pytest.param(PNG_HEAD + chunk(b"IDAT", 30) + chunk(b"acTL", 8), None, id="still-png"),
        pytest.param(PNG_HEAD + b"\x00\x00\x00\x0dIHD", None, id="png-cut-short"),
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
