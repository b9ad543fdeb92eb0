"""Writing the POP's responses to ASGI: from the store (with Age, X-Cache, Via, and the
client's conditionals and range answered here), from a fill as it streams, and errors in the
one JSON error shape."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http import HTTPStatus

from edge.pop.cache import Answer
from edge.pop.fill import READ_SIZE, Fill, FillFailed, Reader
from edge.pop.metrics import EdgeMetrics
from edge.pop.store import Entry
from edge.pop.upstream import via_after
from httprules.asgi import Send
from httprules.caching import (
    CDN_ONLY_FIELDS,
    UNKNOWN_AGE_S,
    AgeClock,
    age_value_s,
    downstream_surrogate_control,
)
from httprules.errors import error_body
from httprules.headers import ascii_digits, encode
from httprules.serving import (
    Unsatisfiable,
    if_range_allows,
    not_modified,
    parse_http_date,
    parse_range,
    precondition_failed,
)

ONE_WRITE_BODY = 16 << 10  # a fresh hit with a body up to this is sent in one write with its head

X_CACHE = {r: r.encode() for r in ("HIT", "MISS", "STALE", "REVALIDATED", "BYPASS")}
# A player on any page reads why the POP refused it (a token expired, a rate exceeded and when
# to come back) rather than a bare network error; an error body holds no content to protect.
ERROR_CORS = {
    "access-control-allow-origin": "*",
    "access-control-expose-headers": "Retry-After, RateLimit-Limit, RateLimit-Remaining, "
    "RateLimit-Reset, Via, X-Cache",
}


@dataclass(slots=True)
class FileAnswer:
    """A response whose body is `length` bytes of an open file (its owner closes `fd`)."""

    head: bytes
    fd: int
    length: int


def range_applies(request: Mapping[str, str], headers: Mapping[str, str]) -> bool:
    """Whether a request's Range is answered (RFC 9110 §13.1.5): it has one, and its If-Range,
    if any, names the response's validator (an entity tag, compared strongly, or its date)."""
    return "range" in request and if_range_allows(
        request.get("if-range"), headers.get("etag", ""), headers.get("last-modified", "")
    )


class ReaderStalled(Exception):
    """A client took no part of the body for `send_timeout_s`: its response is cut."""


class Responses:
    def __init__(
        self,
        metrics: EdgeMetrics,
        clock: Callable[[], float],
        via: str,
        send_timeout_s: float = 30.0,
    ) -> None:
        self.metrics = metrics
        self.clock = clock
        self.via = via
        self.send_timeout_s = send_timeout_s

    async def _piece(self, send: Send, body: bytes, more: bool) -> None:
        """One piece of a streamed body; a client that takes none of it in time is cut, so a
        stalled reader holds its connection's buffers for a bounded time."""
        try:
            async with asyncio.timeout(self.send_timeout_s):
                await send({"type": "http.response.body", "body": body, "more_body": more})
        except TimeoutError:
            self.metrics.count_stalled()
            raise ReaderStalled(f"no progress for {self.send_timeout_s:g} s") from None

    async def respond(
        self, send: Send, status: int, headers: dict[str, str], body: bytes, *, head: bool = False
    ) -> None:
        headers = {**headers, "content-length": str(len(body))}
        await send({"type": "http.response.start", "status": status, "headers": encode(headers)})
        await send({"type": "http.response.body", "body": b"" if head else body})

    async def error(
        self,
        send: Send,
        status: int,
        code: str,
        message: str,
        result: str,
        extra: dict[str, str] | None = None,
    ) -> None:
        self.metrics.served(result, status, 0)
        headers = {
            "content-type": "application/json",
            "cache-control": "no-store",
            "x-cache": result,
            "via": self.via,
            **ERROR_CORS,
            **(extra or {}),
        }
        await self.respond(send, status, headers, error_body(code, message))

    async def answer(
        self,
        send: Send,
        answer: Answer,
        request: dict[str, str],
        head: bool,
        pathsend: bool = False,
    ) -> None:
        """`pathsend`: the server sends files itself (ASGI `http.response.pathsend`)."""
        if answer.entry is not None:
            await self.entry(send, answer.entry, answer.result, request, head, answer.now, pathsend)
        else:
            assert answer.fill is not None
            assert answer.reader is not None
            await self.fill(send, answer.fill, answer.reader, answer.result, request, head)

    async def entry(
        self,
        send: Send,
        entry: Entry,
        result: str,
        request: dict[str, str],
        head: bool,
        now: float | None = None,
        pathsend: bool = False,
        body_from: Reader | None = None,
    ) -> None:
        """A response from the store: precomputed headers plus Age, X-Cache and Via; a body in
        a file is sent by the server (zero-copy) when it can, else read in pieces. `body_from`:
        the body (or the part asked for) comes from a fill as it arrives."""
        dynamic = self._dynamic(entry, result, now)
        downstream = downstream_surrogate_control(entry.headers, request)
        if downstream is not None:
            dynamic.append((b"surrogate-control", downstream.encode("latin-1")))
        status, size = entry.status, entry.length
        start, end = 0, size - 1
        if self._fails_precondition(status, entry.headers, request, entry.last_modified):
            return await self._precondition_failed(send, result)
        if status == 200 and ("if-none-match" in request or "if-modified-since" in request):
            etag = entry.headers.get("etag")
            if (etag or entry.last_modified) and not_modified(
                request.get("if-none-match"),
                request.get("if-modified-since"),
                etag or "",
                entry.last_modified or 0.0,
            ):
                self.metrics.served(result, 304, 0)
                await send(
                    {
                        "type": "http.response.start",
                        "status": 304,
                        "headers": entry.encoded + dynamic,
                    }
                )
                await send({"type": "http.response.body", "body": b""})
                return
        if status == 200 and range_applies(request, entry.headers):
            try:
                rng = parse_range(request["range"], size)
            except Unsatisfiable:
                return await self.error(
                    send,
                    416,
                    "range_not_satisfiable",
                    "range outside the object",
                    result,
                    extra={"content-range": f"bytes */{size}"},
                )
            if rng is not None:
                status, start, end = 206, rng.start, rng.end
                dynamic.append((b"content-range", f"bytes {start}-{end}/{size}".encode()))
        length = end + 1 - start
        dynamic.append((b"content-length", str(length).encode()))
        self.metrics.served(result, status, 0 if head else length)
        await send(
            {"type": "http.response.start", "status": status, "headers": entry.encoded + dynamic}
        )
        if body_from is not None and not head:
            async for piece in body_from.part(start, end + 1):  # FillFailed: aborted
                await self._piece(send, piece, True)
            await send({"type": "http.response.body", "body": b""})
        elif head or entry.path is None:
            body = b"" if head else entry.body
            if length != len(body):
                body = body[start : end + 1]
            await send({"type": "http.response.body", "body": body})
        elif pathsend and length == size:
            await send({"type": "http.response.pathsend", "path": entry.path})
        else:
            await self._send_file(send, entry.path, start, length)

    @staticmethod
    def _fails_precondition(
        status: int,
        headers: Mapping[str, str],
        request: Mapping[str, str],
        modified_at: float | None = None,
    ) -> bool:
        """RFC 9110 §13.2.2 steps 1–2 on a 2xx response (If-Match, If-Unmodified-Since): the
        POP answers them from what it has, as the origin would from what it has (a fill
        does not send them upstream: one fill serves every client)."""
        if not 200 <= status < 300:
            return False
        if "if-match" not in request and "if-unmodified-since" not in request:
            return False
        if modified_at is None:
            modified_at = parse_http_date(headers.get("last-modified")) or 0.0
        return precondition_failed(
            request.get("if-match"),
            request.get("if-unmodified-since"),
            headers.get("etag", ""),
            modified_at,
        )

    async def _precondition_failed(self, send: Send, result: str) -> None:
        message = "the stored representation does not meet If-Match or If-Unmodified-Since"
        await self.error(send, 412, "precondition_failed", message, result)

    def _dynamic(self, entry: Entry, result: str, now: float | None) -> list[tuple[bytes, bytes]]:
        """What a stored response is sent with besides its stored headers: Age, X-Cache, Via."""
        age = entry.clock.current_age_s(self.clock() if now is None else now)
        return [
            (b"age", b"%d" % age),
            (b"x-cache", X_CACHE[result]),
            (b"via", entry.via or via_after(entry.headers.get("via"), self.via).encode("latin-1")),
        ]

    def wire(
        self,
        entry: Entry,
        age: float,
        head: bool,
        request_id: str | None = None,
        keep: Callable[[bytes, bytes, bool], None] | None = None,
    ) -> list[bytes] | FileAnswer | None:
        """A fresh hit as a whole HTTP/1.1 response with the headers `entry` sends through
        ASGI (the front listener writes it at once: edge/pop/front.py): its pieces, or with a
        body in a file, the head and the file opened (None if it is gone). Everything but Age
        and X-Request-Id is worked out once per stored response. `request_id`: the one to send
        instead of the stored response's own (the access log's, as `Recorder` does). `keep`
        is told the pieces of a response from memory around its Age field (what comes before,
        what comes after, whether the body follows) to answer the same request again."""
        fd = -1
        if entry.path is not None and not head:
            try:  # opened first: a file evicted meanwhile is still read whole
                fd = os.open(entry.path, os.O_RDONLY | os.O_CLOEXEC)
            except OSError:
                return None
        prefix = entry.wire_head or self._wire_head(entry)
        length = entry.length
        self.metrics.served("HIT", entry.status, 0 if head else length)
        rid = entry.headers.get("x-request-id") if request_id is None else request_id
        extra = b"x-request-id: %s\r\n" % rid.encode("latin-1") if rid else b""
        head_bytes = b"%sage: %d\r\n%s\r\n" % (prefix, age, extra)
        if keep is not None and fd < 0:
            keep(prefix, extra + b"\r\n", not head)
        if head:
            return [head_bytes]
        if fd >= 0:
            return FileAnswer(head_bytes, fd, length)
        if length <= ONE_WRITE_BODY:
            return [head_bytes + entry.body]
        return [head_bytes, entry.body]

    def _wire_head(self, entry: Entry) -> bytes:
        status = HTTPStatus(entry.status)
        fields = [f for f in entry.encoded if f[0] != b"x-request-id"]
        fields += self._dynamic(entry, "HIT", 0.0)[1:]
        fields.append((b"content-length", b"%d" % entry.length))
        lines = [b"HTTP/1.1 %d %s\r\n" % (status.value, status.phrase.encode())]
        lines += [b"%s: %s\r\n" % field for field in fields]
        entry.wire_head = b"".join(lines)
        return entry.wire_head

    async def fill(
        self,
        send: Send,
        fill: Fill,
        reader: Reader,
        result: str,
        request: dict[str, str],
        head: bool,
    ) -> None:
        """A response streamed from a fill as it arrives; a range is cut from the whole body."""
        await fill.headers_ready.wait()
        if fill.error is not None and fill.status in (0, 502, 504) and not fill.received:
            status = fill.status or 502
            code = "upstream_timeout" if status == 504 else "upstream_error"
            return await self.error(send, status, code, fill.error, result)
        if self._fails_precondition(fill.status, fill.headers, request):
            return await self._precondition_failed(send, result)
        if fill.status == 200 and range_applies(request, fill.headers):
            now = self.clock()
            # §5.1: as old as upstream says, as the whole response straight from it is
            clock = AgeClock(now, now, None, min(age_value_s(fill.headers), UNKNOWN_AGE_S))
            declared = fill.headers.get("content-length")
            if ascii_digits(declared):  # the range goes as it arrives
                length = int(declared)
            else:  # a length not known before the end: the range once the whole body is in
                await fill.wait_ended()
                if fill.error is not None:
                    return await self.error(send, 502, "upstream_error", fill.error, result)
                length = fill.received
            entry = Entry("", 200, fill.headers, b"", clock, length=length)
            return await self.entry(send, entry, result, request, head, body_from=reader)
        kept = {k: v for k, v in fill.headers.items() if k not in CDN_ONLY_FIELDS}
        headers = {
            **kept,
            # §5.1: a response straight from upstream is as old as upstream says.
            "age": str(int(min(age_value_s(fill.headers), UNKNOWN_AGE_S))),
            "x-cache": result,
            "via": via_after(fill.headers.get("via"), self.via),
        }
        downstream = downstream_surrogate_control(fill.headers, request)
        if downstream is not None:
            headers["surrogate-control"] = downstream
        await send(
            {"type": "http.response.start", "status": fill.status, "headers": encode(headers)}
        )
        if head:
            await send({"type": "http.response.body", "body": b""})
            self.metrics.served(result, fill.status, 0)
            return
        sent = 0
        async for chunk in reader:  # FillFailed propagates: the response is aborted
            sent += len(chunk)
            await self._piece(send, chunk, True)
        await send({"type": "http.response.body", "body": b""})
        self.metrics.served(result, fill.status, sent)

    async def _send_file(self, send: Send, path: str, start: int, length: int) -> None:
        """`length` bytes of a file from `start`, in pieces (a file deleted meanwhile is
        still read whole: it was opened first)."""
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            end = start + length
            while start < end:
                piece = os.pread(fd, min(READ_SIZE, end - start), start)
                if not piece:
                    raise FillFailed(f"{path} is shorter than its stored length")
                start += len(piece)
                await self._piece(send, piece, start < end)
            if length == 0:
                await send({"type": "http.response.body", "body": b""})
        finally:
            os.close(fd)
