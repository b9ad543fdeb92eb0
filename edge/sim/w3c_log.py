"""The W3C extended log format, as Amazon CloudFront's standard logs and IIS write it: a
`#Fields:` directive names the columns of the lines that follow it (tab-separated, as
CloudFront writes them, or space-separated, as IIS does: neither puts a space inside a value),
until the next `#Fields:`. A line gives (time, path, status, bytes) from `date` and `time` (UTC;
a `#Date:` directive's date where there is no `date` column), `cs-method`, `cs-uri-stem` (with
`cs-uri-query`, or `cs-uri`), `sc-status`, and the object's bytes: `sc-content-len` (the body's
length, CloudFront's) where it is a number, else `sc-bytes` (all bytes sent, headers too). Where
`cs(Host)` (CloudFront's) or `cs-host` (IIS's) names the site, it is part of the object's key:
a CDN's logs may hold several sites with the same paths."""

from __future__ import annotations

from edge.pop.accesslog import logged_path
from edge.sim.log_values import hosted, log_time, outcome_of, split_target

DIRECTIVE = "#"
FIELDS = "#Fields:"
DATE = "#Date:"
BYTE_COLUMNS = ("sc-content-len", "sc-bytes")  # the body's length first, else all bytes sent


class W3cLogError(ValueError):
    """A `#Fields:` directive the replay cannot use (it names no time, target or bytes)."""


class W3cLog:
    """The lines of one W3C extended log, read in order (the directives say how to read the
    lines after them)."""

    def __init__(self) -> None:
        self._columns: dict[str, int] = {}
        self._date = ""

    @property
    def started(self) -> bool:
        """Whether a `#Fields:` directive has been read: the lines after it are records."""
        return bool(self._columns)

    def directive(self, line: str) -> None:
        """Take a `#...` line: `#Fields:` sets the columns (W3cLogError if they cannot give a
        request), `#Date:` the date of records without one; the others say nothing needed."""
        if line.startswith(FIELDS):
            names = line[len(FIELDS) :].split()
            columns = {name.lower(): at for at, name in enumerate(names)}
            missing = [
                what
                for what, needed in (
                    ("time", ("time",)),
                    ("cs-method", ("cs-method",)),
                    ("cs-uri-stem or cs-uri", ("cs-uri-stem", "cs-uri")),
                    ("sc-status", ("sc-status",)),
                    ("sc-bytes or sc-content-len", BYTE_COLUMNS),
                )
                if not any(name in columns for name in needed)
            ]
            if missing:
                raise W3cLogError(
                    f"its #Fields name no {', no '.join(missing)}: a request's time, target, "
                    "status and size are needed"
                )
            self._columns = columns
        elif line.startswith(DATE):  # "#Date: 2026-11-29 12:00:00"
            words = line[len(DATE) :].split()
            self._date = words[0] if words else ""

    def record(self, line: str) -> tuple[float, str, int, int, int] | None:
        """A record line as (time, path, status, bytes, what the cache did: CloudFront's
        x-edge-result-type as HIT, MISS or 0); None if it is no GET or HEAD request or is not
        whole."""
        values = _split(line)
        if len(values) < len(self._columns):
            return None
        if self._value(values, "cs-method") not in ("GET", "HEAD"):
            return None
        status = self._value(values, "sc-status")
        named, target = split_target(self._value(values, "cs-uri-stem", "cs-uri"))
        # a CDN's logs may hold several sites: cs(Host), cs-host or a whole cs-uri names one
        host = self._value(values, "cs(host)", "cs-host") or named
        date = self._value(values, "date") or self._date
        at = log_time(f"{date}T{self._value(values, 'time')}") if date else None
        if at is None or not status.isdigit() or not target.startswith("/"):
            return None
        query = self._value(values, "cs-uri-query") if "cs-uri-stem" in self._columns else ""
        size = next((v for v in (self._value(values, n) for n in BYTE_COLUMNS) if v.isdigit()), "0")
        if status == "304":  # no body: what it sent is headers, no size of the object
            size = "0"
        path = logged_path(f"{target}?{query}" if query else target)
        if host:
            path = hosted(host, path)
        result = self._value(values, "x-edge-result-type")
        return at, path, int(status), int(size), outcome_of(result) if result else 0

    def is_request(self, line: str) -> bool:
        """Whether `line` is a whole record of a request, whatever its method."""
        values = _split(line)
        return len(values) >= len(self._columns) and bool(self._value(values, "cs-method"))

    def _value(self, values: list[str], *names: str) -> str:
        """The first of the columns `names` that the line fills ("-": empty), else ""."""
        for name in names:
            at = self._columns.get(name)
            if at is not None and values[at] != "-":
                return values[at]
        return ""


def _split(line: str) -> list[str]:
    """A record line's values: tab-separated (CloudFront's) or space-separated (IIS's)."""
    return line.rstrip("\r\n").split("\t") if "\t" in line else line.split()
