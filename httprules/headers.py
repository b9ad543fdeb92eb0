"""HTTP header handling for proxies: hop-by-hop filtering (RFC 9110 §7.6.1) and ASGI encoding."""

from __future__ import annotations

from typing import TypeGuard

import httpx

from httprules.asgi import Scope

HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
        "proxy-connection",
        "host",
    }
)


def request_headers(scope: Scope) -> dict[str, str]:
    out: dict[str, str] = {}
    for raw_name, raw_value in scope["headers"]:
        name = raw_name.decode("latin-1").lower()
        value = raw_value.decode("latin-1")
        out[name] = f"{out[name]}, {value}" if name in out else value
    return out


def end_to_end(headers: httpx.Headers) -> dict[str, str]:
    """The end-to-end headers of a response, lower-cased, repeated fields joined: without the
    hop-by-hop ones, nor those the Connection header names (RFC 9110 §7.6.1)."""
    listed = {n.strip().lower() for v in headers.get_list("connection") for n in v.split(",")}
    out: dict[str, str] = {}
    for name, value in headers.multi_items():
        lname = name.lower()
        if lname in HOP_BY_HOP or lname in listed:
            continue
        out[lname] = f"{out[lname]}, {value}" if lname in out else value
    return out


def encode(headers: dict[str, str]) -> list[tuple[bytes, bytes]]:
    return [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]


def with_forwarded_for(headers: dict[str, str], client_ip: str | None) -> dict[str, str]:
    """`headers` with the client's address appended to X-Forwarded-For (de facto standard:
    each proxy appends the address it received the request from; what the client sent stays
    in front and is not trusted)."""
    if not client_ip:
        return headers
    before = headers.get("x-forwarded-for", "").strip()
    return {**headers, "x-forwarded-for": f"{before}, {client_ip}" if before else client_ip}


def ascii_digits(value: str | None) -> TypeGuard[str]:
    """A non-negative integer as HTTP writes one: ASCII digits only ('²' and '٣' are digits to
    Python's `str.isdigit`, and `int` of the first raises)."""
    return value is not None and value.isascii() and value.isdigit()
