"""The public listener's shortcut, through a real `mediacdn edge` process: fresh memory hits
answered at once carry what the ASGI path sends; pipelined requests are answered in order
whichever path each takes; requests the shortcut does not take plainly are still answered (or
refused) by the parser; a client that stops reading an answer is cut; idle connections close."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from edge.pop.front import front_protocol, simple_request
from edge.pop.listener import LoopListener, listening_socket
from httprules.asgi import Receive, Scope, Send
from tests.support.asgi_server import serve_in_thread
from tests.support.edges import edge_process
from tests.support.scripted_origin import Route, ScriptedOrigin
from tests.support.servers import free_port, start_mediacdn, stop_process, wait_until

PUBLIC = {"cache-control": "public, max-age=600", "content-type": "application/vnd.apple.mpegurl"}
PLAYLIST = b"#EXTM3U\n#EXT-X-VERSION:7\n" + b"#EXTINF:4.0,\nseg.m4s\n" * 40
BIG = 48 << 20


def _origin() -> ScriptedOrigin:
    return ScriptedOrigin(
        {
            "/v/index.m3u8": Route(PLAYLIST, headers=PUBLIC, etag='"pl-1"'),
            "/v/other.m3u8": Route(b"#EXTM3U\nother\n", headers=PUBLIC),
            "/v/big.mp4": Route(b"\x01" * BIG, headers={"cache-control": "public, max-age=600"}),
        }
    )


@contextmanager
def pop(tmp_path: Path, *extra: str) -> Iterator[tuple[str, ScriptedOrigin]]:
    origin = _origin()
    with serve_in_thread(origin) as origin_url, edge_process(tmp_path, origin_url, *extra) as url:
        yield url, origin


def _at_once(url: str) -> int:
    return int(httpx.get(url + "/stats", timeout=10).json()["answered_at_once"])


def _read_responses(sock: socket.socket, count: int, deadline_s: float = 10.0) -> list[bytes]:
    """`count` whole HTTP/1.1 responses (with Content-Length) from `sock`, as bodies."""
    buffer, bodies = bytearray(), list[bytes]()
    body: tuple[int, int] | None = None  # (where it starts, its length) once its head is in
    sock.settimeout(deadline_s)
    while len(bodies) < count:
        if body is None and (end := buffer.find(b"\r\n\r\n")) >= 0:
            head = bytes(buffer[:end]).decode("latin-1").lower()
            body = end + 4, int(head.split("content-length:")[1].split("\r\n")[0])
        if body is not None and len(buffer) >= sum(body):
            bodies.append(bytes(buffer[body[0] : sum(body)]))
            del buffer[: sum(body)]
            body = None
            continue
        chunk = sock.recv(1 << 20)
        assert chunk, "the POP closed the connection early"
        buffer += chunk
    return bodies


def test_hits_answered_at_once_send_what_the_asgi_path_sends(tmp_path: Path) -> None:
    with pop(tmp_path) as (url, origin), httpx.Client(base_url=url, timeout=10) as http:
        miss = http.get("/v/index.m3u8")
        assert miss.headers["x-cache"] == "MISS"
        before = _at_once(url)
        hit = http.get("/v/index.m3u8")
        assert _at_once(url) == before + 1  # answered by the shortcut
        # a conditional the cache answers itself goes through ASGI: the same response
        asgi = http.get("/v/index.m3u8", headers={"if-none-match": '"other"'})
        assert _at_once(url) == before + 1
        part = http.get("/v/index.m3u8", headers={"range": "bytes=0-3"})  # a range: ASGI too
        assert (part.status_code, part.content) == (206, PLAYLIST[:4])
        assert _at_once(url) == before + 1
        assert hit.status_code == asgi.status_code == 200
        assert hit.content == asgi.content == PLAYLIST
        assert hit.headers["x-cache"] == asgi.headers["x-cache"] == "HIT"
        assert set(hit.headers) == set(asgi.headers)
        for name in hit.headers:
            if name != "age":
                assert hit.headers.get_list(name) == asgi.headers.get_list(name), name
        assert hit.headers["via"] == "1.1 pop"
        assert hit.headers["etag"] == '"pl-1"'
        assert hit.headers["content-length"] == str(len(PLAYLIST))
        assert 0 <= int(hit.headers["age"]) <= 5
        head = http.head("/v/index.m3u8")  # HEAD: the same headers, no body
        assert head.content == b""
        assert head.headers["content-length"] == str(len(PLAYLIST))
        assert _at_once(url) == before + 2
        # answered at once or not, every request counts in the POP's figures
        stats = http.get("/stats").json()
        assert stats["results"]["HIT"] >= 3
        assert origin.hits["/v/index.m3u8"] == 1


def test_pipelined_requests_are_answered_in_order(tmp_path: Path) -> None:
    with pop(tmp_path) as (url, origin):
        httpx.get(url + "/v/index.m3u8", timeout=10)  # stored
        before = _at_once(url)
        host, port = url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            hit = b"GET /v/index.m3u8 HTTP/1.1\r\nHost: pop\r\n\r\n"
            miss = b"GET /v/other.m3u8 HTTP/1.1\r\nHost: pop\r\n\r\n"
            sock.sendall(hit + miss + hit + hit)  # a miss between hits, in one write
            bodies = _read_responses(sock, 4)
        assert bodies == [PLAYLIST, b"#EXTM3U\nother\n", PLAYLIST, PLAYLIST]
        assert origin.hits["/v/other.m3u8"] == 1
        assert _at_once(url) >= before + 1  # the first hit at least (the rest wait their turn)


def test_requests_the_shortcut_does_not_take_are_left_to_the_parser(tmp_path: Path) -> None:
    with pop(tmp_path) as (url, _):
        httpx.get(url + "/v/index.m3u8", timeout=10)
        host, port = url.removeprefix("http://").split(":")
        cases = {
            b"GET /v/index.m3u8 HTTP/1.0\r\nHost: pop\r\n\r\n": b"200",
            b"GET /v/index.m3u8 HTTP/1.1\r\nHost: pop\r\nConnection: close\r\n\r\n": b"200",
            b"GET /v/index.m3u8 HTTP/1.1\r\nHost: pop\r\nX: %s\r\n\r\n" % (b"a" * 9000): b"200",
            b"GET /v/%69ndex.m3u8 HTTP/1.1\r\nHost: pop\r\nConnection: close\r\n\r\n": b"200",
            b"GET /v/index.m3u8 HTTP/1.1\r\nHost pop\r\n\r\n": b"400",
            b"GET /v/index.m3u8 HTTP/1.1\r\nHost: pop\r\nContent-Length: 1\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n": b"400",
        }
        for request, status in cases.items():
            with socket.create_connection((host, int(port)), timeout=10) as sock:
                sock.sendall(request)
                sock.settimeout(10)
                answer = sock.recv(1 << 16)
                assert answer.split(b" ")[1] == status, request[:80]


def test_hits_from_disk_are_sent_from_their_files_in_order(tmp_path: Path) -> None:
    disk = ("--capacity", "256KiB", "--cache-dir", str(tmp_path / "cache"))
    with pop(tmp_path, *disk) as (url, origin):
        assert len(httpx.get(url + "/v/big.mp4", timeout=30).content) == BIG
        httpx.get(url + "/v/index.m3u8", timeout=10)
        before = _at_once(url)
        host, port = url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            big = b"GET /v/big.mp4 HTTP/1.1\r\nHost: pop\r\n\r\n"
            playlist = b"GET /v/index.m3u8 HTTP/1.1\r\nHost: pop\r\n\r\n"
            sock.sendall(big + playlist + big)  # what follows a file waits for it
            bodies = _read_responses(sock, 3, deadline_s=30)
        assert [len(b) for b in bodies] == [BIG, len(PLAYLIST), BIG]
        assert bodies[0] == bodies[2] == b"\x01" * BIG
        assert _at_once(url) == before + 3
        assert origin.hits["/v/big.mp4"] == 1
        stats = httpx.get(url + "/stats", timeout=10).json()
        assert stats["cache_used_bytes"] < BIG  # it was sent from disk, not memory


def test_a_client_that_stops_reading_an_answer_is_cut(tmp_path: Path) -> None:
    with pop(tmp_path, "--send-timeout", "1") as (url, _):
        assert len(httpx.get(url + "/v/big.mp4", timeout=30).content) == BIG
        before = _at_once(url)
        host, port = url.removeprefix("http://").split(":")
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect((host, int(port)))
        with sock:
            sock.sendall(b"GET /v/big.mp4 HTTP/1.1\r\nHost: pop\r\n\r\n")
            deadline = time.monotonic() + 15
            stats = httpx.get(url + "/stats", timeout=10).json()
            while stats["stalled"] == 0 and time.monotonic() < deadline:
                time.sleep(0.2)
                stats = httpx.get(url + "/stats", timeout=10).json()
            assert stats["answered_at_once"] == before + 1
            assert stats["stalled"] == 1
            sock.settimeout(10)
            received = 0
            while chunk := _recv_or_reset(sock):
                received += len(chunk)
            assert received < BIG  # cut: the rest never came


def _recv_or_reset(sock: socket.socket) -> bytes:
    try:
        return sock.recv(1 << 20)
    except ConnectionResetError:
        return b""


def test_a_connection_idle_after_an_answer_is_closed(tmp_path: Path) -> None:
    with pop(tmp_path) as (url, _):
        httpx.get(url + "/v/index.m3u8", timeout=10)
        host, port = url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            sock.sendall(b"GET /v/index.m3u8 HTTP/1.1\r\nHost: pop\r\n\r\n")
            assert _read_responses(sock, 1) == [PLAYLIST]
            started = time.monotonic()
            sock.settimeout(15)
            assert _recv_or_reset(sock) == b""  # closed by the POP, not by the timeout here
            assert 4 <= time.monotonic() - started < 8  # uvicorn's keep-alive: 5 s


def test_answers_given_at_once_are_in_the_access_log(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    with pop(tmp_path, "--access-log", str(log)) as (url, _):
        httpx.get(url + "/v/index.m3u8", timeout=10)
        before = _at_once(url)
        hit = httpx.get(url + "/v/index.m3u8", headers={"x-request-id": "viewer-42"}, timeout=10)
        head = httpx.head(url + "/v/index.m3u8", timeout=10)
        assert _at_once(url) == before + 2
        assert hit.headers["x-request-id"] == "viewer-42"
        assert len(head.headers["x-request-id"]) == 16  # a new one
        wait_until(lambda: log.exists() and log.read_text().count('"HIT"') >= 2, 10, "records")
    records = [json.loads(line) for line in log.read_text().splitlines()]
    hits = [r for r in records if r["cache"] == "HIT"]
    assert [(r["method"], r["id"]) for r in hits] == [
        ("GET", "viewer-42"),
        ("HEAD", head.headers["x-request-id"]),
    ]
    assert hits[0]["path"] == "/v/index.m3u8"
    assert hits[0]["status"] == 200
    assert hits[0]["bytes"] == hits[0]["object_bytes"] == len(PLAYLIST)
    assert hits[1]["bytes"] == 0


def test_a_pop_whose_address_is_taken_exits_with_the_reason(tmp_path: Path) -> None:
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    for where in (("--port", str(port)), ("--port", str(free_port()), "--admin-port", str(port))):
        args = ("--name", "pop", "--upstream", "http://127.0.0.1:9", "--admin-key", "k", *where)
        proc = start_mediacdn("edge", tmp_path, {}, *args)
        try:
            assert proc.wait(timeout=30) == 1  # not a POP that runs without its listener
        finally:
            stop_process(proc)
        assert "Address already in use" in (tmp_path / "edge.log").read_text()
        (tmp_path / "edge.log").unlink()
    taken.close()


def test_only_plainly_well_formed_heads_take_the_shortcut() -> None:
    plain = b"GET /v/a.m3u8?x=1 HTTP/1.1\r\nHost: pop\r\nConnection: keep-alive\r\nAccept: */*"
    assert simple_request(plain) == (
        "GET",
        b"/v/a.m3u8?x=1",
        [(b"host", b"pop"), (b"connection", b"keep-alive"), (b"accept", b"*/*")],
    )
    assert simple_request(b"HEAD / HTTP/1.1\r\nHost: p")[:2] == ("HEAD", b"/")  # type: ignore[index]
    for head in (
        b"POST /v/a HTTP/1.1\r\nHost: pop",  # not GET or HEAD
        b"GET /v/a HTTP/1.0\r\nHost: pop",  # not HTTP/1.1
        b"GET http://pop/v/a HTTP/1.1\r\nHost: pop",  # absolute form
        b"GET /v/a#frag HTTP/1.1\r\nHost: pop",  # a fragment
        b"GET /v/a HTTP/1.1\r\nHost : pop",  # space before the colon
        b"GET /v/a HTTP/1.1\r\nHost: pop\r\n folded: x",  # obs-fold
        b"GET /v/a HTTP/1.1\r\nHost: pop\r\nX: caf\xc3\xa9",  # not ASCII
        b"GET /v/a HTTP/1.1\r\nHost: pop\r\nContent-Length: 0",  # a body's framing
        b"GET /v/a HTTP/1.1\r\nHost: pop\r\nTransfer-Encoding: chunked",
        b"GET /v/a HTTP/1.1\r\nHost: pop\r\nConnection: close",
        b"GET /v/a HTTP/1.1\r\nHost: pop\r\nUpgrade: websocket",
        b"GET /v/a HTTP/1.1\r\nHost: pop\r\nExpect: 100-continue",
        b"GET /v/a HTTP/1.1\r\nHost: pop\r\n" + b"X: y\r\n" * 100 + b"Z: z",  # too many fields
        b"GET /v/a\x00 HTTP/1.1\r\nHost: pop",
        b"GET /v/a HTTP/1.1\r\nHost: pop\r\nhost: other",  # two Hosts: the parser refuses it
        b"GET /v/a HTTP/1.1\r\nAccept: */*",  # no Host: the parser refuses it
        b"GET /v/a HTTP/1.1\r\nHost: \t",  # an empty Host: the parser refuses it
    ):
        assert simple_request(head) is None, head
    left_to_app = frozenset({b"range", b"if-none-match"})
    assert (
        simple_request(b"GET /v/a HTTP/1.1\r\nHost: pop\r\nRange: bytes=0-1", left_to_app) is None
    )
    assert (
        simple_request(b"GET /v/a HTTP/1.1\r\nHost: pop\r\nIF-None-Match: x", left_to_app) is None
    )
    assert simple_request(b"GET /v/a HTTP/1.1\r\nHost: pop\r\nX-Range: 1", left_to_app) is not None


def test_a_failure_answering_at_once_leaves_the_request_to_the_full_path() -> None:
    """An error inside the shortcut costs neither the request nor the connection."""

    def broken(scope: Scope, head: bytes) -> list[bytes] | None:
        raise RuntimeError("a bug in the hit path")

    def broken_again(head: bytes) -> list[bytes] | None:
        raise RuntimeError("a bug in the kept answers")

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        headers = [(b"content-length", b"9")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"full path"})

    async def serve(port: int) -> list[bytes]:
        sock = listening_socket("127.0.0.1", port)
        protocol = front_protocol(broken, 5.0, lambda: None, answer_again=broken_again)
        listener = LoopListener(app, sock=sock, protocol=protocol, grace_s=1)
        await listener.start()
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            bodies = []
            for _ in range(2):  # the same connection answers again
                writer.write(b"GET /v/index.m3u8 HTTP/1.1\r\nHost: pop\r\n\r\n")
                head = await reader.readuntil(b"\r\n\r\n")
                assert head.startswith(b"HTTP/1.1 200")
                bodies.append(await reader.readexactly(len(b"full path")))
            writer.close()
            await writer.wait_closed()
            return bodies
        finally:
            await listener.stop()

    assert asyncio.run(serve(free_port())) == [b"full path", b"full path"]
