"""Every listener bounds what a request's head may cost: header count and size (431), and the
time to send it (408), on the origin (uvicorn with httprules/listener.py) and on a POP
(granian), with real processes and raw sockets."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.edges import edge_process, mediacdn_process
from tests.support.servers import OriginServer, origin_server

pytestmark = pytest.mark.slow

HEAD_TIMEOUT_S = 2


@pytest.fixture(scope="module")
def origin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OriginServer]:
    env = {"MEDIACDN_WORKERS": "0", "MEDIACDN_HEADER_TIMEOUT_S": str(HEAD_TIMEOUT_S)}
    with origin_server(tmp_path_factory.mktemp("listener"), env) as server:
        yield server


def exchange(url: str, request: bytes, *, wait_s: float = 10) -> tuple[bytes, float]:
    """Send `request`, read until the server closes or `wait_s` passes; (answer, seconds)."""
    host, port = url.removeprefix("http://").split(":")
    started = time.monotonic()
    with socket.create_connection((host, int(port)), timeout=wait_s) as sock:
        sock.sendall(request)
        answer = b""
        try:
            while chunk := sock.recv(65536):
                answer += chunk
                if b"\r\n\r\n" in answer and b"connection: close" not in answer.lower():
                    break
        except (TimeoutError, ConnectionResetError):
            pass
    return answer, time.monotonic() - started


def head(headers: int = 0, value_bytes: int = 10) -> bytes:
    extra = "".join(f"x-h{i}: {'v' * value_bytes}\r\n" for i in range(headers))
    return f"GET /healthz HTTP/1.1\r\nhost: x\r\n{extra}\r\n".encode()


@pytest.mark.parametrize(("headers", "value_bytes"), [(2000, 1), (1, 100_000), (120, 10)])
def test_too_many_or_too_large_headers_get_431(
    origin: OriginServer, headers: int, value_bytes: int
) -> None:
    answer, _ = exchange(origin.url, head(headers, value_bytes))
    assert answer.startswith(b"HTTP/1.1 431"), answer[:200]
    assert b'"headers_too_large"' in answer


def test_an_ordinary_request_still_passes(origin: OriginServer) -> None:
    answer, _ = exchange(origin.url, head(30, 200))
    assert answer.startswith(b"HTTP/1.1 200"), answer[:200]


@pytest.mark.parametrize(
    "request_bytes",
    [b"GET /\r\n", b"GET /healthz HTTP/1.1\r\nhost: x\r\n", b"", b"GET /healthz HTT"],
)
def test_a_head_that_never_ends_is_cut_within_seconds(
    origin: OriginServer, request_bytes: bytes
) -> None:
    answer, took = exchange(origin.url, request_bytes, wait_s=HEAD_TIMEOUT_S + 8)
    assert took < HEAD_TIMEOUT_S + 3
    assert answer == b"" or answer.startswith((b"HTTP/1.1 408", b"HTTP/1.1 400")), answer[:200]


def test_a_pop_cuts_a_head_that_never_ends_within_its_setting(
    origin: OriginServer, tmp_path: Path
) -> None:
    env = {"MEDIACDN_ADMIN_KEYS": "admin", "MEDIACDN_HEADER_TIMEOUT_S": str(HEAD_TIMEOUT_S)}
    args = ("--name", "slow-pop", "--upstream", origin.url)
    with mediacdn_process("edge", tmp_path, env, *args, name="slow-pop") as pop:
        for request_bytes in (b"GET /healthz HTTP/1.1\r\nhost: x\r\n", b""):
            answer, took = exchange(pop, request_bytes, wait_s=HEAD_TIMEOUT_S + 20)
            assert took < HEAD_TIMEOUT_S + 3, took  # (15 s, the default, before)
            assert answer == b"" or answer.startswith(b"HTTP/1.1 408"), answer[:200]


def test_a_pop_refuses_oversized_heads(origin: OriginServer, tmp_path: Path) -> None:
    with edge_process(tmp_path, origin.url, name="limits-pop") as pop:
        for request in (head(2000, 1), head(1, 100_000)):
            answer, _ = exchange(pop, request)
            assert answer.startswith(b"HTTP/1.1 431") or answer == b"", answer[:200]
        answer, _ = exchange(pop, head(30, 200))
        assert answer.startswith(b"HTTP/1.1 200"), answer[:200]


INVALID = [
    b"GET /healthz HTTP/1.1\r\nhost: x\r\nx-bad: a\x01b\r\n\r\n",  # a control octet in a value
    b"GET /healthz HTTP/1.1\r\nhost: x\r\nbad name: v\r\n\r\n",  # a space in a field name
    b"GET /health z HTTP/1.1\r\nhost: x\r\n\r\n",
    b"GET /healthz HTTP/1.1\r\nhost: x\r\nHost: y\r\n\r\n",  # two Hosts (RFC 9112 §3.2)
    b"GET /healthz HTTP/1.1\r\naccept: */*\r\n\r\n",  # no Host in HTTP/1.1 (the same)
    b"GET /healthz HTTP/1.1\r\nhost: \r\n\r\n",  # an empty one (RFC 9110 §4.2.1)
]


@pytest.mark.parametrize("request_bytes", INVALID)
def test_invalid_http_gets_a_json_400(
    origin: OriginServer, tmp_path: Path, request_bytes: bytes
) -> None:
    with edge_process(tmp_path, origin.url, name="invalid-pop") as pop:
        for url in (origin.url, pop):
            answer, _ = exchange(url, request_bytes)
            assert answer.startswith(b"HTTP/1.1 400"), answer[:200]
            assert b"content-type: application/json" in answer
            assert b'"code": "bad_request"' in answer, answer


def test_an_http_1_0_request_needs_no_host(origin: OriginServer, tmp_path: Path) -> None:
    """Host is required from HTTP/1.1 on: an HTTP/1.0 health check without one is answered."""
    with edge_process(tmp_path, origin.url, name="old-pop") as pop:
        for url in (origin.url, pop):
            answer, _ = exchange(url, b"GET /healthz HTTP/1.0\r\n\r\n")
            assert answer.startswith(b"HTTP/1.1 200"), answer[:200]


def test_whitespace_around_header_values_does_not_reach_the_app(origin: OriginServer) -> None:
    """`Tus-Resumable: 1.0.0 ` is version 1.0.0: the origin's tus endpoint takes it."""
    key = origin.headers()["Authorization"]
    request = (
        "POST /api/uploads/ HTTP/1.1\r\nhost: x\r\ncontent-length: 0\r\n"
        f"authorization: {key} \r\ntus-resumable: \t1.0.0 \r\nupload-length: 10 \r\n\r\n"
    )
    answer, _ = exchange(origin.url, request.encode())
    assert answer.startswith(b"HTTP/1.1 201"), answer[:300]
