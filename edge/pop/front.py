"""The POP's public plain-HTTP listener: uvicorn's HTTP/1.1 protocol with the limits of a
public listener (httprules/listener.py), run in every worker's event loop, with one shortcut.
A request the cache can answer at once (a fresh hit in memory, `Edge.answer_now`) is answered
as it arrives, as one write: no parser callbacks, no task, no ASGI messages, no server in
between. That is most of a POP's traffic (every viewer reloading the same playlists and
fetching the same segments), and it costs a few microseconds instead of the 15–30 an ASGI
round trip through a server takes (BENCHMARKS.md). A head answered so before is asked about
first as it is: its answer may be kept whole and given again (edge/pop/quick.py).
Everything else (misses, disk hits, conditionals, ranges, bodies, the POP's own endpoints,
and any request that is not plainly well formed) goes to uvicorn's parser and the ASGI app as
usual, in order on its connection.

The shortcut takes only whole, simple heads: `GET` or `HEAD`, an origin-form target, HTTP/1.1,
header fields that are tokens with visible ASCII values, one Host naming a host, no body or
connection handling (Content-Length, Transfer-Encoding, Expect, Upgrade, a Connection other
than keep-alive), at most 8 KiB. Anything else
is left to the parser, which refuses what is malformed.

An answered body the client does not read is watched: a connection that takes none of it for
`send_timeout_s` is cut, as the ASGI path cuts a stalled reader. Connections idle after an
answer are closed after uvicorn's keep-alive timeout, as after any other response."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import urllib.parse
from collections.abc import Callable

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from edge.pop.fill import READ_SIZE
from edge.pop.responses import FileAnswer
from edge.pop.sendbuffer import SendBudget
from httprules.asgi import Scope
from httprules.listener import HEAD_TIMEOUT_S, MAX_HEADERS, host_refusal, limited_protocol

# answers a request from the cache at once (the whole response, in pieces, or a head and an
# open file), or None
AnswerNow = Callable[[Scope, bytes], "list[bytes] | FileAnswer | None"]
# the answer kept for a request head answered at once before, if it still holds, or None
AnswerAgain = Callable[[bytes], "list[bytes] | None"]

log = logging.getLogger("mediacdn.edge")

MAX_QUICK_HEAD = 8 << 10
# parsed heads kept per worker, each of at most 2 KiB (a few MiB in all; forgotten all at once)
HEADS_KEPT = 1024
MAX_KEPT_HEAD = 2 << 10
_SIMPLE_HEAD = re.compile(
    rb"(?:GET|HEAD) /[!-~]* HTTP/1\.1"
    rb"(?:\r\n[!#$%&'*+.^_`|~0-9A-Za-z-]+:[ \t!-~]*)*"
)
_LEFT_TO_PARSER = frozenset({b"content-length", b"transfer-encoding", b"expect", b"upgrade"})


def simple_request(
    head: bytes, left_to_app: frozenset[bytes] = frozenset()
) -> tuple[str, bytes, list[tuple[bytes, bytes]]] | None:
    """(method, target, headers with lower-case names) of a request head (without its blank
    line) that is plainly well formed and has no body or connection handling, nor any field
    named in `left_to_app`; else None."""
    if not _SIMPLE_HEAD.fullmatch(head):
        return None
    lines = head.split(b"\r\n")
    if len(lines) > MAX_HEADERS:
        return None
    method, _, rest = lines[0].partition(b" ")
    if b"#" in rest:  # a fragment: the parser drops it
        return None
    headers = []
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.lower()
        value = value.strip(b" \t")
        if name in _LEFT_TO_PARSER or name in left_to_app:
            return None
        if name == b"connection" and value.lower() != b"keep-alive":
            return None
        headers.append((name, value))
    if host_refusal(headers, "1.1") is not None:  # the parser refuses it
        return None
    return method.decode(), rest[:-9], headers


def front_protocol(
    answer_now: AnswerNow,
    send_timeout_s: float,
    on_stalled: Callable[[], None],
    left_to_app: frozenset[bytes] = frozenset(),
    answer_again: AnswerAgain | None = None,
    head_timeout_s: float = HEAD_TIMEOUT_S,
) -> type[HttpToolsProtocol]:
    """The protocol class for the public listener's uvicorn server. `answer_now` is never
    asked about a request with a header field named in `left_to_app` (lower case); it is given
    the request's head as a key to keep its answer under (empty if too long to keep), and
    `answer_again` is asked first."""
    base = limited_protocol(head_timeout_s=head_timeout_s)
    # the heads seen lately, parsed: viewers of a stream send the same few heads again and again
    heads: dict[bytes, tuple[str, bytes, list[tuple[bytes, bytes]]]] = {}

    class FrontProtocol(base):  # type: ignore[valid-type,misc]
        _in_message = False  # the parser is inside a request (its head or body)
        _write_watch: asyncio.TimerHandle | None = None
        # keep-alive after answers given at once, checked lazily (armed at most once per
        # timeout, not per request); the ASGI path's answers arm uvicorn's own
        _idle_watch: asyncio.TimerHandle | None = None
        _answered_at = 0.0
        # a body being sent from a file: (descriptor, next offset, end); what arrives meanwhile
        # waits until it is sent
        _file: list[int] | None = None
        _held = b""
        send_budget = SendBudget()  # shared by the listener's connections
        _budgeted = False  # counted in it

        def connection_made(self, transport: asyncio.Transport) -> None:
            super().connection_made(transport)
            sock = transport.get_extra_info("socket")
            if sock is not None:
                self.send_budget.fit(sock)
                self._budgeted = True

        def data_received(self, data: bytes) -> None:
            if self._file is not None:
                self._held += data
                self.flow.pause_reading()
                return
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
                data = data[end + 4 :]
                self._answered(response)
                if self._file is not None:  # the rest once the file is sent
                    self._held += data
                    self.flow.pause_reading()
                    return
                if not data:
                    return
            super().data_received(data)

        def _answer_now(self, head: bytes) -> list[bytes] | FileAnswer | None:
            if answer_again is not None:
                try:
                    again = answer_again(head)
                except Exception:  # answered as if nothing had been kept
                    log.exception("answering a head again failed")
                    again = None
                if again is not None:
                    return again
            request = heads.get(head)
            if request is None:
                request = simple_request(head, left_to_app)
                if request is None:
                    return None
                if len(head) <= MAX_KEPT_HEAD:
                    if len(heads) >= HEADS_KEPT:
                        heads.clear()
                    heads[head] = request
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
                "headers": headers,  # shared with every request of the same head: read only
                "client": self.client,
                "server": self.server,
            }
            try:
                return answer_now(scope, head if len(head) <= MAX_KEPT_HEAD else b"")
            except Exception:  # the full path answers it (a 500 there, if it fails there too)
                log.exception("answering %s at once failed", scope["path"])
                return None

        def _answered(self, response: list[bytes] | FileAnswer) -> None:
            self._unset_keepalive_if_required()
            self._stop_head_timer()
            if isinstance(response, FileAnswer):
                self.transport.write(response.head)
                self._file = [response.fd, 0, response.length]
                self._send_file()
            else:
                self.transport.writelines(response)
            self.server_state.total_requests += 1
            left = self.transport.get_write_buffer_size()
            if left:
                self._watch_writes(left)
            self._answered_at = self.loop.time()
            if self._idle_watch is None:
                self._idle_watch = self.loop.call_later(self.timeout_keep_alive, self._check_idle)

        def _send_file(self) -> None:
            """Send what the socket takes straight from the file (zero-copy) while nothing else
            waits to be sent, then pieces as the transport drains; once all is sent, go on with
            what arrived meanwhile."""
            file = self._file
            assert file is not None
            fd, offset, end = file
            try:
                if not self.transport.get_write_buffer_size():
                    socket_fd = self.transport.get_extra_info("socket").fileno()
                    with contextlib.suppress(BlockingIOError):
                        while offset < end:
                            sent = os.sendfile(socket_fd, fd, offset, end - offset)
                            if sent == 0:
                                raise OSError("the file is shorter than its stored length")
                            offset += sent
                while offset < end and not self.flow.write_paused:
                    piece = os.pread(fd, min(READ_SIZE, end - offset), offset)
                    if not piece:
                        raise OSError("the file is shorter than its stored length")
                    self.transport.write(piece)
                    offset += len(piece)
            except OSError:
                self._close_file()
                self.transport.abort()  # the client sees a cut response, never a wrong one
                return
            file[1] = offset
            left = self.transport.get_write_buffer_size()
            if left:
                self._watch_writes(left)
            if offset < end:
                return  # resume_writing goes on
            self._close_file()
            held, self._held = self._held, b""
            self.flow.resume_reading()
            if held:
                self.data_received(held)

        def _close_file(self) -> None:
            if self._file is not None:
                os.close(self._file[0])
                self._file = None

        def resume_writing(self) -> None:
            super().resume_writing()
            if self._file is not None and not self.transport.is_closing():
                self._send_file()

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
            if left > 0 or self._file is not None or self.transport.get_write_buffer_size():
                self._idle_watch = self.loop.call_later(max(left, 0.1), self._check_idle)
            else:
                self.transport.close()

        def connection_lost(self, exc: Exception | None) -> None:
            self._close_file()
            for watch in (self._write_watch, self._idle_watch):
                if watch is not None:
                    watch.cancel()
            self._write_watch = self._idle_watch = None
            if self._budgeted:
                self._budgeted = False
                self.send_budget.release()
            super().connection_lost(exc)

    return FrontProtocol
