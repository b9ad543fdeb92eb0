"""uvicorn's HTTP/1.1 protocol with the limits a public listener needs: at most `max_headers`
header fields and `max_head_bytes` of request line and headers (else 431), and the whole head
of each request read within `head_timeout_s` (else 408), so a client that never finishes its
headers (a slow drip, an HTTP/0.9 request line) holds a connection for seconds, not forever.
A request that is not valid HTTP/1.1 gets a 400 with a JSON error, as every other error does,
and so does one with two Host fields, an empty one or, in HTTP/1.1, none (RFC 9112 §3.2: which
of two a server behind would take is anyone's guess); header values reach the app without the
whitespace around them. The POP's TLS listener (granian) has the same limits built in
(edge/pop/serve.py), and the POP's app refuses what it lets through of those Host fields
(edge/pop/app.py).

`serve` runs an app on it until SIGTERM or SIGINT, then stops accepting, finishes the requests
in flight for up to a grace period and returns, so the process exits 0 (uvicorn alone would
re-raise the signal and die of it)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Generator, Iterable
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from httprules.errors import error_body
from httprules.logs import route_access_log

MAX_HEADERS = 100
MAX_HEAD_BYTES = 32 << 10
HEAD_TIMEOUT_S = 15.0

NO_HOST = "an HTTP/1.1 request names its host in one Host header field"
TWO_HOSTS = "more than one Host header field"
_REASONS = {400: b"Bad Request", 408: b"Request Timeout", 431: b"Request Header Fields Too Large"}
_CODES = {400: "bad_request", 408: "request_timeout", 431: "headers_too_large"}


class _HeadRefused(Exception):
    pass


def host_refusal(headers: Iterable[tuple[bytes, bytes]], http_version: str) -> str | None:
    """Why a request's Host fields (`headers` with lower-case names) are refused, or None
    (RFC 9112 §3.2: which of two a server behind would take is anyone's guess; an http URI has
    no empty host, RFC 9110 §4.2.1). The listener's parser asks, and so does the POP's app for
    what granian hands it (both fields of two, an empty one for none)."""
    hosts = [value for name, value in headers if name == b"host"]
    if len(hosts) > 1:
        return TWO_HOSTS
    if http_version == "1.1" and not (hosts and hosts[0].strip(b" \t")):
        return NO_HOST
    return None


def limited_protocol(
    *,
    max_headers: int = MAX_HEADERS,
    max_head_bytes: int = MAX_HEAD_BYTES,
    head_timeout_s: float = HEAD_TIMEOUT_S,
) -> type[HttpToolsProtocol]:
    """The protocol class to give `uvicorn.run(..., http=...)`."""

    class LimitedHttpToolsProtocol(HttpToolsProtocol):
        # why the head being read is refused (status, message), if it is
        _refusal: tuple[int, str] | None = None
        _head_bytes = 0
        _head_timer: asyncio.TimerHandle | None = None
        # when the current request's head began (loop time); None between heads. The timer is
        # armed at most once per timeout, not per request: when it fires it looks at this.
        _head_started: float | None = None

        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            self._start_head_timer()

        def connection_lost(self, exc: Exception | None) -> None:
            self._stop_head_timer()
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None
            super().connection_lost(exc)

        def _start_head_timer(self) -> None:
            self._head_started = self.loop.time()
            if self._head_timer is None:
                self._head_timer = self.loop.call_later(head_timeout_s, self._check_head)

        def _stop_head_timer(self) -> None:
            self._head_started = None

        def _check_head(self) -> None:
            self._head_timer = None
            if self._head_started is None:
                return  # no head in progress: the next one arms the timer again
            left = self._head_started + head_timeout_s - self.loop.time()
            if left > 0:
                self._head_timer = self.loop.call_later(left, self._check_head)
            else:
                self._head_too_slow()

        def _head_too_slow(self) -> None:
            if self.cycle is None or self.cycle.response_complete:  # no request in progress
                self._refuse(408, "the request's headers did not arrive in time")

        def _refuse(self, status: int, message: str) -> None:
            body = error_body(_CODES[status], message)
            self.transport.write(
                b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\n"
                b"connection: close\r\n\r\n" % (status, _REASONS[status], len(body)) + body
            )
            self.transport.close()

        def send_400_response(self, msg: str) -> None:
            if self._refusal is not None:
                return self._refuse(*self._refusal)
            # as every other error, a JSON one (uvicorn's own is plain text)
            self._refuse(400, "not a valid HTTP/1.1 request")

        def _count(self, size: int) -> None:
            self._head_bytes += size
            if self._head_bytes > max_head_bytes or len(self.headers or ()) >= max_headers:
                self._refusal = (431, "too many or too large header fields")
                raise _HeadRefused

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._head_bytes = 0
            self._refusal = None
            self._start_head_timer()

        def on_url(self, url: bytes) -> None:
            self._count(len(url))
            super().on_url(url)

        def on_header(self, name: bytes, value: bytes) -> None:
            self._count(len(name) + len(value) + 4)
            # RFC 9110 §5.5: whitespace around a value is not part of it (the parser keeps it)
            super().on_header(name, value.strip(b" \t"))

        def on_headers_complete(self) -> None:
            refused = host_refusal(self.headers, self.parser.get_http_version())
            if refused is not None:
                self._refusal = (400, refused)
                raise _HeadRefused
            self._stop_head_timer()
            super().on_headers_complete()

    return LimitedHttpToolsProtocol


class _StoppableServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        """uvicorn's handling of SIGTERM/SIGINT (a graceful stop), minus raising the signal
        again afterwards: a server asked to stop that stopped cleanly has succeeded."""
        with super().capture_signals():
            try:
                yield
            finally:
                self._captured_signals.clear()


def serve(
    app: Any,
    *,
    host: str,
    port: int,
    log_level: str,
    grace_s: float,
    head_timeout_s: float = HEAD_TIMEOUT_S,
    access_log: str = "-",
) -> None:
    """Serve `app` on the limited protocol until told to stop; drain for up to `grace_s`.
    Logs go to the process's configuration (httprules/logs.py), access records to
    `access_log` ("-", "off" or a file); the app writes them (httprules/observe.py)."""
    close_access_log = route_access_log(access_log)
    config = uvicorn.Config(
        app,
        http=limited_protocol(head_timeout_s=head_timeout_s),
        host=host,
        port=port,
        log_level=log_level,
        log_config=None,  # uvicorn's records go through the process's own configuration
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=max(1, round(grace_s)),
    )
    try:
        _StoppableServer(config).run()
    finally:
        close_access_log()
