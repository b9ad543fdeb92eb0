"""The POP's access log: one JSON object a line per request it answered (edge/wire.py's
`AccessRecord`), for operators and for `mediacdn cache replay --format edge`. The file is
reopened when it is moved or removed (logrotate's default), so it can be rotated under a
running POP; `-` sends the records to stderr with the other logs. Paths are logged without
their playback token; each record names the POP and the request id (the client's
`X-Request-Id`, else a new one, sent upstream with a fill and back to the client)."""

from __future__ import annotations

import time
from collections.abc import Callable

from edge.wire import AccessRecord
from httprules.asgi import Message, Scope, Send
from httprules.logs import ACCESS_LOGGER, log_access, route_access_log
from httprules.observe import with_request_id
from httprules.playback_tokens import MARK, split_path
from httprules.targets import has_dot_segments, without_dot_segments


class AccessLog:
    """`destination`: a file, or "-" for stderr with the other logs (in their format)."""

    def __init__(self, destination: str, pop: str) -> None:
        self._logger = f"{ACCESS_LOGGER}.{pop}"
        self._pop = pop
        self.close = route_access_log(destination, self._logger)

    def write(self, record: AccessRecord) -> None:
        log_access(record.to_json() | {"pop": self._pop}, self._logger)


class Recorder:
    """Wraps one request's `send` to see what went out, then makes its record."""

    def __init__(
        self,
        scope: Scope,
        send: Send,
        clock: Callable[[], float] = time.time,
        *,
        request_id: str = "",
    ) -> None:
        self.scope, self._send, self._clock = scope, send, clock
        self.request_id = request_id
        self.started = time.perf_counter()
        self.status = 0
        self.sent_bytes = 0
        self.object_bytes = 0
        self.cache = ""

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            headers = {k.lower(): v for k, v in message.get("headers", [])}
            self.cache = headers.get(b"x-cache", b"").decode("latin-1")
            whole = headers.get(b"content-range", b"").rpartition(b"/")[2]
            length = whole if whole.isdigit() else headers.get(b"content-length", b"")
            self.object_bytes = int(length) if length.isdigit() and self.status != 304 else 0
            if self.request_id:
                message["headers"] = with_request_id(message.get("headers", ()), self.request_id)
        elif message["type"] == "http.response.body":
            self.sent_bytes += len(message.get("body", b""))
        elif message["type"] == "http.response.pathsend":  # a whole stored file
            self.sent_bytes += self.object_bytes
        await self._send(message)

    def record(self) -> AccessRecord:
        return access_record(
            self.scope,
            status=self.status,
            sent_bytes=self.sent_bytes,
            object_bytes=self.object_bytes,
            cache=self.cache,
            started=self.started,
            request_id=self.request_id,
            at_s=self._clock(),
        )


def logged_path(raw: str) -> str:
    """A request's path (and query, if `raw` has one) as the cache keys it and the access log
    records it: dot segments resolved, and without a viewer's playback token (a log replayed
    as a trace sees one object for all viewers)."""
    path, mark, query = raw.partition("?")
    if "/" + MARK not in path and not has_dot_segments(path):  # (most paths: as they are)
        return raw
    return split_path(without_dot_segments(path)).path + mark + query


def access_record(
    scope: Scope,
    *,
    status: int,
    sent_bytes: int,
    object_bytes: int,
    cache: str,
    started: float,
    request_id: str,
    at_s: float | None = None,
) -> AccessRecord:
    """The record of a request answered (`started`: its `time.perf_counter()` on arrival)."""
    raw = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1")
    path = logged_path(raw)
    if scope.get("query_string"):
        path += "?" + scope["query_string"].decode("latin-1")
    client = scope.get("client")
    return AccessRecord(
        at_s=time.time() if at_s is None else at_s,
        client=client[0] if client else "",
        method=scope["method"],
        path=path,
        status=status,
        sent_bytes=sent_bytes,
        object_bytes=object_bytes,
        cache=cache,
        took_ms=(time.perf_counter() - started) * 1000,
        request_id=request_id,
    )
