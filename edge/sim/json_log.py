"""One line of a JSON access log as a request. Each server names its fields its own way; a
line is read by the first of each list of names it holds, at its top or in the object where
the server nests the request (Caddy's `request`, Google Cloud's `httpRequest` and
`jsonPayload`, Azure's `properties`):

- an nginx log_format of JSON lines (`escape=json`): the variables' own names and the common
  short ones ($msec or a time as in the combined format, $request or a method and a target,
  $status, $body_bytes_sent);
- Caddy (`ts`, `request.method`, `request.uri`, `request.host`, `status`, `size`);
- Traefik (`StartUTC`, `RequestMethod`, `RequestHost`, `RequestPath`, `DownstreamStatus`,
  `DownstreamContentSize`);
- Envoy's JSON format (`start_time`, `method`, `authority`, `path`, `response_code`,
  `bytes_sent`);
- Google Cloud's load balancers, Cloud CDN and Media CDN (`timestamp`,
  `httpRequest.requestMethod`, `.requestUrl`, `.status`, `.responseSize`, `.cacheHit`; Media
  CDN's `jsonPayload.cacheStatus`, a chain of its caches' words);
- Cloudflare's Logpush (`EdgeStartTimestamp` as seconds, nanoseconds or RFC 3339,
  `ClientRequestMethod`, `ClientRequestHost`, `ClientRequestURI`, `EdgeResponseStatus`,
  `EdgeResponseBodyBytes` or `EdgeResponseBytes`; or `ClientRequestPath` with
  `ClientRequestQuery`, where those are the fields a job pushes);
- Akamai's DataStream 2 (`reqTimeSec`, `reqMethod`, `reqHost`, `reqPath` with `queryStr`,
  `statusCode`, `bytes`);
- Azure Front Door (`time`, `properties.httpMethod`, `.requestUri`, `.httpStatusCode`,
  `.responseBytes`);
- Fastly's JSON example (`timestamp`, `request_method`, `host`, `url`, `response_status`,
  `response_body_size`);
- CacheFly's shipped access logs (`timestamp`, `ClientReqHTTPMethod`, `ClientReqHTTPHost`,
  `ClientReqURI`, `EdgeResponseStatus`, `EdgeResponseBytes`; its cache fields, whose words its
  documentation does not explain, are not read);
- Tencent Cloud EdgeOne's (`RequestTime`, `RequestMethod`, `RequestHost`, `RequestUrl` with
  `RequestUrlQueryString`, `EdgeResponseStatusCode`, `EdgeResponseBytes`, `EdgeCacheStatus`),
  offline or pushed in real time;
- Huawei Cloud's CDN logs in its log service (`request_time` in milliseconds, `domain`,
  `method`, `uri` with `uri_param`, `http_code`, `response_size`, `hit_info`) and Tencent
  Cloud's (`time`, `host`, `method`, `url` with `param`, `http_code`, `rsp_size`, `hit`);
- Kong's log plugins (`started_at` in milliseconds, `request.method`, `request.uri`,
  `response.status`, `response.headers.content-length` else `response.size`, which counts the
  headers, and its proxy cache's `response.headers.x-cache-status`);
- the Elastic Common Schema (`@timestamp`, `http.request.method`, `url.original`, `url.domain`,
  `http.response.status_code`, `http.response.body.bytes`: nested objects, read by their
  dotted names) and OpenTelemetry's conventions (`http.request.method`, `url.path` with
  `url.query`, `server.address`, `http.response.status_code`, `http.response.body.size`).

A record that is none of these but carries a log line (a shipper's or a container runtime's:
`log`, `message`, `textPayload`, `MESSAGE`) is read as that line (edge/sim/log_lines.py).

Where a line names its site (a host field, or a whole URL as Google Cloud and Azure log it),
the host is part of the object's key: one server or CDN may serve several sites with the same
paths. The host of a request line ($request) or a target in absolute form is not: the POP keys
such a request by its path."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from typing import Final

from edge.pop.accesslog import logged_path
from edge.sim.log_values import any_time, hosted, outcome_of, split_target

# a record as read: its method, time, key, status, bytes sent, and what the cache did (HIT,
# MISS or 0)
Request = tuple[str, float, str, int, int, int]
Logged = tuple[float, str, int, int, int]  # a request a cache answers: the same, less its method


def cacheable(request: Request | None) -> Logged | None:
    """`request` without its method if it is a GET or HEAD (what a cache answers), else None."""
    return request[1:] if request is not None and request[0] in ("GET", "HEAD") else None


_NESTS = ("request", "httpRequest", "http_request", "properties", "jsonPayload")
_TIMES = (
    "msec", "time_iso8601", "time_local", "timestamp", "time", "@timestamp", "ts", "StartUTC",
    "start_time", "EdgeStartTimestamp", "reqTimeSec", "time_micros", "started_at",
    "RequestTime", "LogTime",
    "request_time",  # (Huawei Cloud's, in milliseconds; nginx's is a duration: last)
)  # fmt: skip
_METHODS = (
    "request_method", "method", "RequestMethod", "requestMethod", "httpMethod",
    "ClientRequestMethod", "reqMethod", "http.request.method", "http.method", "cs_method",
    "cs-method", "ClientReqHTTPMethod",
)  # fmt: skip
_TARGETS = (  # a target with its query
    "request_uri", "uri", "url", "RequestPath", "ClientRequestURI", "url.original", "http.target",
    "cs_uri", "cs-uri", "RequestUrl", "ClientReqURI",
)  # fmt: skip
# a path, its query logged apart (or none)
_PATHS = (
    "path", "reqPath", "url.path", "cs_uri_stem", "cs-uri-stem", "ClientRequestPath",
    "ClientReqPath",
)  # fmt: skip
_QUERIES = (  # "-": none
    "queryStr", "url.query", "query_string", "cs_uri_query", "cs-uri-query", "uri_param", "param",
    "RequestUrlQueryString", "ClientRequestQuery", "ClientReqQuery",
)  # fmt: skip
_URLS = ("requestUrl", "request_url", "requestUri", "url.full")  # whole URLs: they name the site
_HOSTS = (  # (CloudFront's Host header before its own domain name, where a table has both)
    "host_header", "host", "RequestHost", "ClientRequestHost", "reqHost", "hostName",
    "authority", "url.domain", "server.address", "cs_host", "cs-host", "cs(Host)", "domain",
    "ClientReqHTTPHost",
)  # fmt: skip
_STATUSES = (
    "status", "DownstreamStatus", "response_code", "response_status", "EdgeResponseStatus",
    "statusCode", "httpStatusCode", "http.response.status_code", "http.status_code", "sc_status",
    "sc-status", "response.status", "http_code", "EdgeResponseStatusCode",
)  # fmt: skip
_BYTES = (  # the body's bytes before all bytes sent, where a server logs both; Kong's
    # response's before the `size` of its request
    "body_bytes_sent", "sc_content_len", "sc-content-len", "response.headers.content-length",
    "response.size", "bytes_sent", "bytes", "size",
    "DownstreamContentSize", "response_body_size", "EdgeResponseBodyBytes", "EdgeResponseBytes",
    "responseBytes", "responseSize", "response_size", "rsp_size", "http.response.body.bytes",
    "http.response.body.size", "sc_bytes", "sc-bytes",
)  # fmt: skip
# what the cache did (edge/sim/log_values.py's outcome_of reads the words): nginx's
# $upstream_cache_status by its name or a short one, Akamai's and Azure's, Cloudflare's,
# Fastly's example's, Google Cloud's (true or false)
_CACHES = (
    "upstream_cache_status", "cache_status", "cacheStatus", "CacheCacheStatus",
    "response_state", "cacheHit", "cache", "x_edge_result_type", "x-edge-result-type",
    "result_type", "response.headers.x-cache-status", "hit_info", "hit", "EdgeCacheStatus",
)  # fmt: skip
# where a log shipper or a container runtime keeps the line it carries: Docker's json-file
# and Fluentd's `log`, Filebeat's and Logstash's `message`, Google Cloud's `textPayload`,
# journald's `MESSAGE`
_WRAPPERS = ("log", "message", "textPayload", "MESSAGE")
_CLOCK = re.compile(r"\d{1,2}:\d{2}:\d{2}(\.\d+)?$")  # a time of day, its date in a `date` field
_DEPTH = 4  # levels of nested objects named with dots (ECS's http.response.body.bytes)

_PARTS = (
    _TIMES, _METHODS, _TARGETS, _PATHS, _QUERIES, _URLS, _HOSTS, _STATUSES, _BYTES, _CACHES,
)  # fmt: skip


def json_object(line: str) -> dict[str, object] | None:
    """A log line's JSON object (None: it is none)."""
    value = json_value(line)
    return value if isinstance(value, dict) else None


def json_request(line: str) -> Request | None:
    """A JSON log line as (method, time, key, status, bytes sent, what the cache did: HIT,
    MISS or 0), whatever its method; None if it is no JSON object, or names no method,
    target, time or status."""
    top = json_object(line)
    return None if top is None else request_of(top)


def wrapped_line(top: Mapping[str, object]) -> str | None:
    """The log line a shipper's or a container runtime's JSON record carries (None: none)."""
    for name in _WRAPPERS:
        if isinstance(value := top.get(name), str) and value.strip():
            return value.rstrip("\r\n")
    return None


def request_of(top: Mapping[str, object]) -> Request | None:
    """A JSON log record as `json_request` gives it."""
    fields = dict(top)
    for name, value in top.items():
        if isinstance(value, dict):
            if name in _NESTS:
                fields |= value
            else:
                _dotted(value, name, fields, _DEPTH)
    return flat_request(fields, top.get("request"))


def flat_request(fields: Mapping[str, object], line: object) -> Request | None:
    """A record of `fields`, none of them nested, as `json_request` gives it (`line`: its
    top-level `request`, nginx's $request where it is a request line)."""
    stamp, method, target, path, query, url, host, status, sent, cache = _values(fields)
    if isinstance(request := line, str):  # nginx's $request: a request line
        method, _, rest = request.partition(" ")
        target = split_target(rest.split(" ", 1)[0])[1]
    else:
        named, target = _target(url, target, path, query)
        host = host or named
    if not method or not target or not status.isdigit() or not stamp:
        return None
    if _CLOCK.match(stamp) and isinstance(date := fields.get("date"), str):
        stamp = f"{date}T{stamp}"  # (CloudFront's fields as a table holds them)
    at = any_time(stamp)
    if at is None or not (sent in ("", "-") or sent.isdigit()):
        return None
    key = hosted(host, logged_path(target))
    outcome = outcome_of(cache) if cache else 0
    return method, at, key, int(status), int(sent) if sent.isdigit() else 0, outcome


def names_a_request(names: tuple[str, ...]) -> bool:
    """Whether a record with fields `names` could give a request: a time, a method, a target
    and a status."""
    times, methods, targets, paths, _, urls, _, statuses, _, _ = _held(names)
    line = "request" in names  # nginx's $request: the method and the target
    return bool(times and statuses and (line or (methods and (targets or paths or urls))))


_BY_LOWER_CASE: Final = {
    name.lower(): name for names in (*_PARTS, ("request", "date")) for name in names
}


def named_field(column: str) -> str:
    """The field a table's column names, its case aside ("Status" is `status`, "Bytes" is
    `bytes`); the column's own name where it names none."""
    return _BY_LOWER_CASE.get(column.lower(), column)


def fields_read(names: tuple[str, ...]) -> tuple[str, ...]:
    """Those of `names` that `request_of` reads in a record with fields `names`."""
    held = {name for names_of in _held(names) for name in names_of} | {"request", "date"}
    return tuple(name for name in names if name in held)


def _dotted(value: Mapping[str, object], prefix: str, into: dict[str, object], depth: int) -> None:
    """`value`'s fields into `into`, named `prefix.name` (a nested object's too, to `depth`)."""
    for name, inner in value.items():
        if isinstance(inner, dict):
            if depth > 1:
                _dotted(inner, f"{prefix}.{name}", into, depth - 1)
        else:
            into.setdefault(f"{prefix}.{name}", inner)


def _target(url: str, target: str, path: str, query: str) -> tuple[str, str]:
    """The site a line's whole URL names ("": none) and its target's path and query, from
    the first it has of a whole URL, a target, or a path and its query."""
    if url:
        return split_target(url)
    if target:
        path = split_target(target)[1]
        if "?" not in path and query not in ("", "-", "?"):  # (a path logged apart from its query)
            path += "?" + query.removeprefix("?")
        return "", path
    path = split_target(path)[1]
    if path and not path.startswith("/"):  # (Akamai's reqPath has no leading slash)
        path = "/" + path
    if path and query not in ("", "-", "?"):
        path += "?" + query.removeprefix("?")
    return "", path


@functools.lru_cache(maxsize=256)  # the lines of one log hold the same fields
def _held(keys: tuple[str, ...]) -> tuple[tuple[str, ...], ...]:
    """For each of a request's parts, the names of it a line with `keys` holds, first first."""
    present = frozenset(keys)
    return tuple(tuple(name for name in names if name in present) for names in _PARTS)


def _values(fields: Mapping[str, object]) -> list[str]:
    """Each of a request's parts (`_PARTS`) as text: the first of its names that `fields`
    holds as a string or a number ("": none does)."""
    out = []
    for names in _held(tuple(fields)):
        text = ""
        for name in names:
            value = fields[name]
            if isinstance(value, bool):  # (Google Cloud's cacheHit)
                text = "true" if value else "false"
                break
            if isinstance(value, str | int | float):
                text = str(value)
                break
        out.append(text)
    return out


def json_value(line: str) -> object:
    """A log line's JSON value; None if it is none (a line nested too deep for the parser is
    no record either)."""
    try:
        return json.loads(line)
    except (ValueError, RecursionError):
        return None
