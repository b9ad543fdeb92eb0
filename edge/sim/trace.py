"""Request traces in libCacheSim's oracleGeneral binary format, and replaying them."""

from __future__ import annotations

import gc
import struct
from array import array
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from edge.eviction.policy import EvictionPolicy

# oracleGeneral: per request, little-endian and packed:
# uint32 timestamp, uint64 object id, uint32 object size, int64 next access (virtual time).
RECORD = struct.Struct("<IQIq")
UINT32_MAX: Final = 0xFFFF_FFFF
# The policies make no reference cycles as they replay (tests/edge/sim/test_replay_collector.py
# checks every one), so the cyclic collector's passes over their objects during a replay find
# nothing to free; the full ones walk every object cached (4% of a replay's instructions at 10%
# of the bench trace's footprint). While a replay runs, a first-generation pass comes every
# REPLAY_COLLECT_EVERY allocations rather than every 700: still a bound on what a cycle made by
# a policy to come could hold.
REPLAY_COLLECT_EVERY: Final = 100_000


class TraceRequest:
    """One request of a trace: its time (seconds), the object asked for and the object's size
    in bytes. Read-only. A plain class, not a frozen dataclass: compiled, it is made natively
    (0.1 µs), where a frozen dataclass's generated `__init__` runs in the interpreter (0.4 µs,
    as long as LRU takes to replay the request it is made for: a loaded log is replayed from
    its columns, one request made at a time)."""

    __slots__ = ("obj_id", "size", "timestamp")

    def __init__(self, timestamp: int, obj_id: int, size: int) -> None:
        self.timestamp: Final = timestamp
        self.obj_id: Final = obj_id
        self.size: Final = size

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TraceRequest):
            return NotImplemented
        return (self.timestamp, self.obj_id, self.size) == (
            other.timestamp,
            other.obj_id,
            other.size,
        )

    def __repr__(self) -> str:
        return f"TraceRequest(timestamp={self.timestamp}, obj_id={self.obj_id}, size={self.size})"


def write_oracle_general(path: Path, requests: Iterable[TraceRequest]) -> int:
    """Write `requests`, filling in each one's next access time (-1 if none). Returns count."""
    times, ids, sizes = array("q"), array("Q"), array("q")
    for req in requests:
        times.append(req.timestamp)
        ids.append(req.obj_id)
        sizes.append(req.size)
    return write_oracle_columns(path, times, ids, sizes)


def write_oracle_columns(
    path: Path, times: Sequence[int], ids: Sequence[int], sizes: Sequence[int]
) -> int:
    """`write_oracle_general` of requests kept as columns (8 bytes a request besides them).
    The format holds times and sizes in 32 bits: a time before 1970 or after 2106 is written
    as the nearest it can hold, a size of 4 GiB or more as 4 GiB - 1."""
    following = array("q", [-1]) * len(ids)
    seen: dict[int, int] = {}
    for vtime in range(len(ids) - 1, -1, -1):
        obj = ids[vtime]
        following[vtime] = seen.get(obj, -1)
        seen[obj] = vtime
    del seen
    pack = RECORD.pack
    with path.open("wb") as f:
        for at, obj, size, then in zip(times, ids, sizes, following, strict=True):
            f.write(pack(min(max(at, 0), UINT32_MAX), obj, min(size, UINT32_MAX), then))
    return len(ids)


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
    """Feed a trace through a policy as a cache would: touch, and insert on a miss (the
    cyclic collector less often meanwhile: REPLAY_COLLECT_EVERY)."""
    n = misses = total = missed = 0
    touch, insert = policy.touch, policy.insert
    thresholds = gc.get_threshold()
    ours = (max(thresholds[0], REPLAY_COLLECT_EVERY), *thresholds[1:])
    gc.set_threshold(*ours)
    try:
        for req in requests:
            if clock is not None:
                clock.now = float(req.timestamp)
            n += 1
            total += req.size
            key: object = req.obj_id  # one object for both calls (compiled code boxes each)
            if not touch(key):
                misses += 1
                missed += req.size
                insert(key, req.size)
    finally:  # set back, unless changed meanwhile (by another replay that ran beside it)
        if gc.get_threshold() == ours:
            gc.set_threshold(*thresholds)
    return ReplayResult(n, misses, total, missed)
