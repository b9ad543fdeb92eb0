"""What a pushed body of ISO BMFF carried, told from its top-level boxes as they arrive: an
init segment (`moov`), media (`moof`), and a segment marked as its track's last (a `styp`
whose brands include `lmsg`, as the DASH-IF live media ingest protocol ends a track); or that
it is MPEG-TS (a sync byte where a box would start), whose packets need no init segment. Only box
headers are kept (and a `styp` whole, for its brands); the bytes between are counted past, so
a long request costs a few bytes of state however long it runs. Pure and incremental."""

from __future__ import annotations

import struct

LAST_SEGMENT_BRAND = b"lmsg"
MAX_STYP_BYTES = 1 << 10  # a styp is a major brand, a version and a few compatible brands
HEADER = 8
LONG_HEADER = 16  # size 1: a 64-bit size follows the type


class PushedBoxes:
    """Feed it a body's bytes as they come (`feed`); then `init`, `media` and `last` say what
    it carried. Bytes that are not boxes (MPEG-TS; a box running to the end of the body)
    stop the reading: nothing more is told of them."""

    def __init__(self) -> None:
        self.init = False  # an init segment (moov)
        self.media = False  # a fragment (moof)
        self.last = False  # a segment marked as its track's last
        self.transport = False  # MPEG-TS: every packet self-contained, no init segment
        self.reading = True
        self._held = b""  # the start of the box being read
        self._skip = 0  # bytes of the box being passed that are still to come

    @property
    def whole_track(self) -> bool:
        """Whether the body could be a track's whole contribution (an encoder's long PUT or
        POST): its init segment and its media in one request, or MPEG-TS, which needs none."""
        return (self.init and self.media) or self.transport

    def feed(self, data: bytes) -> None:
        at = 0
        while self.reading and at < len(data):
            if self._skip:
                step = min(self._skip, len(data) - at)
                self._skip -= step
                at += step
                continue
            at = self._fill(data, at, HEADER)
            if len(self._held) < HEADER:
                return
            size, kind = struct.unpack_from(">I4s", self._held)
            header = HEADER
            if size == 1:
                at = self._fill(data, at, LONG_HEADER)
                if len(self._held) < LONG_HEADER:
                    return
                (size,) = struct.unpack_from(">Q", self._held, HEADER)
                header = LONG_HEADER
            if size < header:  # to the end of the body (0), or not a box at all
                self.reading = False
                return
            whole = kind == b"styp" and size <= MAX_STYP_BYTES
            at = self._fill(data, at, size if whole else header)
            if len(self._held) < (size if whole else header):
                return
            self._judge(kind, header)
            self._skip = size - len(self._held)
            self._held = b""

    def _fill(self, data: bytes, at: int, upto: int) -> int:
        """Hold bytes of `data` from `at` until `upto` are held; where reading goes on."""
        take = max(0, upto - len(self._held))
        self._held += data[at : at + take]
        return min(len(data), at + take)

    def _judge(self, kind: bytes, header: int) -> None:
        if kind == b"moov":
            self.init = True
        elif kind == b"moof":
            self.media = True
        elif kind == b"styp":
            brands = self._held[header:]
            # major brand, minor version, then compatible brands
            names = [brands[:4]] + [brands[n : n + 4] for n in range(8, len(brands) - 3, 4)]
            self.last = self.last or LAST_SEGMENT_BRAND in names
        elif self._held[:1] == b"\x47" and not (self.init or self.media):
            self.reading = False  # an MPEG-TS packet's sync byte, not a box
            self.transport = True
