"""Request targets reach the upstream as the client sent them, through a real `mediacdn edge`
process in front of an upstream that answers with the target it received: a path that starts
with "//" (a player's sloppy join of a base URL and a path) stays a path, percent-encodings stay
as they were, an absolute-form target asks for its path of this POP's upstream and no other
host, a base path in `--upstream` comes first, and "*" is a clear 400."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from httprules.asgi import Receive, Scope, Send
from tests.support.asgi_server import serve_in_thread
from tests.support.edges import edge_process


async def echo_target(scope: Scope, receive: Receive, send: Send) -> None:
    """An upstream whose body is the request target it received, as octets."""
    if scope["type"] != "http":
        return
    target = scope["raw_path"] + (b"?" + scope["query_string"] if scope["query_string"] else b"")
    headers = [(b"cache-control", b"public, max-age=60"), (b"content-length", b"%d" % len(target))]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": target})


def raw_get(url: str, target: str) -> tuple[int, bytes]:
    """Status and body of a GET of `target` as written (an HTTP library would tidy it)."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as conn:
        conn.sendall(f"GET {target} HTTP/1.1\r\nHost: pop\r\nConnection: close\r\n\r\n".encode())
        received = b""
        while chunk := conn.recv(65536):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


@pytest.mark.parametrize("base", ["", "/media"])
def test_the_upstream_is_asked_for_the_target_as_sent(tmp_path: Path, base: str) -> None:
    with (
        serve_in_thread(echo_target) as upstream,
        edge_process(tmp_path, upstream + base) as edge,
    ):
        for target, seen in [
            ("//v/abc/1.m4s", "//v/abc/1.m4s"),
            ("/v//abc/2.m4s?x=1", "/v//abc/2.m4s?x=1"),
            ("/a%3Fb", "/a%3Fb"),
            ("/a?b", "/a?b"),
            ("/a%2Fb", "/a%2Fb"),
            ("http://elsewhere.example/v/3.m4s?y=2", "/v/3.m4s?y=2"),
        ]:
            for _ in range(2):  # the fill, then the stored copy
                status, body = raw_get(edge, target)
                assert (status, body) == (200, (base + seen).encode()), target
        status, body = raw_get(edge, "*")
        assert status == 400
        assert json.loads(body)["error"]["code"] == "invalid_target"
