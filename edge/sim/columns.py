"""A table of requests whose columns are said, not told from a header: libCacheSim's csv and
plain-text traces (a request a row, its columns given on the command line) and any table whose
header names its columns otherwise than the logs the replay knows ("Request Path", "Bytes
Sent"). The columns are said as libCacheSim's `cachesim -t` says them, so its command lines
carry over:

    time-col=2, obj-id-col=5, obj-size-col=4, delimiter=,, has-header=true

a column by its number from 1, or, under a header, by its name. Every row is a request, as
libCacheSim's simulator reads a trace: without `obj-size-col` each object is one byte (the
replay counts objects), without `time-col` a row's time is its number (and the rows of several
files follow one another in the order they are named)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from edge.sim.csv_log import split_values
from edge.sim.json_log import Logged
from edge.sim.log_values import any_time

# libCacheSim's keys this reader takes, and those it takes and leaves (an operation is not
# looked at, as libCacheSim's simulator does not; an id is a key whether or not a number)
_COLUMN_KEYS = {"time-col": "time", "obj-id-col": "obj", "obj-size-col": "size"}
_LEFT_KEYS = ("op-type-col", "op-col", "ttl-col", "obj-id-is-num", "cnt-col", "tenant-col")
_DELIMITER_NAMES = {"\\t": "\t", "tab": "\t", "\t": "\t", "space": " ", " ": " "}
_TRUE, _FALSE = ("true", "1", "yes"), ("false", "0", "no")


class ColumnsError(ValueError):
    pass


# the operations that are reads, where a trace names each request's (IBM's object store's,
# a memcached's)
READS = frozenset({"REST.GET.OBJECT", "REST.HEAD.OBJECT", "get", "gets"})
# a row that is a request of another operation: no request to replay, nor a row misread
NOT_READ: Logged = (0.0, "", 0, 0, 0)
BLANKS = " "  # a delimiter: a run of spaces or tabs, as webcachesim and awk read a line


@dataclass(frozen=True)
class Columns:
    """Where a table's time, object id and size are (a number from 1, a header's name, or
    None: not in it), its delimiter and whether its first row is a header. A trace told from
    its rows (edge/sim/trace_layouts.py) may say more: the column that names each request's
    operation (`reads`: only a read is a request a cache answers; a row without a size is then
    one of the object's known size), a key-value cache's key size (`key_size`: an object is its
    key and its value), and the time as a plain count of `unit` seconds (None: a date, or a
    count since the epoch told by its digits)."""

    obj: int | str
    time: int | str | None = None
    size: int | str | None = None
    delimiter: str = ","
    header: bool = False
    reads: int | None = None
    unit: float | None = None
    key_size: int | None = None


def parse_columns(spec: str) -> Columns:
    """`spec` as libCacheSim's `-t` writes it; a `ColumnsError` that says what is wrong."""
    said: dict[str, int | str | None] = {}
    delimiter, header = ",", False
    for key, value in _items(spec):
        if key in _COLUMN_KEYS:
            said[_COLUMN_KEYS[key]] = _column(key, value)
        elif key == "delimiter":
            delimiter = _DELIMITER_NAMES.get(value, value)
            if len(delimiter) != 1:
                raise ColumnsError(f"delimiter={value!r} is not one character (or \\t, tab)")
        elif key == "has-header":
            if value.lower() not in _TRUE + _FALSE:
                raise ColumnsError(f"has-header={value!r} is not true or false")
            header = value.lower() in _TRUE
        elif key not in _LEFT_KEYS:
            known = ", ".join([*_COLUMN_KEYS, "delimiter", "has-header"])
            raise ColumnsError(f"unknown key {key!r} in the columns (one of {known})")
    obj = said.get("obj")
    if obj is None:
        raise ColumnsError("the columns need obj-id-col: which column names the object")
    named = [str(v) for v in said.values() if isinstance(v, str)]
    if named and not header:
        raise ColumnsError(f"columns named ({', '.join(named)}) need has-header=true")
    return Columns(obj, said.get("time"), said.get("size"), delimiter, header)


def _items(spec: str) -> Iterator[tuple[str, str]]:
    """`spec`'s key=value items, split at commas; the delimiter's value is its one character
    even when that is a comma ("delimiter=,,")."""
    rest = spec.lstrip()  # (not its end: "delimiter= " may end it)
    while rest:
        key, equals, rest = rest.partition("=")
        key = key.strip().lower().replace("_", "-")
        if not equals or not key:
            raise ColumnsError(f"{spec!r}: items are key=value, separated by commas")
        if key == "delimiter" and rest[:1] == ",":
            value, rest = ",", rest[1:]
        elif key == "delimiter" and rest[:1] == "\t":
            value, rest = "\t", rest[1:]
        else:
            value, _, rest = rest.partition(",")
        yield key, value.strip() if value not in (" ", "\t") else value
        rest = rest.lstrip() if rest.strip() else ""
        rest = rest[1:].lstrip() if rest[:1] == "," else rest


def _column(key: str, value: str) -> int | str:
    if value.isdigit():
        if int(value) < 1:
            raise ColumnsError(f"{key}={value}: columns are numbered from 1")
        return int(value) - 1
    if not value:
        raise ColumnsError(f"{key} names no column")
    return value


def column_rows(
    lines: Iterable[str], columns: Columns, first_row: int = 0
) -> Iterator[tuple[Logged | None, str]]:
    """Each row of a table's `lines` as a request answered whole, (time, key, 200, size, 0),
    with the row; None for a row that gives none (too few values, a size or time that is no
    number). Blank rows are none of it; a header is read, not given. Without a time column,
    a row's time is its number, counted from `first_row` + 1."""
    index: tuple[int, int | None, int | None] | None = None
    if not columns.header:
        index = _numbered(columns)
    row = first_row
    for line in lines:
        if line.isspace() or not line:
            continue
        if columns.delimiter == BLANKS:
            values = line.split()
        else:
            values = split_values(line, columns.delimiter)
        if index is None:
            index = _indexed(columns, values)
            continue
        row += 1
        if columns.reads is None:
            yield _request(values, index, row, columns.unit), line
        elif columns.reads >= len(values):  # (too short to say what it did)
            yield None, line
        elif values[columns.reads] not in READS:  # a write, a delete: passed over, as a
            yield NOT_READ, line  # log's other methods are
        elif columns.key_size is None:
            yield _request(values, index, row, columns.unit, sized=False), line
        else:
            yield _key_value(values, index, row, columns.unit, columns.key_size), line


def _key_value(
    values: list[str],
    index: tuple[int, int | None, int | None],
    row: int,
    unit: float | None,
    key_size: int,
) -> Logged | None:
    """A key-value cache's read: of its key and value, as libCacheSim sizes it; a read of
    an empty value (a key not found) is none, as libCacheSim skips it."""
    read = _request(values, index, row, unit)
    try:
        key_bytes = int(values[key_size])
    except (IndexError, ValueError):
        return None
    if read is None:
        return None
    at, key, status, value_bytes, outcome = read
    if value_bytes <= 0:
        return NOT_READ
    return at, key, status, key_bytes + value_bytes, outcome


def _numbered(columns: Columns) -> tuple[int, int | None, int | None]:
    return (
        int(columns.obj),
        None if columns.time is None else int(columns.time),
        None if columns.size is None else int(columns.size),
    )


def _indexed(columns: Columns, header: list[str]) -> tuple[int, int | None, int | None]:
    """Where the columns are, their names looked up in `header` (case aside)."""
    names = [name.strip().lower() for name in header]

    def at(column: int | str | None) -> int | None:
        if column is None or isinstance(column, int):
            return column
        try:
            return names.index(column.strip().lower())
        except ValueError:
            raise ColumnsError(
                f"no column named {column!r} in the header ({', '.join(header)})"
            ) from None

    obj = at(columns.obj)
    assert obj is not None
    return obj, at(columns.time), at(columns.size)


def _request(
    values: list[str],
    index: tuple[int, int | None, int | None],
    row: int,
    unit: float | None,
    sized: bool = True,
) -> Logged | None:
    """A row's request; None if it gives none. `sized`: a row must give a size (else one
    without is of the object's known size: 0)."""
    obj, time, size = index
    try:
        key = values[obj].strip()
        at = float(row) if time is None else _time(values[time].strip(), unit)
        if size is None:
            bytes_ = 1
        else:
            bytes_ = int(values[size].strip()) if sized or size < len(values) else 0
    except (IndexError, ValueError):
        return None
    if not key:
        return None
    return at, key, 200, bytes_, 0


def _time(text: str, unit: float | None) -> float:
    """A row's time: a count of `unit` seconds; else a date, or a number as the trace counts
    it (a count since the epoch in seconds or finer is seconds, as the logs' are; a trace's own
    clock is kept as it is)."""
    at = any_time(text) if unit is None else None
    if at is not None:
        return at
    number = float(text) * (unit or 1.0)
    if not math.isfinite(number):
        raise ValueError(f"{text} is no time")
    return number
