"""A request sent on a kept-alive connection the upstream closes as it arrives is sent again on a
new one when that is safe (a GET or HEAD without a body), and fails with a 502 otherwise. A real
HTTP/1.1 server on loopback that answers the first request of each connection and closes the
connection, unanswered, at the second: the race of a request with the upstream's keep-alive
timeout, made certain."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import httpx
import pytest

from edge.pop.upstream import (
    Upstream,
    UpstreamFailed,
    forward_headers,
    local_reference,
    received_by,
)


class ClosingServer:
    """Answers each connection's first request (keeping the connection open) and closes the
    connection when a second request arrives on it."""

    def __init__(self) -> None:
        self.connections = 0
        self.answered = 0
        self.server: asyncio.Server | None = None
        self.handlers: set[asyncio.Task[None]] = set()

    async def start(self) -> str:
        self.server = await asyncio.start_server(self.serve, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        task = asyncio.current_task()
        assert task is not None
        self.handlers.add(task)
        await reader.readuntil(b"\r\n\r\n")  # a GET's head: no body follows
        self.answered += 1
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok")
        await writer.drain()
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            await reader.readuntil(b"\r\n\r\n")  # the second request: not answered
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()
        # each connection's handler ends once its client has gone
        await asyncio.wait_for(asyncio.gather(*self.handlers), 5)
        await self.server.wait_closed()


async def fetch(upstream: Upstream, method: str, content: bytes | None = None) -> int:
    async def body() -> AsyncIterator[bytes]:
        yield content or b""

    response = await upstream.open(
        method, "/object", {"host": "origin"}, body() if content is not None else None
    )
    await response.aread()
    await response.aclose()
    return response.status_code


def test_a_get_on_a_connection_closed_as_it_was_sent_is_sent_again_on_a_new_one() -> None:
    async def run() -> tuple[list[int], int, int]:
        server = ClosingServer()
        upstream = Upstream(await server.start(), timeout_s=5)
        try:
            statuses = [await fetch(upstream, m) for m in ("GET", "GET", "HEAD", "GET")]
            return statuses, server.connections, server.answered
        finally:
            await upstream.aclose()
            await server.stop()

    statuses, connections, answered = asyncio.run(run())
    assert statuses == [200, 200, 200, 200]
    # each request after the first met a connection being closed and was sent again
    assert (connections, answered) == (4, 4)


def test_a_request_with_a_body_is_not_sent_twice() -> None:
    async def run() -> tuple[UpstreamFailed, int]:
        server = ClosingServer()
        upstream = Upstream(await server.start(), timeout_s=5)
        try:
            assert await fetch(upstream, "GET") == 200
            with pytest.raises(UpstreamFailed) as failed:
                await fetch(upstream, "POST", b"a body")
            return failed.value, server.connections
        finally:
            await upstream.aclose()
            await server.stop()

    failure, connections = asyncio.run(run())
    assert (failure.status, failure.code) == (502, "upstream_error")
    assert connections == 1


def test_an_upstream_that_closes_every_connection_unanswered_fails_after_one_retry() -> None:
    async def run() -> tuple[UpstreamFailed, int]:
        connections = 0

        async def close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            nonlocal connections
            connections += 1
            with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
                await reader.readuntil(b"\r\n\r\n")
            writer.close()

        server = await asyncio.start_server(close, "127.0.0.1", 0)
        upstream = Upstream(f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}", 5)
        try:
            with pytest.raises(UpstreamFailed) as failed:
                await fetch(upstream, "GET")
            return failed.value, connections
        finally:
            await upstream.aclose()
            server.close()
            await server.wait_closed()

    failure, connections = asyncio.run(run())
    assert failure.status == 502
    assert connections == 2


def test_an_invalid_status_from_upstream_is_a_502() -> None:
    """A status outside 100-599 is nothing a client could be sent (nginx answers 502 too)."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 999 Whatever\r\nContent-Length: 2\r\n\r\nok")
        await writer.drain()
        writer.close()

    async def run() -> UpstreamFailed:
        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        upstream = Upstream(f"http://127.0.0.1:{port}", timeout_s=5)
        try:
            with pytest.raises(UpstreamFailed) as failed:
                await fetch(upstream, "GET")
            return failed.value
        finally:
            await upstream.aclose()
            server.close()
            await server.wait_closed()

    failure = asyncio.run(run())
    assert failure.status == 502
    assert "invalid status 999" in str(failure)


def test_bytes_beyond_a_responses_length_never_answer_the_next_request() -> None:
    """An upstream that sends more than its Content-Length (here, a whole forged response) in
    the same write: the connection is not used again, so the next request gets its own
    answer, not the forged one (response desynchronisation)."""
    forged = b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\nCache-Control: max-age=600\r\n\r\nforged"
    answers = iter([b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok" + forged])

    handlers: set[asyncio.Task[None]] = set()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        handlers.add(task)
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while True:
                await reader.readuntil(b"\r\n\r\n")
                answer = next(answers, b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nreal")
                writer.write(answer)
                await writer.drain()
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()

    async def body(upstream: Upstream) -> bytes:
        response = await upstream.open("GET", "/object", {"host": "origin"})
        content = await response.aread()
        await response.aclose()
        return content

    async def run() -> list[bytes]:
        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        upstream = Upstream(f"http://127.0.0.1:{port}", timeout_s=5)
        try:
            return [await body(upstream), await body(upstream)]
        finally:
            await upstream.aclose()
            server.close()
            await asyncio.wait_for(asyncio.gather(*handlers), 5)  # each ends once its client has
            await server.wait_closed()

    assert asyncio.run(run()) == [b"ok", b"real"]


def test_a_request_gets_this_pops_via_entry_once() -> None:
    assert received_by("1.1 a, 2 b (comment)") == ["a", "b"]
    assert received_by(None) == []
    assert received_by("garbage") == []
    came_in = {"via": "1.0 proxy, 1.0 pop", "x": "1"}  # the entry it got where it came in
    assert forward_headers(came_in, "1.1 pop", fill=True)["via"] == "1.0 proxy, 1.0 pop"
    assert forward_headers({}, "1.1 pop", fill=True)["via"] == "1.1 pop"  # a prefetch's
    other = {"via": "1.1 shield"}
    assert forward_headers(other, "1.1 pop", fill=False)["via"] == "1.1 shield, 1.1 pop"


@pytest.mark.parametrize(
    ("target", "base", "local"),
    [
        ("http://origin:8080/v/a.m3u8", "http://origin:8080", "/v/a.m3u8"),
        ("http://ORIGIN:8080/v/a?t=1#top", "http://origin:8080/", "/v/a?t=1#top"),
        ("//origin:8080/v/a", "http://origin:8080", "/v/a"),
        ("http://origin/v/a", "http://origin:80", "/v/a"),
        ("https://origin:443/v", "https://origin", "/v"),
        ("http://origin:8080/base/v/a", "http://origin:8080/base", "/v/a"),
        ("http://origin:8080/base", "http://origin:8080/base/", "/"),
        ("http://[::1]:9000/x", "http://[::1]:9000", "/x"),
        # not the upstream, or outside what the POP fronts: as it came
        ("http://origin:8080/basement/a", "http://origin:8080/base", None),
        ("http://origin:8081/v/a", "http://origin:8080", None),
        ("https://origin:8080/v/a", "http://origin:8080", None),
        ("http://elsewhere.example/v", "http://origin:8080", None),
        ("/v/a", "http://origin:8080", None),
        ("v/a", "http://origin:8080", None),
        ("http://origin:99999999/v", "http://origin:8080", None),
        ("http://[::1/x", "http://origin:8080", None),
    ],
)
def test_a_url_on_the_upstream_becomes_a_path_on_the_pop(
    target: str, base: str, local: str | None
) -> None:
    assert local_reference(target, httpx.URL(base)) == (target if local is None else local)
