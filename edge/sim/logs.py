"""Request logs as cache traces: libCacheSim oracleGeneral files, nginx-style access logs
(combined format: time, request line, status, bytes) and the POP's own access log (JSON lines,
edge/wire.py's `AccessRecord`). Every format becomes the same list of `TraceRequest`s, with
object ids given in order of first appearance and a `locate` for the interval policy."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Hashable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from edge.eviction.interval import locate_url
from edge.sim.trace import RECORD, TraceRequest
from edge.sim.workload import locate_object
from edge.wire import AccessRecord, WireError

FORMATS = ("oracle", "nginx", "edge")
CACHED_STATUSES = frozenset({200, 206, 304})  # requests a cache answers from an object
_NGINX = re.compile(
    r'^\S+ \S+ \S+ \[(?P<time>[^\]]+)\] "(?P<method>[A-Z]+) (?P<path>\S+)[^"]*" '
    r"(?P<status>\d{3}) (?P<bytes>\d+|-)"
)


class LogError(ValueError):
    pass


@dataclass
class LoadedTrace:
    """Requests in order (a log's objects are numbered in order of first appearance)."""

    requests: list[TraceRequest] = field(default_factory=list)
    skipped: int = 0  # lines that are not cache requests (other methods, statuses, garbage)
    located: dict[int, tuple[Hashable, int] | None] = field(default_factory=dict)

    @property
    def footprint_bytes(self) -> int:
        sizes: dict[int, int] = {}
        for r in self.requests:
            sizes[r.obj_id] = r.size
        return sum(sizes.values())

    def locate(self, obj: object) -> tuple[Hashable, int] | None:
        """(group, segment number) of an object, for the interval policy."""
        return self.located.get(obj) if isinstance(obj, int) else None


def _oracle(path: Path, progress: Callable[[int], object]) -> Iterator[TraceRequest]:
    with path.open("rb") as f:
        while chunk := f.read(RECORD.size * 4096):
            progress(len(chunk))
            if len(chunk) % RECORD.size:
                raise LogError(f"{path}: not an oracleGeneral file (size is not records)")
            for ts, obj, size, _ in RECORD.iter_unpack(chunk):
                yield TraceRequest(ts, obj, size)


def _lines(path: Path, progress: Callable[[int], object]) -> Iterator[str]:
    with path.open("rb") as f:
        for raw in f:
            progress(len(raw))
            yield raw.decode("utf-8", "replace")


def _nginx(line: str) -> tuple[float, str, int, int] | None:
    match = _NGINX.match(line)
    if match is None or match["method"] not in ("GET", "HEAD"):
        return None
    try:
        at = datetime.strptime(match["time"], "%d/%b/%Y:%H:%M:%S %z").timestamp()
    except ValueError:
        return None
    sent = 0 if match["bytes"] == "-" else int(match["bytes"])
    return at, match["path"], int(match["status"]), sent


def _edge(line: str) -> tuple[float, str, int, int] | None:
    try:
        record = AccessRecord.from_json(json.loads(line))
    except (ValueError, WireError):
        return None
    if record.method not in ("GET", "HEAD"):
        return None
    return record.at_s, record.path, record.status, record.object_bytes or record.sent_bytes


def load_trace(
    paths: Iterable[Path], fmt: str, progress: Callable[[int], object] = lambda n: None
) -> LoadedTrace:
    """All requests of `paths` (read in turn) in format `fmt`; `progress` is told the bytes
    read as they are."""
    if fmt not in FORMATS:
        raise LogError(f"unknown format {fmt!r} (one of {', '.join(FORMATS)})")
    trace = LoadedTrace()
    ids: dict[Hashable, int] = {}
    sizes: dict[int, int] = {}
    for path in paths:
        if fmt == "oracle":
            for req in _oracle(path, progress):
                if req.obj_id not in trace.located:
                    trace.located[req.obj_id] = locate_object(req.obj_id)
                trace.requests.append(req)
            continue
        parse = _nginx if fmt == "nginx" else _edge
        for line in _lines(path, progress):
            parsed = parse(line)
            if parsed is None or parsed[2] not in CACHED_STATUSES:
                trace.skipped += 1
                continue
            at, key, status, size = parsed
            obj = ids.get(key)
            if obj is None:
                obj = ids[key] = len(ids)
                trace.located[obj] = locate_url((key, ()))
            if status == 200 and size > 0:
                sizes[obj] = size  # a whole object: its size now
            known = sizes.get(obj) or size
            if known <= 0:  # a 304 or empty range for an object never seen whole
                trace.skipped += 1
                continue
            sizes[obj] = known
            trace.requests.append(TraceRequest(int(at), obj, known))
    return trace
