"""Cut a fragmented MP4 byte stream (what ffmpeg writes to a pipe with `empty_moov`) into its
init segment and its fragments, each with its start, duration and whether it starts with a
sync sample: the parts of a live stream (ISO/IEC 14496-12: moov/mvex/trex, moof/traf with
tfhd, tfdt and trun). Pure and incremental: feed bytes as they come."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass

MAX_BOX_BYTES = 64 << 20  # a fragment of a few hundred ms is far smaller than this
CONTAINERS = {b"moov", b"trak", b"mdia", b"mvex", b"moof", b"traf"}
NON_SYNC = 0x00010000  # sample_is_non_sync_sample in the sample flags


class FragmentError(ValueError):
    """Not a fragmented MP4 stream we can cut."""


@dataclass(frozen=True, slots=True)
class Init:
    data: bytes
    timescale: int


@dataclass(frozen=True, slots=True)
class Fragment:
    data: bytes  # moof + mdat (and anything between them)
    start_s: float  # its first sample's decode time
    duration_s: float
    independent: bool  # starts with a sync sample (a keyframe)


def boxes(data: bytes, start: int = 0, end: int | None = None) -> Iterator[tuple[bytes, int, int]]:
    """(type, payload start, box end) for each box in data[start:end]."""
    end = len(data) if end is None else end
    at = start
    while at + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, at)
        header = 8
        if size == 1:
            if at + 16 > end:
                raise FragmentError("truncated box header")
            (size,) = struct.unpack_from(">Q", data, at + 8)
            header = 16
        if size < header or at + size > end:
            raise FragmentError(f"bad {kind!r} box size {size}")
        yield kind, at + header, at + size
        at += size


def find(data: bytes, path: list[bytes], start: int = 0, end: int | None = None) -> list[int]:
    """Payload starts of every box at `path` (e.g. [moov, trak, mdia, mdhd])."""
    found: list[int] = []
    for kind, payload, box_end in boxes(data, start, end):
        if kind != path[0]:
            continue
        if len(path) == 1:
            found.append(payload)
        elif kind in CONTAINERS:
            found += find(data, path[1:], payload, box_end)
    return found


def _full_box(data: bytes, at: int) -> tuple[int, int]:
    (word,) = struct.unpack_from(">I", data, at)
    return word >> 24, word & 0xFFFFFF


def _timescale(moov: bytes) -> int:
    mdhd = find(moov, [b"moov", b"trak", b"mdia", b"mdhd"])
    if not mdhd:
        raise FragmentError("no mdhd in the init segment")
    version, _ = _full_box(moov, mdhd[0])
    scale = struct.unpack_from(">I", moov, mdhd[0] + (20 if version == 1 else 12))[0]
    if scale <= 0:
        raise FragmentError("a zero timescale")
    return int(scale)


def picture_size(init: bytes) -> tuple[int, int] | None:
    """A video track's width and height (tkhd), or None for audio."""
    found = find(init, [b"moov", b"trak", b"tkhd"])
    if not found:
        return None
    version, _ = _full_box(init, found[0])
    at = found[0] + (88 if version == 1 else 76)
    width, height = struct.unpack_from(">II", init, at)
    return (width >> 16, height >> 16) if width and height else None


def _trex_defaults(moov: bytes) -> tuple[int, int]:
    """(default sample duration, default sample flags) from mvex/trex."""
    trex = find(moov, [b"moov", b"mvex", b"trex"])
    if not trex:
        return 0, 0
    duration, _, flags = struct.unpack_from(">III", moov, trex[0] + 12)
    return duration, flags


def _read_fragment(data: bytes, init: Init, defaults: tuple[int, int]) -> Fragment:
    traf = find(data, [b"moof", b"traf"])
    if not traf:
        raise FragmentError("a moof without a traf")
    default_duration, default_flags = defaults
    start = 0
    duration = 0
    first_flags: int | None = None
    for kind, payload, box_end in boxes(data, traf[0], _box_end(data, traf[0])):
        version, flags = _full_box(data, payload)
        body = payload + 4
        if kind == b"tfhd":
            at = body + 4  # track id
            if flags & 0x01:
                at += 8  # base data offset
            if flags & 0x02:
                at += 4  # sample description index
            if flags & 0x08:
                (default_duration,) = struct.unpack_from(">I", data, at)
                at += 4
            if flags & 0x10:
                at += 4  # default sample size
            if flags & 0x20:
                (default_flags,) = struct.unpack_from(">I", data, at)
        elif kind == b"tfdt":
            fmt = ">Q" if version == 1 else ">I"
            (start,) = struct.unpack_from(fmt, data, body)
        elif kind == b"trun":
            (count,) = struct.unpack_from(">I", data, body)
            at = body + 4
            if flags & 0x01:
                at += 4  # data offset
            first_sample_flags = None
            if flags & 0x04:
                (first_sample_flags,) = struct.unpack_from(">I", data, at)
                at += 4
            for n in range(count):
                sample_duration = default_duration
                sample_flags = default_flags
                if flags & 0x100:
                    (sample_duration,) = struct.unpack_from(">I", data, at)
                    at += 4
                if flags & 0x200:
                    at += 4
                if flags & 0x400:
                    (sample_flags,) = struct.unpack_from(">I", data, at)
                    at += 4
                if flags & 0x800:
                    at += 4
                if n == 0 and first_sample_flags is not None:
                    sample_flags = first_sample_flags
                if first_flags is None:
                    first_flags = sample_flags
                duration += sample_duration
            if at > box_end:
                raise FragmentError("a trun longer than its box")
    return Fragment(
        data,
        start / init.timescale,
        duration / init.timescale,
        first_flags is not None and not first_flags & NON_SYNC,
    )


def _box_end(data: bytes, payload: int) -> int:
    """The end of the box whose payload starts at `payload` (32-bit sizes)."""
    size: int = struct.unpack_from(">I", data, payload - 8)[0]
    return payload - 8 + size


class FragmentReader:
    """Feed it bytes; it returns the init segment once, then each complete fragment."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._head = bytearray()  # ftyp, moov (the init segment) until it is complete
        self._pending = bytearray()  # a moof waiting for its mdat
        self.init: Init | None = None
        self._defaults = (0, 0)

    def feed(self, chunk: bytes) -> list[Init | Fragment]:
        self._buffer += chunk
        out: list[Init | Fragment] = []
        while len(self._buffer) >= 8:
            size, kind = struct.unpack_from(">I4s", self._buffer, 0)
            header = 8
            if size == 1:
                if len(self._buffer) < 16:
                    break
                (size,) = struct.unpack_from(">Q", self._buffer, 8)
                header = 16
            if size < header or size > MAX_BOX_BYTES:
                raise FragmentError(f"bad {kind!r} box size {size}")
            if len(self._buffer) < size:
                break
            box = bytes(self._buffer[:size])
            del self._buffer[:size]
            out += self._box(kind, box)
        return out

    def _box(self, kind: bytes, box: bytes) -> list[Init | Fragment]:
        if self.init is None:
            if kind == b"moof":
                raise FragmentError("a fragment before the init segment")
            self._head += box
            if kind != b"moov":
                return []
            head = bytes(self._head)
            self.init = Init(head, _timescale(head))
            self._defaults = _trex_defaults(head)
            return [self.init]
        if kind == b"moof":
            self._pending = bytearray(box)
            return []
        if not self._pending:
            return []  # boxes between fragments (sidx, free, mfra) are not part of any
        self._pending += box
        if kind != b"mdat":
            return []
        data = bytes(self._pending)
        self._pending = bytearray()
        return [_read_fragment(data, self.init, self._defaults)]


def shifted(fragment: Fragment, ticks: int, timescale: int) -> Fragment:
    """The fragment moved `ticks` (of `timescale`) later on the media timeline: every traf's
    tfdt rewritten in place (same sizes, so every offset stays right)."""
    if ticks == 0:
        return fragment
    data = bytearray(fragment.data)
    for traf in find(fragment.data, [b"moof", b"traf"]):
        for kind, payload, _ in boxes(fragment.data, traf, _box_end(fragment.data, traf)):
            if kind != b"tfdt":
                continue
            version, _ = _full_box(fragment.data, payload)
            fmt = ">Q" if version == 1 else ">I"
            (time,) = struct.unpack_from(fmt, data, payload + 4)
            moved = time + ticks
            if not 0 <= moved < (1 << (64 if version == 1 else 32)):
                raise FragmentError("a decode time out of the tfdt's range")
            struct.pack_into(fmt, data, payload + 4, moved)
    start = fragment.start_s + ticks / timescale
    return Fragment(bytes(data), start, fragment.duration_s, fragment.independent)
