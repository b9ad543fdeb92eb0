"""Edit an MP4 file's boxes the way encoders that ffmpeg cannot imitate write them: a Dolby
Vision configuration (dvcC) in the video's sample entry. The file must keep its moov after
its mdat (ffmpeg's default), so that no chunk offset moves."""

from __future__ import annotations

import struct

CONTAINERS = frozenset({b"moov", b"trak", b"mdia", b"minf", b"stbl"})
VIDEO_ENTRIES = frozenset({b"hvc1", b"hev1", b"avc1", b"av01"})


def _boxes(data: bytes | bytearray, start: int, end: int) -> list[tuple[int, int, bytes]]:
    found, at = [], start
    while at + 8 <= end:
        size, kind = struct.unpack(">I4s", data[at : at + 8])
        if size < 8:
            break
        found.append((at, size, kind))
        at += size
    return found


def _grow(data: bytearray, at: int, by: int) -> None:
    (size,) = struct.unpack(">I", data[at : at + 4])
    struct.pack_into(">I", data, at, size + by)


def _insert(data: bytearray, box: bytes, start: int, end: int) -> bool:
    """Append `box` to the first video sample entry under [start, end); True if it was."""
    for at, size, kind in _boxes(data, start, end):
        if kind in CONTAINERS and _insert(data, box, at + 8, at + size):
            _grow(data, at, len(box))
            return True
        if kind == b"stsd":
            entry = at + 16  # its version, flags and entry count come first
            entry_size, entry_kind = struct.unpack(">I4s", data[entry : entry + 8])
            if entry_kind in VIDEO_ENTRIES:
                data[entry + entry_size : entry + entry_size] = box
                _grow(data, entry, len(box))
                _grow(data, at, len(box))
                return True
    return False


def dolby_vision_box(profile: int, level: int, compatibility: int) -> bytes:
    """A dvcC box: version 1.0, the profile and level, an RPU and a base layer, no
    enhancement layer, and the base layer's signal compatibility id."""
    flags = (profile << 9) | (level << 3) | 0b101  # rpu_present, el_present=0, bl_present
    payload = bytes([1, 0]) + struct.pack(">H", flags) + bytes([compatibility << 4]) + bytes(19)
    return struct.pack(">I4s", 8 + len(payload), b"dvcC") + payload


def with_dolby_vision(mp4: bytes, profile: int, compatibility: int, level: int = 6) -> bytes:
    data = bytearray(mp4)
    if not _insert(data, dolby_vision_box(profile, level, compatibility), 0, len(data)):
        raise ValueError("no video sample entry found")
    return bytes(data)
