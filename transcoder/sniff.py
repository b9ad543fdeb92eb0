"""Recognise a container from its first bytes, so ffmpeg is always told which demuxer to use.

Only self-contained containers are accepted. Playlists (HLS, DASH), concat lists and other
formats that name further files or URLs are rejected before ffmpeg ever sees them.
"""

from __future__ import annotations

import re

_MP4_BOXES = {b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip", b"pnot"}


def sniff_demuxer(head: bytes) -> str | None:
    """The ffmpeg demuxer name for a file starting with `head` (≥ 1 KiB), or None."""
    if len(head) >= 12 and head[4:8] in _MP4_BOXES:
        return "mov"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "matroska"
    if head.startswith(b"RIFF") and head[8:12] == b"AVI ":
        return "avi"
    if head.startswith(b"FLV\x01"):
        return "flv"
    if head.startswith(b"\x00\x00\x01\xba"):
        return "mpeg"
    if head.startswith(b"OggS"):
        return "ogg"
    if len(head) >= 188 * 3 and all(head[i] == 0x47 for i in (0, 188, 376)):
        return "mpegts"
    if len(head) >= 192 * 3 and all(head[i] == 0x47 for i in (4, 196, 388)):
        return "mpegts"  # M2TS (AVCHD, Blu-ray): a 4-byte time code before each packet
    if head.startswith(MXF_HEADER_PARTITION):
        return "mxf"
    if head.startswith(b"\x1f\x07\x00") and len(head) > 3 and head[3] & 0x3F == 0x3F:
        return "dv"  # a DIF header block: DV tape, as camcorders and capture cards write it
    if head.startswith((b"GIF87a", b"GIF89a")):  # an animated GIF, as the web sends video
        return "gif"
    if head.startswith(PNG) and _animated_png(head):
        return "apng"
    return None


PNG = b"\x89PNG\r\n\x1a\n"
# SMPTE 377M: an MXF file starts with its header partition pack's key
MXF_HEADER_PARTITION = bytes.fromhex("060e2b34020501010d01020101")


def _animated_png(head: bytes) -> bool:
    """Does the PNG declare animation control (acTL) before its first image data? A still
    PNG is a picture, not a video."""
    at = len(PNG)
    while at + 8 <= len(head):
        length = int.from_bytes(head[at : at + 4], "big")
        kind = head[at + 4 : at + 8]
        if kind == b"acTL":
            return True
        if kind == b"IDAT":
            return False
        at += 12 + length
    return False


def sniff_audio_demuxer(head: bytes) -> str | None:
    """Side audio tracks may also be plain audio files."""
    video = sniff_demuxer(head)
    if video is not None:
        return video
    if head.startswith(b"RIFF") and head[8:12] == b"WAVE":
        return "wav"
    if head.startswith(b"ID3") or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        return "aac" if head[1] & 0x06 == 0 else "mp3"  # layer bits 00: ADTS AAC
    if head.startswith(b"fLaC"):
        return "flac"
    return None


_SRT_START = re.compile(rb"\s*\d+[ \t]*\r?\n\s*\d{1,3}:\d{2}:\d{2}[,.]\d{1,3}[ \t]*-->")


def sniff_subtitles(head: bytes) -> str | None:
    """ "webvtt", or the ffmpeg demuxer of a subtitle file we turn into WebVTT ("srt" for
    SubRip, "ass" for ASS/SSA), or None. A UTF-8 byte order mark is skipped."""
    text = head.removeprefix(b"\xef\xbb\xbf")
    if text.startswith(b"WEBVTT") and text[6:7] in (b"", b" ", b"\t", b"\r", b"\n"):
        return "webvtt"
    if text.lstrip().startswith(b"[Script Info]"):
        return "ass"
    if _SRT_START.match(text):
        return "srt"
    return None
