"""The POP's public plain-HTTP listener: uvicorn's HTTP/1.1 protocol with the limits of a
public listener (httprules/listener.py), run in every worker's event loop, with one shortcut.
A request the cache can answer at once (a fresh hit in memory, `Edge.answer_now`) is answered
as it arrives, as one write: no parser callbacks, no task, no ASGI messages, no server in
between. That is most of a POP's traffic (every viewer reloading the same playlists and
fetching the same segments), and it costs a few microseconds instead of the 15–30 an ASGI
round trip through a server takes (BENCHMARKS.md). Everything else (misses, disk hits,
conditionals, ranges, bodies, the POP's own endpoints, and any request that is not plainly
well formed) goes to uvicorn's parser and the ASGI app as usual, in order on its connection.

The shortcut takes only whole, simple heads: `GET` or `HEAD`, an origin-form target, HTTP/1.1,
header fields that are tokens with visible ASCII values, no body or connection handling
(Content-Length, Transfer-Encoding, Expect, Upgrade, a Connection other than keep-alive), at
most 8 KiB. Anything else
is left to the parser, which refuses what is malformed.

An answered body the client does not read is watched: a connection that takes none of it for
`send_timeout_s` is cut, as the ASGI path cuts a stalled reader. Connections idle after an
answer are closed after uvicorn's keep-alive timeout, as after any other response."""

from __future__ import annotations

import asyncio
import re
import urllib.parse
from collections.abc import Callable

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from httprules.asgi import Scope
from httprules.listener import MAX_HEADERS, limited_protocol

# answers a request from the cache at once (the whole response, in pieces), or None
AnswerNow = Callable[[Scope], "list[bytes] | None"]

MAX_QUICK_HEAD = 8 << 10
_SIMPLE_HEAD = re.compile(
    rb"(?:GET|HEAD) /[!-~]* HTTP/1\.1"
    rb"(?:\r\n[!#$%&'*+.^_`|~0-9A-Za-z-]+:[ \t!-~]*)*"
)
_LEFT_TO_PARSER = frozenset({b"content-length", b"transfer-encoding", b"expect", b"upgrade"})


def simple_request(head: bytes) -> tuple[str, bytes, list[tuple[bytes, bytes]]] | None:
    """(method, target, headers with lower-case names) of a request head (without its blank
    line) that is plainly well formed and has no body or connection handling; else None."""
    if not _SIMPLE_HEAD.fullmatch(head):
        return None
    lines = head.split(b"\r\n")
    if len(lines) > MAX_HEADERS:
        return None
    method, _, rest = lines[0].partition(b" ")
    headers = []
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.lower()
        value = value.strip(b" \t")
        if name in _LEFT_TO_PARSER or (name == b"connection" and value.lower() != b"keep-alive"):
            return None
        headers.append((name, value))
    return method.decode(), rest[:-9], headers


def front_protocol(
    answer_now: AnswerNow, send_timeout_s: float, on_stalled: Callable[[], None]
) -> type[HttpToolsProtocol]:
    """The protocol class for the public listener's uvicorn server."""
    base = limited_protocol()

    class FrontProtocol(base):  # type: ignore[valid-type,misc]
        _in_message = False  # the parser is inside a request (its head or body)
        _write_watch: asyncio.TimerHandle | None = None
        # keep-alive after answers given at once, checked lazily (armed at most once per
        # timeout, not per request); the ASGI path's answers arm uvicorn's own
        _idle_watch: asyncio.TimerHandle | None = None
        _answered_at = 0.0

        def data_received(self, data: bytes) -> None:
            while (
                not self._in_message
                and (self.cycle is None or self.cycle.response_complete)
                and not self.pipeline
            ):
                end = data.find(b"\r\n\r\n", 0, MAX_QUICK_HEAD)
                if end < 0:
                    break
                response = self._answer_now(data[:end])
                if response is None:
                    break
                self._answered(response)
                data = data[end + 4 :]
                if not data:
                    return
            super().data_received(data)

        def _answer_now(self, head: bytes) -> list[bytes] | None:
            request = simple_request(head)
            if request is None:
                return None
            method, target, headers = request
            raw_path, _, query = target.partition(b"?")
            path = raw_path.decode("ascii")
            scope: Scope = {
                "type": "http",
                "http_version": "1.1",
                "method": method,
                "scheme": self.scheme,
                "path": urllib.parse.unquote(path) if "%" in path else path,
                "raw_path": raw_path,
                "query_string": query,
                "headers": headers,
                "client": self.client,
                "server": self.server,
            }
            return answer_now(scope)

        def _answered(self, response: list[bytes]) -> None:
            self._unset_keepalive_if_required()
            self._stop_head_timer()
            self.transport.writelines(response)
            self.server_state.total_requests += 1
            left = self.transport.get_write_buffer_size()
            if left:
                self._watch_writes(left)
            self._answered_at = self.loop.time()
            if self._idle_watch is None:
                self._idle_watch = self.loop.call_later(self.timeout_keep_alive, self._check_idle)

        def on_message_begin(self) -> None:
            self._in_message = True
            super().on_message_begin()

        def on_message_complete(self) -> None:
            self._in_message = False
            super().on_message_complete()

        def _watch_writes(self, left: int) -> None:
            if self._write_watch is None:
                self._write_watch = self.loop.call_later(send_timeout_s, self._check_writes, left)

        def _check_writes(self, before: int) -> None:
            """Cut a connection that took none of what is waiting to be sent."""
            self._write_watch = None
            left = self.transport.get_write_buffer_size()
            if left == 0 or self.transport.is_closing():
                return
            if left >= before:
                on_stalled()
                self.transport.abort()
                return
            self._watch_writes(left)

        def _check_idle(self) -> None:
            """Close a connection idle for the keep-alive timeout since its last answer."""
            self._idle_watch = None
            if self.transport.is_closing():
                return
            if self._in_message or (self.cycle is not None and not self.cycle.response_complete):
                return  # a request in progress: its head timer or its response takes over
            left = self._answered_at + self.timeout_keep_alive - self.loop.time()
            if left > 0 or self.transport.get_write_buffer_size():
                self._idle_watch = self.loop.call_later(max(left, 0.1), self._check_idle)
            else:
                self.transport.close()

        def connection_lost(self, exc: Exception | None) -> None:
            for watch in (self._write_watch, self._idle_watch):
                if watch is not None:
                    watch.cancel()
            self._write_watch = self._idle_watch = None
            super().connection_lost(exc)

    return FrontProtocol
