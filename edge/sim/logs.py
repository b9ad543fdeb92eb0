"""Request logs as cache traces: libCacheSim's binary traces (edge/sim/binary_trace.py), text
access logs (nginx's, Apache's, Envoy's, S3's, Squid's and Traffic Server's, HAProxy's, a load
balancer's; JSON lines as nginx, Caddy, Traefik, Envoy and the CDNs write them,
edge/sim/json_log.py; the W3C extended format, CloudFront's and IIS's, edge/sim/w3c_log.py; or a
table of delimited values under a header, edge/sim/csv_log.py), the POP's own access log
(JSON lines, edge/wire.py's `AccessRecord`), each line read by edge/sim/log_lines.py, and
tables of requests whose columns are said or told (edge/sim/columns.py: libCacheSim's csv,
edge/sim/trace_layouts.py: webcachesim's, IBM's, Twitter's and Wikimedia's public traces). Every
format becomes the same list of `TraceRequest`s, with object ids given in order of first
appearance and a `locate` for the policies that follow viewers.

Files may be compressed, or text in UTF-16 (edge/sim/log_bytes.py reads their bytes). Several
files are one trace in time order: rotated logs named on a command line come newest first, and
several POPs' logs interleave; any number of them, never more than edge/sim/merging.py's FAN_IN
open at once."""

from __future__ import annotations

import json
from array import array
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast, overload

from edge.eviction.interval import locate_url
from edge.sim.binary_trace import BinaryTraceError, fault, records
from edge.sim.columns import NOT_READ, Columns, ColumnsError, column_rows
from edge.sim.csv_log import CsvLog
from edge.sim.json_log import Logged
from edge.sim.log_bytes import (
    HEAD,
    LINE_MAX,
    LogError,
    first_array_item,
    heads,
    is_json_array,
    lines,
    opened,
)
from edge.sim.log_lines import (
    access_record,
    edge_line,
    json_log_line,
    nginx_line,
    text_line,
)
from edge.sim.log_sources import SourceError, shown
from edge.sim.log_values import MISS
from edge.sim.merging import merged
from edge.sim.trace import RECORD, TraceRequest, read_oracle_general, write_oracle_columns
from edge.sim.trace_layouts import told_columns
from edge.sim.w3c_log import DIRECTIVE, FIELDS, W3cLog, W3cLogError
from edge.sim.workload import locate_object

FORMATS = ("oracle", "nginx", "edge", "csv")
CACHED_STATUSES = frozenset({200, 206, 304})  # requests a cache answers from an object


class Requests(Sequence[TraceRequest]):
    """Requests in order, kept as three columns of numbers (24 bytes a request, where a list
    of `TraceRequest`s took about 75): a log of 100 million requests fits in 2.4 GB. Each
    request is made a `TraceRequest` as it is read."""

    def __init__(self) -> None:
        self._times = array("q")
        self._ids = array("Q")
        self._sizes = array("q")

    def append(self, req: TraceRequest) -> None:
        self._times.append(req.timestamp)
        self._ids.append(req.obj_id)
        self._sizes.append(req.size)

    def __len__(self) -> int:
        return len(self._ids)

    def write_oracle(self, path: Path) -> int:
        """`write_oracle_general` of these requests, straight from the columns."""
        return write_oracle_columns(path, self._times, self._ids, self._sizes)

    def sizes(self) -> dict[int, int]:
        """Each object's size (its last request's)."""
        return dict(zip(self._ids, self._sizes, strict=True))

    @overload
    def __getitem__(self, index: int) -> TraceRequest: ...

    @overload
    def __getitem__(self, index: slice) -> list[TraceRequest]: ...

    def __getitem__(self, index: int | slice) -> TraceRequest | list[TraceRequest]:
        if isinstance(index, slice):
            columns = (self._times[index], self._ids[index], self._sizes[index])
            return list(map(TraceRequest, *columns))
        return TraceRequest(self._times[index], self._ids[index], self._sizes[index])

    def __iter__(self) -> Iterator[TraceRequest]:
        return map(TraceRequest, self._times, self._ids, self._sizes)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Requests):
            return (self._times, self._ids, self._sizes) == (
                other._times,
                other._ids,
                other._sizes,
            )
        return isinstance(other, Sequence) and list(self) == list(other)


@dataclass
class LoggedOutcomes:
    """What the cache that wrote a log did with the requests replayed, as it logged it: how
    many, and how many of them (and of their bytes) it took from its upstream."""

    requests: int = 0
    misses: int = 0
    bytes: int = 0
    missed_bytes: int = 0

    def add(self, missed: bool, size: int) -> None:
        self.requests += 1
        self.bytes += size
        if missed:
            self.misses += 1
            self.missed_bytes += size


@dataclass
class LoadedTrace:
    """Requests in order (a log's objects are numbered in order of first appearance)."""

    requests: Requests = field(default_factory=Requests)
    skipped: int = 0  # lines that are not cache requests (other methods, statuses, garbage)
    # what was skipped: a log's lines, or a trace's records of requests for no bytes (the
    # object is no cached copy's size; libCacheSim skips them too)
    skipped_unit: str = "line"
    # of the lines skipped, those that hold no request the format says how to read (a log
    # read as another format, a line cut short, a client that sent no HTTP), and the first
    unreadable: int = 0
    first_unreadable: str = ""
    # what the cache that wrote the log did, where it says (a POP's access log)
    logged: LoggedOutcomes = field(default_factory=LoggedOutcomes)
    located: dict[int, tuple[Hashable, int] | None] = field(default_factory=dict)
    # an oracleGeneral trace's ids are placed by arithmetic (the workload's numbering), not
    # by a table: `located` stays empty
    numbered: bool = False

    def unread(self, path: Path, line: str) -> None:
        """Count `line` of `path` as one that holds no request the format reads."""
        self.unreadable += 1
        if not self.first_unreadable:  # ("": a line over LINE_MAX, read through)
            shown_line = line.strip()[:200] or f"a line over {LINE_MAX >> 10} KiB"
            self.first_unreadable = f"{shown(path)}: {shown_line}"

    def object_sizes(self) -> dict[int, int]:
        """Each object's size (its last request's)."""
        return self.requests.sizes()

    @property
    def footprint_bytes(self) -> int:
        return sum(self.object_sizes().values())

    def locate(self, obj: object) -> tuple[Hashable, int] | None:
        """(group, segment number) of an object, for the policies that follow viewers."""
        return self.locator(obj) if isinstance(obj, int) else None

    @property
    def locator(self) -> Callable[[Hashable], tuple[Hashable, int] | None]:
        """`locate` as a replay should call it, once a request: compiled or built-in code,
        no Python frame a call (a replay of an oracleGeneral trace runs about a quarter
        faster; every key a replay gives is an int)."""
        if self.numbered:
            return locate_object
        return cast("Callable[[Hashable], tuple[Hashable, int] | None]", self.located.get)


def _oracle(path: Path, progress: Callable[[int], object]) -> Iterator[TraceRequest]:
    with opened(path, progress) as f:
        try:
            for at, obj, size in records(f):
                yield TraceRequest(at, obj, size)
        except BinaryTraceError as exc:
            raise LogError(f"{shown(path)}: {exc}") from None


def guess_format(path: Path) -> str | None:
    """The format `path`'s first request looks like (None: none, or unreadable): a hint
    when a replay in another format found no requests."""
    try:
        return _sniff(path) or None
    except (OSError, LogError, SourceError):
        return None


def _sniff(path: Path) -> str | None:
    """The format the first line of `path` that is a request looks like, in its first 64 KiB
    after any NULs it begins with ("": it is empty; None: no line there is one); an OSError
    or LogError if it cannot be read (a damaged compressed file says so) or is binary but not
    whole oracleGeneral records (a trace cut off)."""
    head, after = heads(path)
    if not head:
        return ""
    # Text first: a log may hold NULs (a run of them where it was truncated under its
    # writer, a stray one in a line) and still be lines of requests.
    if found := _text_format(after):
        return found
    if b"\x00" in head:  # binary: oracleGeneral records hold zero bytes in every id
        if wrong := fault(head, whole=len(head) < HEAD):
            raise LogError(f"{shown(path)}: {wrong}")
        return "oracle"
    return None


def _text_format(head: bytes) -> str | None:
    """The format of the first line of `head` (a file's first HEAD bytes of text) that is a
    request (None: none is); of a JSON array's first record."""
    if is_json_array(head[:HEAD]):
        record = first_array_item(head)
        if record is not None and access_record(record) is not None:
            return "edge"
        return "nginx" if record is not None and json_log_line(record) else None
    lines = head.splitlines()
    if len(head) == HEAD and len(lines) > 1:
        lines.pop()  # (cut off where the head ends)
    first = _first_text(lines).decode("utf-8", "replace")
    if CsvLog().header(first):
        return "nginx"  # (delimited values under a header)
    if told_columns(first) is not None:
        return "csv"  # (a public trace's columns: edge/sim/trace_layouts.py)
    for raw in lines:  # a line of any format, whatever its method
        line = raw.decode("utf-8", "replace")
        if text_line(line) or line.startswith(FIELDS):  # (a W3C extended log's columns)
            return "nginx"
        if access_record(line) is not None:
            return "edge"
        if json_log_line(line):  # an nginx log_format of JSON lines, a CDN's, a shipper's
            return "nginx"
    return None


def resolve_format(
    paths: Iterable[Path], fmt: str, told: Mapping[Path, str | None] | None = None
) -> str:
    """`fmt`, or for "auto" the format every one of `paths` looks like (a LogError if one
    looks like none, or if they differ; `told`: what `guess_format` already said of some, not
    read again). Told "oracle", text files are refused: records read from text would be
    numbers made of letters."""
    files = list(paths)
    if fmt != "auto":
        if fmt == "oracle":
            for path in files:
                guess = guess_format(path)
                if guess not in (None, "oracle"):
                    raise LogError(
                        f"{shown(path)} is text, not oracleGeneral records (--format {guess}?)"
                    )
        return fmt
    guesses: dict[str, list[Path]] = {}
    for path in files:
        guess = told[path] if told and path in told else _sniff(path)
        if guess == "" and len(files) > 1:  # (a POP that served nothing, a fresh rotation)
            continue
        if not guess:
            raise LogError(
                f"cannot tell what {shown(path)} holds (empty, or no line of its first 64 KiB is a "
                f"request{_first_line(path)}): give --format oracle, nginx or edge, or --columns "
                "to say where a table's values are"
            )
        guesses.setdefault(guess, []).append(path)
    if len(guesses) > 1:
        kinds = "; ".join(
            f"{kind}: {', '.join(map(shown, paths))}" for kind, paths in guesses.items()
        )
        raise LogError(f"the files hold different formats ({kinds}): replay them apart")
    return next(iter(guesses), "edge")


def _first_text(lines: list[bytes]) -> bytes:
    """The first of `lines` that is not blank (b"": none)."""
    return next((raw for raw in lines if raw.strip()), b"")


def _first_line(path: Path) -> str:
    """ "; its first line: ..." where `path` begins with a line of text (a table's header, whose
    names `--columns` can say), else ""."""
    try:
        return _shown_line(_head_line(path))
    except (OSError, LogError, SourceError):
        return ""


def _head_line(path: Path) -> str:
    """The first line of text of `path`'s head, after any NULs it begins with ("": none)."""
    _, after = heads(path)
    return _first_text(after.splitlines()).decode("utf-8", "replace")


def _shown_line(line: str) -> str:
    """ "; its first line: ..." for `line`, if it is printable text, else ""."""
    text = line.strip()
    if not text or not text.isprintable() or "\ufffd" in text:
        return ""
    return f"; its first line: {text[:120]!r}" + ("..." if len(text) > 120 else "")


def load_trace(
    paths: Iterable[Path],
    fmt: str,
    progress: Callable[[int], object] = lambda n: None,
    columns: Columns | None = None,
) -> LoadedTrace:
    """All requests of `paths` in format `fmt` (csv: tables whose `columns` are said);
    several files are merged in time order (each read in its own order). `progress` is told
    the bytes read from the files as they are."""
    if fmt not in FORMATS:
        raise LogError(f"unknown format {fmt!r} (one of {', '.join(FORMATS)})")
    if columns is not None and fmt != "csv":
        raise LogError("--columns says where a table's values are: it goes with --format csv")
    trace = LoadedTrace()
    files = list(paths)
    if not files:
        return trace
    if fmt == "oracle":
        streams = [_oracle(path, progress) for path in files]
        trace.skipped_unit = "empty record"
        trace.numbered = True
        for req in merged(streams, _timestamp, _spill_records, _unspill_records):
            if req.size <= 0:
                trace.skipped += 1
                continue
            trace.requests.append(req)
        return trace
    parse = nginx_line if fmt == "nginx" else edge_line

    def entries(path: Path, number: int) -> Iterator[Logged]:
        if fmt == "csv":
            # (without times, a file's rows come after those of the files named before it)
            said = columns or _told_columns(path)
            yield from _table_entries(path, said, trace, progress, number * _ROWS_MAX)
            return
        w3c = W3cLog()  # a text log may be W3C extended: its directives say how to read it
        table = CsvLog()  # or delimited values under a header
        first = fmt == "nginx"
        for line in lines(path, progress):
            if fmt == "nginx" and line.startswith(DIRECTIVE):
                try:
                    w3c.directive(line)
                except W3cLogError as exc:
                    raise LogError(f"{shown(path)}: {exc}") from None
                continue
            if line.isspace():  # a blank line is no line of the log
                continue
            if first:
                first = False
                if table.header(line):
                    continue
            if w3c.started:
                parsed = w3c.record(line)
            elif table.started:
                if table.is_header(line):
                    continue
                parsed = table.record(line)
            else:
                parsed = parse(line)
            if parsed is not None and parsed[2] in CACHED_STATUSES:
                yield parsed
                continue
            trace.skipped += 1
            if parsed is None and not _a_request(line, fmt, w3c, table):
                trace.unread(path, line)

    ids: dict[Hashable, int] = {}
    sizes = array("q")  # each object's size by its number (0: not known yet)
    # A POP logs an object's own size: its last whole response's is its size now (an object
    # replaced). nginx logs the bytes it sent, and a 200 cut short when its client left (a
    # player abandoning a segment) is no smaller object: there an object is the most bytes
    # any answer sent of it, a range (206) too: an object asked for only in ranges (a player
    # seeking in an MP4) is at least its largest range, not its first.
    largest = fmt == "nginx"
    sized = (200, 206) if largest else (200,)
    parts = [entries(path, number) for number, path in enumerate(files)]
    logged = trace.logged
    groups: dict[Hashable, Hashable] = {}  # one copy of each rendition's key, not one an object
    for at, key, status, size, outcome in merged(parts, _time, _spill_entries, _unspill_entries):
        obj = ids.get(key)
        if obj is None:
            obj = ids[key] = len(ids)
            sizes.append(0)
            located = locate_url((key, ()))
            if located is not None:
                group = groups.setdefault(located[0], located[0])
                located = (group, located[1])
            trace.located[obj] = located
        if status in sized and size > 0 and not (largest and size < sizes[obj]):
            sizes[obj] = size
        known = sizes[obj] or size
        if known <= 0:  # a 304 or empty range for an object never seen whole
            trace.skipped += 1
            continue
        sizes[obj] = known
        trace.requests.append(TraceRequest(int(at), obj, known))
        if outcome:
            logged.add(outcome == MISS, known)
    return trace


_ROWS_MAX = 1 << 40  # rows of a file, counted as its time where it gives none


def _table_entries(
    path: Path,
    columns: Columns,
    trace: LoadedTrace,
    progress: Callable[[int], object],
    first_row: int,
) -> Iterator[Logged]:
    try:
        # (a table's lines as they are, a first one that begins "[{" too: its columns are said)
        for parsed, line in column_rows(lines(path, progress, arrays=False), columns, first_row):
            if parsed is not None and parsed is not NOT_READ:
                yield parsed
                continue
            trace.skipped += 1
            if parsed is None:
                trace.unread(path, line)
    except ColumnsError as exc:
        raise LogError(f"{shown(path)}: {exc}") from None


def _told_columns(path: Path) -> Columns:
    """Where the values are in `path`, a public trace told from its first line."""
    line = _head_line(path)
    told = told_columns(line)
    if told is None:
        raise LogError(
            f"{shown(path)} is no trace whose columns can be told (webcachesim's, IBM's object "
            f"store's, Twitter's, Wikimedia's{_shown_line(line)}): say them with --columns"
        )
    return told


def _a_request(line: str, fmt: str, w3c: W3cLog, table: CsvLog) -> bool:
    """Whether `line`, which gave no request to replay, is a request of another method (or
    status) the format reads, rather than a line it cannot read."""
    if w3c.started:
        return w3c.is_request(line)
    if table.started:
        return table.request(line) is not None
    if fmt == "edge":
        return access_record(line) is not None
    return text_line(line) or json_log_line(line)


def _timestamp(req: TraceRequest) -> int:
    return req.timestamp


def _time(entry: Logged) -> float:
    return entry[0]


def _spill_records(path: Path, requests: Iterator[TraceRequest]) -> None:
    """Merged records, written for the next merge (edge/sim/merging.py)."""
    with path.open("wb") as f:
        for req in requests:
            f.write(RECORD.pack(req.timestamp, req.obj_id, req.size, -1))


def _unspill_records(path: Path) -> Iterator[TraceRequest]:
    return read_oracle_general(path)


def _spill_entries(path: Path, entries: Iterator[Logged]) -> None:
    """Merged log entries as JSON lines (a path may hold any character), for the next merge."""
    with path.open("w", encoding="utf-8") as f:
        for entry in entries:
            f.write(json.dumps(entry) + "\n")


def _unspill_entries(path: Path) -> Iterator[Logged]:
    with path.open(encoding="utf-8") as f:
        for line in f:
            at, key, status, size, outcome = json.loads(line)
            yield at, key, status, size, outcome
