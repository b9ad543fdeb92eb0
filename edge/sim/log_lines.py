"""One line of a request log as a request: a text access log line (nginx's or Apache's
combined or common format, with or without fields around them, Apache's vhost_combined;
Envoy's default format; Amazon S3's server access log; Squid's native format, which Apache
Traffic Server writes too; HAProxy's HTTP log; an Elastic Load Balancer's access log;
bunny.net's, Alibaba Cloud's, Huawei Cloud's, Tencent Cloud's and UCloud's CDN logs), a JSON
log line (edge/sim/json_log.py), or a POP's own access record
(edge/wire.py's `AccessRecord`). Each gives (time, key, status, bytes), or None for a line
that is no GET or HEAD request."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from edge.pop.accesslog import logged_path
from edge.sim.json_log import Logged, cacheable, json_object, json_value, request_of, wrapped_line
from edge.sim.log_values import (
    any_time,
    hosted,
    log_time,
    outcome_of,
    split_target,
)
from edge.wire import AccessRecord, WireError

# A text access log line (nginx's combined or common format, Apache's, or either with other
# fields around them, such as a virtual host first): the quoted request line, then the status
# and the bytes sent; its time is the bracketed field before the request ([$time_local] or
# [$time_iso8601]), else an ISO 8601 time or a $msec there.
_REQUEST = re.compile(
    r'"(?P<method>[A-Z]+) (?P<path>\S+)[^"]*" (?P<status>\d{3}) (?P<bytes>[^\s"]+)'
)
_BRACKETED = re.compile(r"\[([^\]]+)\]")
_BARE_TIME = re.compile(
    r"(?:^|\s)(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)?|\d{9,11}\.\d{3})(?=\s)"
)
# Apache's vhost_combined (Debian's other_vhosts_access.log), or an nginx format with $host
# first: the site (a name, or any host with its port), then the client, ident and user before
# the bracketed time. Four fields there, not the combined format's three: the first names the
# site the request was for, and is part of the object's key.
_SITE_FIRST = re.compile(r"^(?P<site>[\w.-]*[A-Za-z][\w.-]*(?::\d+)?|[\w.-]+:\d+) \S+ \S+ \S+ \[")
# After the status, Envoy's default format logs its response flags ("-", or codes such as
# "UF,URX") then the bytes received, the bytes sent and the duration; S3's server access log
# logs an error code ("-" or a word) then the bytes sent, the object's size and the total
# time. In either, the second count is the one to size the object by (the bytes sent; the
# object's size) and the first says the bytes sent where the second is "-".
_COUNTS_AFTER = re.compile(r" (?P<first>\d+|-) (?P<second>\d+|-) \d+(?=\s|$)")
# What the cache that wrote the line did, logged after the request as a field of its own:
# nginx's $upstream_cache_status (HIT, MISS, EXPIRED, ...), bare, quoted or as name=value
# (`cache=HIT`), or Varnish's %{Varnish:hitmiss}x and %{Varnish:handling}x (hit, miss, pass).
# A word inside a quoted field of other words (a user agent) is none of it.
_CACHE_FIELD = re.compile(
    r'(HIT|MISS|BYPASS|EXPIRED|STALE|UPDATING|REVALIDATED|hit|miss|pass)(?="?(?:\s|$))'
)


# A line of Squid's native access log, the format Apache Traffic Server calls `squid` too:
# time ($msec-like), elapsed, client, result code/status, bytes sent (headers too), method, URL.
_SQUID = re.compile(
    r"^\s*(?P<at>\d{9,11}(?:\.\d{1,6})?)\s+\S+\s+\S+\s+(?P<result>[A-Z][A-Z_]*)/(?P<status>\d{3})\s+"
    r"(?P<bytes>\d+)\s+(?P<method>[A-Z]+)\s+(?P<path>\S+)"
)
# A line of HAProxy's HTTP log (`option httplog`, after any syslog prefix): the date it took
# the request (with milliseconds), frontend, backend/server, timers, status, bytes sent to the
# client (headers too; `+` before them under `option logasap`), ..., the quoted request last.
_HAPROXY = re.compile(
    r"\[(?P<at>\d\d/[A-Za-z]{3}/\d{4}:\d\d:\d\d:\d\d\.\d+)\] \S+ \S+ [-+\d/]+ "
    r"(?P<status>-?\d+) \+?(?P<bytes>\d+) .*\"(?P<method>[A-Z]+) (?P<path>[^\s\"]+)[^\"]*\"\s*$"
)
# A line of an Application (or Classic) Load Balancer's access log: [type,] time, balancer,
# client, target, three timings, its status, the target's, bytes received, bytes sent (headers
# too), then the quoted request with its whole URL.
_ELB = re.compile(
    r"^(?:[a-z0-9]+ )?(?P<at>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z) \S+ \S+ \S+ \S+ \S+ \S+ "
    r"(?P<status>\d{3}|-) \S+ \d+ (?P<bytes>\d+) \"(?P<method>[A-Z]+) (?P<path>\S+) "
)
# A line of bunny.net's CDN log: cache status, status, time (ms since the epoch), bytes sent,
# pull zone, client, referer, then the whole URL; every request it logs is a GET.
_BUNNY = re.compile(
    r"^(?P<result>[A-Z]+)\|(?P<status>\d{3})\|(?P<at>\d{12,14})\|(?P<bytes>\d+)\|[^|]*\|[^|]*\|[^|]*\|"
    r"(?P<path>[A-Za-z][A-Za-z0-9+.-]*://[^|\s]+)\|"
)
# The formats whose lines count headers in their bytes and name the site in their URL.
_OTHERS = (_SQUID, _HAPROXY, _ELB, _BUNNY)

# The text logs of the CDNs that write their own fields around a request, tried before the
# combined format's reading (an Alibaba Cloud line would read as one, its request's size taken
# for the bytes sent). Alibaba Cloud CDN's: [time] client, proxy, milliseconds, "referer",
# "method URL", status, request size, response size, cache status (HIT or MISS), ...
_ALIBABA = re.compile(
    r'^\[(?P<at>[^\]]+)\] \S+ \S+ \d+ "[^"]*" "(?P<method>[A-Z]+) (?P<path>[^"\s]+)" '
    r"(?P<status>\d{3}) \d+ (?P<bytes>\d+) (?P<result>[A-Z_]+)(?=\s|$)"
)
# Huawei Cloud CDN's: [time] client, milliseconds, "referer", "protocol", "method", "host",
# "path", status, response size, cache status, ...
_HUAWEI = re.compile(
    r'^\[(?P<at>[^\]]+)\] \S+ \d+ "[^"]*" "[^"]*" "(?P<method>[A-Z]+)" "(?P<host>[^"]*)" '
    r'"(?P<path>[^"]*)" (?P<status>\d{3}) (?P<bytes>\d+) (?P<result>[A-Z_]+)(?=\s|$)'
)
# Tencent Cloud CDN's, fields separated by spaces: time (yyyymmddHHMMSS), client, host, path,
# bytes, province, ISP, status, referer, milliseconds, "user agent", "range", method, protocol,
# cache status (hit or miss), ...
_TENCENT = re.compile(
    r"^(?P<at>\d{14}) \S+ (?P<host>\S+) (?P<path>/\S*) (?P<bytes>\d+) \S+ \S+ (?P<status>\d{3}) "
    r'(?:"[^"]*"|\S+) \d+ (?:"[^"]*"|\S+) (?:"[^"]*"|\S+) (?P<method>[A-Z]+) \S+ '
    r"(?P<result>[A-Za-z_]+)(?=\s|$)"
)
# UCloud's UCDN: [date time] client, "request", cache status (TCP_HIT ...), status, bytes sent
# (headers too), milliseconds, host, ...
_UCLOUD = re.compile(
    r'^\[(?P<at>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)\] \S+ "(?P<method>[A-Z]+) (?P<path>\S+)[^"]*" '
    r"(?P<result>[A-Z_]+) (?P<status>\d{3}) (?P<bytes>\d+) \d+ (?P<host>\S+)"
)
_CDNS = (_ALIBABA, _HUAWEI, _TENCENT, _UCLOUD)
_CHINA = timezone(timedelta(hours=8))  # (Tencent Cloud's times: its console's zone)


def nginx_line(line: str) -> Logged | None:
    if line.startswith("{"):
        return _json_line(line)
    if line[:1] == "[" or line[14:15] == " ":  # (one of _CDNS, or no such line at all)
        for form in _CDNS:
            if (cdn := form.match(line)) is not None:
                return _read(form, cdn)
    match = _REQUEST.search(line)
    if match is None:
        return _other_line(line)
    if match["method"] not in ("GET", "HEAD"):
        return None
    at = _text_time(line[: match.start()])
    end = match.end()
    sent = _sent(match["bytes"], line, end)
    if at is None or sent is None:
        return None
    path = logged_path(split_target(match["path"])[1])
    if (site := _SITE_FIRST.match(line)) is not None:
        path = hosted(site["site"], path)
    if line.endswith(('"\n', '"')) and line.count('"', end) == 4:
        return at, path, int(match["status"]), sent, 0  # (the combined format: no more)
    return at, path, int(match["status"]), sent, _cache_word(line, end)


def _cache_word(line: str, end: int) -> int:
    """HIT, MISS or 0: what a text line says its cache did, in a field after `end` (its
    request's status and bytes)."""
    for word in _CACHE_FIELD.finditer(line, end):
        start = word.start()
        quoted = line[start - 1] == '"'
        if line[start - 1 - quoted] not in " \t=:":  # (a field of its own, or a value)
            continue
        # outside a quoted field: an even number of quotes before it, or the quote that
        # opens a field holding the word alone
        if line.count('"', end, start) % 2 == quoted and (
            not quoted or line[word.end() : word.end() + 1] == '"'
        ):
            return outcome_of(word[1])
    return 0


def _sent(logged: str, line: str, end: int) -> int | None:
    """The bytes a text line says were sent (None: it says no number where they go)."""
    if logged.isdigit():
        return int(logged)
    counts = _COUNTS_AFTER.match(line, end)  # Envoy's, or S3's
    if counts is not None:
        count = counts["second"] if counts["second"] != "-" else counts["first"]
        return int(count) if count.isdigit() else 0
    return 0 if logged == "-" else None


def _other_line(line: str) -> Logged | None:
    """A line of Squid's native log, HAProxy's HTTP log, a load balancer's log or bunny.net's
    (each logs the bytes it sent, headers too: a 304's are no size of the object)."""
    for form in _OTHERS:
        match = form.search(line)
        if match is not None:
            return _read(form, match)
    return None


def _read(form: re.Pattern[str], match: re.Match[str]) -> Logged | None:
    """The request a line of one of `_OTHERS` or `_CDNS` gives."""
    at = _tencent_time(match["at"]) if form is _TENCENT else any_time(match["at"])
    method = match["method"] if form is not _BUNNY else "GET"
    if at is None or method not in ("GET", "HEAD") or not match["status"].isdigit():
        return None
    status = int(match["status"])
    sent = 0 if status == 304 else int(match["bytes"])
    host, path = split_target(match["path"])
    host = match.groupdict().get("host") or host
    path = logged_path(path)
    if form is not _HAPROXY and host:  # a proxy's or a balancer's log holds many sites: the
        path = hosted(host, path)  # same path of two hosts is two objects
    result = match.groupdict().get("result")  # (Squid's result code, bunny.net's status)
    return at, path, status, sent, outcome_of(result) if result else 0


def _tencent_time(text: str) -> float | None:
    """Seconds since the epoch of Tencent Cloud's yyyymmddHHMMSS (None: no such time)."""
    try:
        return datetime.strptime(text, "%Y%m%d%H%M%S").replace(tzinfo=_CHINA).timestamp()
    except ValueError:
        return None


def _json_line(line: str) -> Logged | None:
    top = json_object(line)
    if top is None:
        return None
    request = request_of(top)
    if request is None:  # a shipper's record of a log line: the line it carries
        carried = wrapped_line(top)
        return None if carried is None else nginx_line(carried)
    return cacheable(request)


def json_log_line(line: str) -> bool:
    """Whether `line` is a JSON log line of a request, whatever its method, or a shipper's
    record of a log line that is one."""
    top = json_object(line)
    if top is None:
        return False
    if request_of(top) is not None:
        return True
    carried = wrapped_line(top)
    return carried is not None and (text_line(carried) or json_log_line(carried))


def _text_time(head: str) -> float | None:
    """The time a text log line gives before its request (None: none)."""
    if (bracketed := _BRACKETED.search(head)) is not None:
        return log_time(bracketed[1])
    if (bare := _BARE_TIME.search(head)) is None:
        return None
    return any_time(bare[1])


def access_record(line: str) -> AccessRecord | None:
    try:
        return AccessRecord.from_json(json_value(line))
    except (ValueError, WireError):
        return None


def edge_line(line: str) -> Logged | None:
    """A POP's access record as (time, path, status, bytes, what its cache did: HIT, MISS or
    0 for neither)."""
    record = access_record(line)
    if record is None:
        return None
    if record.method not in ("GET", "HEAD"):
        return None
    size = record.object_bytes or record.sent_bytes
    return record.at_s, record.path, record.status, size, outcome_of(record.cache)


def text_line(line: str) -> bool:
    """Whether `line` is a text access log line (whatever its method): a quoted request with
    its status and bytes after it, and a time before it."""
    if any(form.match(line) is not None for form in _CDNS):
        return True
    request = _REQUEST.search(line)
    if request is None:
        return any(form.search(line) is not None for form in _OTHERS)
    return _text_time(line[: request.start()]) is not None
