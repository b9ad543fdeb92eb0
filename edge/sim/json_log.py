"""One line of a JSON access log as a request. Each server names its fields its own way; a
line is read by the first of each list of names it holds, at its top or in the object where
the server nests the request (Caddy's `request`, Google Cloud's `httpRequest`, Azure's
`properties`):

- an nginx log_format of JSON lines (`escape=json`): the variables' own names and the common
  short ones ($msec or a time as in the combined format, $request or a method and a target,
  $status, $body_bytes_sent);
- Caddy (`ts`, `request.method`, `request.uri`, `request.host`, `status`, `size`);
- Traefik (`StartUTC`, `RequestMethod`, `RequestHost`, `RequestPath`, `DownstreamStatus`,
  `DownstreamContentSize`);
- Envoy's JSON format (`start_time`, `method`, `authority`, `path`, `response_code`,
  `bytes_sent`);
- Google Cloud's load balancers and CDN (`timestamp`, `httpRequest.requestMethod`, `.requestUrl`,
  `.status`, `.responseSize`);
- Cloudflare's Logpush (`EdgeStartTimestamp` as seconds, nanoseconds or RFC 3339,
  `ClientRequestMethod`, `ClientRequestHost`, `ClientRequestURI`, `EdgeResponseStatus`,
  `EdgeResponseBodyBytes` or `EdgeResponseBytes`);
- Akamai's DataStream 2 (`reqTimeSec`, `reqMethod`, `reqHost`, `reqPath` with `queryStr`,
  `statusCode`, `bytes`);
- Azure Front Door (`time`, `properties.httpMethod`, `.requestUri`, `.httpStatusCode`,
  `.responseBytes`);
- Fastly's JSON example (`timestamp`, `request_method`, `host`, `url`, `response_status`,
  `response_body_size`).

Where a line names its site (a host field, or a whole URL as Google Cloud and Azure log it),
the host is part of the object's key: one server or CDN may serve several sites with the same
paths. The host of a request line ($request) or a target in absolute form is not: the POP keys
such a request by its path."""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence

from edge.pop.accesslog import logged_path
from edge.sim.log_values import any_time, hosted, split_target

_NESTS = ("request", "httpRequest", "http_request", "properties")
_TIMES = (
    "msec", "time_iso8601", "time_local", "timestamp", "time", "@timestamp", "ts", "StartUTC",
    "start_time", "EdgeStartTimestamp", "reqTimeSec",
)  # fmt: skip
_METHODS = (
    "request_method", "method", "RequestMethod", "requestMethod", "httpMethod",
    "ClientRequestMethod", "reqMethod",
)  # fmt: skip
_TARGETS = ("request_uri", "uri", "url", "path", "RequestPath", "ClientRequestURI", "reqPath")
_URLS = ("requestUrl", "request_url", "requestUri")  # whole URLs: they name the site
_QUERIES = ("queryStr",)  # a query logged apart from its path ("-": none)
_HOSTS = ("host", "RequestHost", "ClientRequestHost", "reqHost", "hostName", "authority")
_STATUSES = (
    "status", "DownstreamStatus", "response_code", "response_status", "EdgeResponseStatus",
    "statusCode", "httpStatusCode",
)  # fmt: skip
_BYTES = (  # the body's bytes before all bytes sent, where a server logs both
    "body_bytes_sent", "bytes_sent", "bytes", "size", "DownstreamContentSize",
    "response_body_size", "EdgeResponseBodyBytes", "EdgeResponseBytes", "responseBytes",
    "responseSize", "response_size",
)  # fmt: skip


_PARTS = (_TIMES, _METHODS, _TARGETS, _URLS, _QUERIES, _HOSTS, _STATUSES, _BYTES)


def json_request(line: str) -> tuple[str, float, str, int, int] | None:
    """A JSON log line as (method, time, key, status, bytes sent), whatever its method; None
    if it is no JSON object, or names no method, target, time or status."""
    top = json_value(line)
    if not isinstance(top, dict):
        return None
    fields = dict(top)
    for nest in _NESTS:
        if isinstance(inner := top.get(nest), dict):
            fields |= inner
    times, methods, targets, urls, queries, hosts, statuses, sizes = _held(tuple(fields))
    if isinstance(request := top.get("request"), str):  # nginx's $request: a request line
        method, _, rest = request.partition(" ")
        host, target = _field(fields, hosts), split_target(rest.split(" ", 1)[0])[1]
    else:
        method, (named, target) = _field(fields, methods), _target(fields, urls, targets, queries)
        host = _field(fields, hosts) or named
    stamp, status, sent = _field(fields, times), _field(fields, statuses), _field(fields, sizes)
    if not method or not target or not status.isdigit() or not stamp:
        return None
    at = any_time(stamp)
    if at is None or not (sent in ("", "-") or sent.isdigit()):
        return None
    path = logged_path(target)
    return method, at, hosted(host, path), int(status), int(sent) if sent.isdigit() else 0


def _target(
    fields: Mapping[str, object],
    urls: Sequence[str],
    targets: Sequence[str],
    queries: Sequence[str],
) -> tuple[str, str]:
    """The site a line's whole URL names ("": none) and its target's path and query."""
    if url := _field(fields, urls):
        return split_target(url)
    target = split_target(_field(fields, targets))[1]
    if target and not target.startswith("/"):  # (Akamai's reqPath has no leading slash)
        target = "/" + target
    query = _field(fields, queries)
    if target and query not in ("", "-"):
        target += "?" + query
    return "", target


@functools.lru_cache(maxsize=256)  # the lines of one log hold the same fields
def _held(keys: tuple[str, ...]) -> tuple[tuple[str, ...], ...]:
    """For each of a request's parts, the names of it a line with `keys` holds, first first."""
    present = frozenset(keys)
    return tuple(tuple(name for name in names if name in present) for names in _PARTS)


def _field(fields: Mapping[str, object], names: Sequence[str]) -> str:
    """The first of `names` that `fields` holds as a string or number, as text ("": none)."""
    for name in names:
        value = fields.get(name)
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            return str(value)
    return ""


def json_value(line: str) -> object:
    """A log line's JSON value; None if it is none (a line nested too deep for the parser is
    no record either)."""
    try:
        return json.loads(line)
    except (ValueError, RecursionError):
        return None
