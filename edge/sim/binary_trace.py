"""libCacheSim's binary traces: oracleGeneral files (24-byte records, nothing before them) and
lcs files (an 8 KiB header that names the version, then records of that version: v1 is an
oracleGeneral record; v2 adds an operation and a tenant; v3 a 64-bit size and a TTL; v4 to v8
one to sixteen 32-bit features after v3's fields). Every record is a request, as libCacheSim's
simulator reads them (an lcs record's operation is not looked at)."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import Final, Protocol

from edge.sim.trace import RECORD

LCS_MAGIC: Final = (0x123456789ABCDEF0).to_bytes(8, "little")
LCS_HEADER: Final = 8192  # bytes: the magic, the version, the trace's statistics, the magic
_LCS_FIELDS: Final = {1: "IQIq", 2: "IQIIq", 3: "IQqIIq"}  # time, id, size, ...
_LCS_FEATURES: Final = {4: 1, 5: 2, 6: 4, 7: 8, 8: 16}  # 32-bit features after v3's fields


class BinaryTraceError(ValueError):
    pass


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


def lcs_record(version: int) -> struct.Struct:
    """How an lcs file of `version` packs a request (its first three fields: time, object id,
    size)."""
    if version in _LCS_FIELDS:
        return struct.Struct("<" + _LCS_FIELDS[version])
    if version in _LCS_FEATURES:
        return struct.Struct("<" + _LCS_FIELDS[3] + "I" * _LCS_FEATURES[version])
    raise BinaryTraceError(f"an lcs trace of version {version}: versions 1 to 8 are read")


def layout(head: bytes) -> tuple[int, struct.Struct]:
    """Where the records of a binary trace that starts with `head` begin, and how each is
    packed: (0, RECORD) for oracleGeneral; an lcs file's header (whole in `head` when the file
    is that long) names its version."""
    if not head.startswith(LCS_MAGIC):
        return 0, RECORD
    if len(head) < LCS_HEADER:
        raise BinaryTraceError(
            f"an lcs trace cut off inside its {LCS_HEADER >> 10} KiB header ({len(head)} bytes)"
        )
    if head[LCS_HEADER - 8 : LCS_HEADER] != LCS_MAGIC:
        raise BinaryTraceError(
            "an lcs trace whose header is damaged (its closing mark is not there)"
        )
    return LCS_HEADER, lcs_record(int.from_bytes(head[8:16], "little"))


def fault(head: bytes, whole: bool) -> str:
    """What is wrong with a binary trace that starts with `head` ("": nothing seen; `whole`:
    `head` is all of it, so that it must end where a record does)."""
    try:
        start, record = layout(head)
    except BinaryTraceError as exc:
        return str(exc)
    over = (len(head) - start) % record.size
    if whole and over:
        return _cut(start, over, record.size)
    return "" if start else _unlikely(head[: len(head) - over])


# An oracleGeneral record's last field is the number of the request that next asks for its
# object: -1 (or the largest int64) where none does, else under any trace's length
_NO_NEXT: Final = (-1, (1 << 63) - 1)
_MOST_REQUESTS: Final = 1 << 48


def _unlikely(records: bytes) -> str:
    """What says that `records` (a file's first whole 24-byte records) are no oracleGeneral
    records ("": nothing): their next-access fields, which in a trace are request numbers,
    are, in other bytes read as records (text, random data, another format), numbers no trace
    could hold."""
    nexts = [fields[3] for fields in RECORD.iter_unpack(records)]
    wrong = sum(1 for n in nexts if not (0 <= n < _MOST_REQUESTS or n in _NO_NEXT))
    if wrong * 10 <= len(nexts):
        return ""
    return (
        f"not an oracleGeneral file: read as 24-byte records, {wrong} of its first "
        f"{len(nexts)} give a next access that no trace holds"
    )


def records(f: Readable) -> Iterator[tuple[int, int, int]]:
    """Each request of the binary trace `f` as (time, object id, size); a file that ends
    inside a record is a `BinaryTraceError` saying how far in, once the whole ones are read."""
    head = f.read(LCS_HEADER)
    start, record = layout(head)
    pending = head[start:]
    while True:
        chunk = f.read(record.size * 4096)
        pending += chunk
        whole = len(pending) - len(pending) % record.size
        for fields in record.iter_unpack(pending[:whole]):
            yield fields[0], fields[1], fields[2]
        pending = pending[whole:]
        if not chunk:
            break
    if pending:
        raise BinaryTraceError(_cut(start, len(pending), record.size))


def _cut(start: int, over: int, size: int) -> str:
    kind = "an lcs trace" if start else "an oracleGeneral file"
    return f"not {kind}, or one cut off: it ends {over} bytes into a {size}-byte record"
