"""One line of a request log as a request: a text access log line (nginx's or Apache's
combined or common format, with or without fields around them; Squid's native format, which
Apache Traffic Server writes too; HAProxy's HTTP log), an nginx log_format of JSON lines
(Caddy's and Traefik's too), or a POP's own access record (edge/wire.py's `AccessRecord`).
Each gives (time, path, status, bytes), or None for a line that is no GET or HEAD request."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Sequence
from datetime import UTC, datetime

from edge.pop.accesslog import logged_path
from edge.wire import AccessRecord, WireError

# A text access log line (nginx's combined or common format, Apache's, or either with other
# fields around them, such as a virtual host first): the quoted request line, then the status
# and the bytes sent; its time is the bracketed field before the request ([$time_local] or
# [$time_iso8601]), else an ISO 8601 time or a $msec there.
_REQUEST = re.compile(r'"(?P<method>[A-Z]+) (?P<path>\S+)[^"]*" (?P<status>\d{3}) (?P<bytes>\d+|-)')
_BRACKETED = re.compile(r"\[([^\]]+)\]")
_BARE_TIME = re.compile(
    r"(?:^|\s)(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)?|\d{9,11}\.\d{3})(?=\s)"
)


# A line of Squid's native access log, the format Apache Traffic Server calls `squid` too:
# time ($msec-like), elapsed, client, result code/status, bytes sent (headers too), method, URL.
_SQUID = re.compile(
    r"^\s*(?P<at>\d{9,11}(?:\.\d{1,6})?)\s+\S+\s+\S+\s+[A-Z][A-Z_]*/(?P<status>\d{3})\s+"
    r"(?P<bytes>\d+)\s+(?P<method>[A-Z]+)\s+(?P<path>\S+)"
)


# A line of HAProxy's HTTP log (`option httplog`, after any syslog prefix): the date it took
# the request (with milliseconds), frontend, backend/server, timers, status, bytes sent to the
# client (headers too; `+` before them under `option logasap`), ..., the quoted request last.
_HAPROXY = re.compile(
    r"\[(?P<at>\d\d/[A-Za-z]{3}/\d{4}:\d\d:\d\d:\d\d\.\d+)\] \S+ \S+ [-+\d/]+ "
    r"(?P<status>-?\d+) \+?(?P<bytes>\d+) .*\"(?P<method>[A-Z]+) (?P<path>[^\s\"]+)[^\"]*\"\s*$"
)


# a request target in absolute form (`http://host/path`, sent by a client that takes the POP
# for a proxy): everything up to its path
_ABSOLUTE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://[^/?]*")


def nginx_line(line: str) -> tuple[float, str, int, int] | None:
    if line.startswith("{"):
        return _nginx_json(line)
    match = _REQUEST.search(line)
    if match is None:
        return _squid_line(line)
    if match["method"] not in ("GET", "HEAD"):
        return None
    at = _text_time(line[: match.start()])
    if at is None:
        return None
    sent = 0 if match["bytes"] == "-" else int(match["bytes"])
    return at, logged_path(split_target(match["path"])[1]), int(match["status"]), sent


def _squid_line(line: str) -> tuple[float, str, int, int] | None:
    """A line of Squid's native log, or of HAProxy's HTTP log (each logs the bytes it sent,
    headers too: a 304's are no size of the object)."""
    match = _SQUID.match(line)
    if match is not None:
        at: float | None = float(match["at"])
    elif (match := _HAPROXY.search(line)) is not None:
        at = log_time(match["at"])
    else:
        return None
    if at is None or match["method"] not in ("GET", "HEAD") or match["status"].startswith("-"):
        return None
    status = int(match["status"])
    sent = 0 if status == 304 else int(match["bytes"])
    host, path = split_target(match["path"])
    path = logged_path(path)
    if match.re is _SQUID and host:  # a proxy's log holds many sites: the same path of two
        path = hosted(host, path)  # hosts is two objects
    return at, path, status, sent


def hosted(host: str, path: str) -> str:
    """The key of `path` on `host` (lower case, without a default port), scheme-relative:
    one object over http and https, as a shared cache keeps it."""
    host = host.lower().rsplit("@", 1)[-1].removesuffix(":80").removesuffix(":443")
    return f"//{host}{path}" if host else path


# An nginx log_format of JSON lines (`escape=json`) names its fields as its operator likes;
# these are the variables' own names and the common short ones, first found first used; then
# Caddy's (`ts`, its request's `method` and `uri` in a nested `request`, `size`) and
# Traefik's (`StartUTC`, `RequestMethod`, `RequestPath`, `DownstreamStatus`,
# `DownstreamContentSize`). A time is ISO 8601, the combined format's, or seconds since the
# epoch (nginx's $msec, Caddy's `ts`).
_JSON_TIMES = (
    "msec", "time_iso8601", "time_local", "timestamp", "time", "@timestamp", "ts", "StartUTC",
)  # fmt: skip
_JSON_METHODS = ("request_method", "method", "RequestMethod")
_JSON_TARGETS = ("request_uri", "uri", "path", "RequestPath")
_JSON_STATUSES = ("status", "DownstreamStatus")
_JSON_BYTES = ("body_bytes_sent", "bytes_sent", "bytes", "size", "DownstreamContentSize")
_EPOCH = re.compile(r"^\d{9,11}(?:\.\d+)?$")


def _nginx_json(line: str) -> tuple[float, str, int, int] | None:
    request = json_request(line)
    if request is None or request[0] not in ("GET", "HEAD"):
        return None
    return request[1:]


def json_request(line: str) -> tuple[str, float, str, int, int] | None:
    """A line of an nginx log in JSON, whatever its method: the method, its time ($msec, or a
    time as in the combined format), its target ($request, or a method and a target), $status
    and the bytes sent."""
    fields = _json_line(line)
    if not isinstance(fields, dict):
        return None
    named_request, request = _field(fields, ("request",))
    nested = fields.get("request")
    if named_request:
        method, _, rest = request.partition(" ")
        target = rest.split(" ", 1)[0]
    else:
        within = nested if isinstance(nested, dict) else fields  # Caddy's request object
        method, target = _field(within, _JSON_METHODS)[1], _field(within, _JSON_TARGETS)[1]
    named_time, stamp = _field(fields, _JSON_TIMES)
    status, sent = _field(fields, _JSON_STATUSES)[1], _field(fields, _JSON_BYTES, "0")[1]
    if not method or not target or not status.isdigit() or not named_time:
        return None
    at = _msec(stamp) if _EPOCH.match(stamp) else log_time(stamp)
    if at is None or not (sent == "-" or sent.isdigit()):
        return None
    bytes_sent = int(sent) if sent.isdigit() else 0
    return method, at, logged_path(split_target(target)[1]), int(status), bytes_sent


def _field(fields: dict[str, object], names: Sequence[str], default: str = "") -> tuple[str, str]:
    """The first of `names` that `fields` holds as a string or number, and its value as text
    (an operator's format names a field one way or another); ("", `default`) if none is."""
    for name in names:
        value = fields.get(name)
        if isinstance(value, str | int | float):
            return name, str(value)
    return "", default


def _msec(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def split_target(target: str) -> tuple[str, str]:
    """A logged request target as (the host it names, its path and query): one in absolute
    form names a host (the POP keys it by its path alone), one in origin form none ("")."""
    if target.startswith("/") or (absolute := _ABSOLUTE.match(target)) is None:
        return "", target
    path = target[absolute.end() :]
    return absolute[0].split("://", 1)[1], path if path.startswith("/") else "/" + path


@functools.lru_cache(maxsize=4096)  # a busy log has many lines a second: parse each once
def log_time(text: str) -> float | None:
    """Seconds since the epoch of a log's time: nginx's $time_local (29/Nov/2026:12:00:00
    +0000), HAProxy's (29/Nov/2026:12:00:00.250, no zone: UTC) or $time_iso8601
    (2026-11-29T12:00:00+00:00; no zone: UTC)."""
    for layout in ("%d/%b/%Y:%H:%M:%S %z", "%d/%b/%Y:%H:%M:%S.%f"):
        try:
            at = datetime.strptime(text, layout)
        except ValueError:
            continue
        return (at if at.tzinfo else at.replace(tzinfo=UTC)).timestamp()
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        return None
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).timestamp()


def _text_time(head: str) -> float | None:
    """The time a text log line gives before its request (None: none)."""
    if (bracketed := _BRACKETED.search(head)) is not None:
        return log_time(bracketed[1])
    if (bare := _BARE_TIME.search(head)) is None:
        return None
    return log_time(bare[1]) if "-" in bare[1] else _msec(bare[1])


def _json_line(line: str) -> object:
    """A log line's JSON value; None if it is none (a line nested too deep for the parser is
    no record either)."""
    try:
        return json.loads(line)
    except (ValueError, RecursionError):
        return None


def access_record(line: str) -> AccessRecord | None:
    try:
        return AccessRecord.from_json(_json_line(line))
    except (ValueError, WireError):
        return None


def edge_line(line: str) -> tuple[float, str, int, int] | None:
    record = access_record(line)
    if record is None:
        return None
    if record.method not in ("GET", "HEAD"):
        return None
    return record.at_s, record.path, record.status, record.object_bytes or record.sent_bytes


def text_line(line: str) -> bool:
    """Whether `line` is a text access log line (whatever its method): a quoted request with
    its status and bytes after it, and a time before it."""
    request = _REQUEST.search(line)
    if request is None:
        return _SQUID.match(line) is not None or _HAPROXY.search(line) is not None
    return _text_time(line[: request.start()]) is not None
