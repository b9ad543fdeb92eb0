"""Request traces in libCacheSim's oracleGeneral binary format, and replaying them."""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from edge.eviction.policy import EvictionPolicy

# oracleGeneral: per request, little-endian and packed:
# uint32 timestamp, uint64 object id, uint32 object size, int64 next access (virtual time).
RECORD = struct.Struct("<IQIq")


@dataclass(frozen=True, slots=True)
class TraceRequest:
    timestamp: int
    obj_id: int
    size: int


def write_oracle_general(path: Path, requests: Iterable[TraceRequest]) -> int:
    """Write `requests`, filling in each one's next access time (-1 if none). Returns count."""
    items = list(requests)
    next_access = [-1] * len(items)
    seen: dict[int, int] = {}
    for vtime in range(len(items) - 1, -1, -1):
        obj = items[vtime].obj_id
        next_access[vtime] = seen.get(obj, -1)
        seen[obj] = vtime
    with path.open("wb") as f:
        for req, nxt in zip(items, next_access, strict=True):
            f.write(RECORD.pack(req.timestamp, req.obj_id, req.size, nxt))
    return len(items)


def read_oracle_general(path: Path) -> Iterator[TraceRequest]:
    with path.open("rb") as f:
        while chunk := f.read(RECORD.size * 4096):
            for ts, obj, size, _ in RECORD.iter_unpack(chunk):
                yield TraceRequest(ts, obj, size)


@dataclass(frozen=True, slots=True)
class ReplayResult:
    requests: int
    misses: int
    bytes_requested: int
    bytes_missed: int

    @property
    def miss_ratio(self) -> float:
        return self.misses / self.requests if self.requests else 0.0

    @property
    def byte_miss_ratio(self) -> float:
        return self.bytes_missed / self.bytes_requested if self.bytes_requested else 0.0


class TraceClock:
    """The trace's own time, for policies that look at the clock during a replay."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def replay(
    policy: EvictionPolicy, requests: Iterable[TraceRequest], clock: TraceClock | None = None
) -> ReplayResult:
    """Feed a trace through a policy as a cache would: touch, and insert on a miss."""
    n = misses = total = missed = 0
    touch, insert = policy.touch, policy.insert
    for req in requests:
        if clock is not None:
            clock.now = float(req.timestamp)
        n += 1
        total += req.size
        if not touch(req.obj_id):
            misses += 1
            missed += req.size
            insert(req.obj_id, req.size)
    return ReplayResult(n, misses, total, missed)
