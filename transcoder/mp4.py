"""Read RFC 6381 codec strings from fMP4 init segments (pure)."""

from __future__ import annotations

import struct


def _find_box(data: bytes, box: bytes) -> int:
    """Offset of the payload of the first `box` (after its 8-byte header), or -1."""
    at = data.find(box)
    return -1 if at < 4 else at + 4


def avc_codec(init: bytes) -> str | None:
    """`avc1.PPCCLL` from the avcC box: profile, constraint flags, level."""
    at = _find_box(init, b"avcC")
    if at < 0 or at + 4 > len(init):
        return None
    profile, compat, level = init[at + 1], init[at + 2], init[at + 3]
    return f"avc1.{profile:02x}{compat:02x}{level:02x}"


def _descriptor(data: bytes, at: int) -> tuple[int, int, int]:
    """(tag, payload offset, payload length) of an MPEG-4 descriptor at `at`."""
    tag = data[at]
    at += 1
    length = 0
    for _ in range(4):
        byte = data[at]
        at += 1
        length = (length << 7) | (byte & 0x7F)
        if not byte & 0x80:
            break
    return tag, at, length


def aac_codec(init: bytes) -> str | None:
    """`mp4a.40.N` with N the audio object type from the esds DecoderSpecificInfo."""
    at = _find_box(init, b"esds")
    if at < 0:
        return None
    try:
        at += 4  # version + flags
        tag, at, _ = _descriptor(init, at)
        if tag != 0x03:
            return None
        flags = init[at + 2]
        at += 3
        if flags & 0x80:
            at += 2
        if flags & 0x40:
            at += 1 + init[at]
        if flags & 0x20:
            at += 2
        tag, at, _ = _descriptor(init, at)
        if tag != 0x04:
            return None
        object_type = init[at]
        at += 13
        tag, at, _ = _descriptor(init, at)
        if tag != 0x05:
            return f"mp4a.{object_type:02x}"
        audio_object_type = init[at] >> 3
        return f"mp4a.{object_type:02x}.{audio_object_type}"
    except (IndexError, struct.error):
        return None
