"""A GET sent as raw octets: HTTP libraries tidy a request target (`..`, `//`) and refuse or
re-encode header values, which is what some tests are about."""

from __future__ import annotations

import socket
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass(frozen=True)
class RawResponse:
    status: int
    fields: list[tuple[bytes, bytes]]  # names lower-cased, in the order received
    body: bytes  # as received (chunked framing included, if any)

    def values(self, name: bytes) -> list[bytes]:
        return [v for n, v in self.fields if n == name]


def raw_get(
    url: str, target: str, fields: Sequence[bytes] = (), *, version: str = "1.1"
) -> RawResponse:
    """GET `target` from the server at `url` as written, with `fields` as extra header lines,
    in HTTP/`version`; the connection is closed after the response, which is read to its end."""
    parts = urlsplit(url)
    head = b"\r\n".join(
        [f"GET {target} HTTP/{version}".encode(), f"Host: {parts.netloc}".encode(), *fields]
    )
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as conn:
        conn.sendall(head + b"\r\nConnection: close\r\n\r\n")
        received = b""
        while chunk := conn.recv(65536):
            received += chunk
    top, _, body = received.partition(b"\r\n\r\n")
    lines = top.split(b"\r\n")
    pairs = [line.split(b":", 1) for line in lines[1:]]
    return RawResponse(
        int(lines[0].split()[1]), [(n.strip().lower(), v.strip()) for n, v in pairs], body
    )
