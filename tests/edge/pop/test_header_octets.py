"""Header values pass through a real `mediacdn edge` process as the octets that were sent, both
ways: whitespace around a client's value is not part of it (RFC 9110 §5.5) and is dropped, not
sent upstream to fail there; non-ASCII octets (obs-text: UTF-8 in a User-Agent or a file
name) go upstream and back to clients unchanged, on a miss and on a hit."""

from __future__ import annotations

import socket
from pathlib import Path
from urllib.parse import urlsplit

from tests.support.edges import edge_in_front
from tests.support.scripted_origin import Route, ScriptedOrigin

NAME = "Zoë – ça"  # UTF-8 on the wire: octets outside ASCII


def raw_get(url: str, path: str, fields: list[bytes]) -> tuple[int, list[tuple[bytes, bytes]]]:
    """Status and header fields of a GET sent as raw octets (an HTTP library would refuse to
    send, or re-encode, what these tests are about)."""
    parts = urlsplit(url)
    head = b"\r\n".join(
        [f"GET {path} HTTP/1.1".encode(), f"Host: {parts.netloc}".encode(), *fields]
    )
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as conn:
        conn.sendall(head + b"\r\nConnection: close\r\n\r\n")
        received = b""
        while chunk := conn.recv(65536):
            received += chunk
    lines = received.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
    status = int(lines[0].split()[1])
    fields_out = [tuple(line.split(b": ", 1)) for line in lines[1:]]
    return status, [(name.lower(), value) for name, value in fields_out]


def test_whitespace_around_a_request_value_is_dropped(tmp_path: Path) -> None:
    origin = ScriptedOrigin({"/a": Route(b"a", headers={"cache-control": "no-store"})})
    with edge_in_front(tmp_path, origin) as edge:
        status, _ = raw_get(edge, "/a", [b"X-Test-Name: trailing space ", b"X-Tabs: \ta\tb\t"])
        assert status == 200
        seen = origin.seen_headers[-1]
        assert seen["x-test-name"] == "trailing space"
        assert seen["x-tabs"] == "a\tb"  # inner whitespace is the value's own


def test_non_ascii_octets_pass_both_ways_unchanged(tmp_path: Path) -> None:
    disposition = f'attachment; filename="{NAME}.mp4"'
    origin = ScriptedOrigin(
        {
            "/file": Route(
                b"x",
                headers={"cache-control": "public, max-age=60", "content-disposition": disposition},
            )
        }
    )
    with edge_in_front(tmp_path, origin) as edge:
        agent = f"Player/1.0 ({NAME})".encode()
        for expected in (b"MISS", b"HIT"):
            status, fields = raw_get(edge, "/file", [b"User-Agent: " + agent])
            assert status == 200
            got = dict(fields)
            assert got[b"x-cache"] == expected
            assert got[b"content-disposition"] == disposition.encode()  # the origin's octets
        assert origin.seen_headers[0]["user-agent"] == agent.decode()  # the client's octets
