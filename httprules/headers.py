"""HTTP header handling for proxies: hop-by-hop filtering (RFC 9110 §7.6.1) and ASGI encoding."""

from __future__ import annotations

from collections.abc import Mapping
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


# Fields that are not comma-separated lists, so repeated ones are joined otherwise (RFC 9110
# §5.3): cookies a client sent in several fields (HTTP/2 splits them, RFC 9113 §8.2.3) are one
# Cookie joined with "; " (RFC 6265 §5.4); each Set-Cookie must reach the client as a field of
# its own (joined with commas, a browser reads one cookie), so they are kept joined by a line
# feed, which no field value can hold, and sent as separate fields again by `encode`.
JOINED_WITH = {"cookie": "; ", "set-cookie": "\n"}


def _join(out: dict[str, str], name: str, value: str) -> None:
    out[name] = f"{out[name]}{JOINED_WITH.get(name, ', ')}{value}" if name in out else value


def request_headers(scope: Scope) -> dict[str, str]:
    """A request's headers, names lower-cased and repeated fields joined. Values are bytes as
    sent (latin-1, so any octet round-trips) without the whitespace around them, which is not
    part of a field's value (RFC 9110 §5.5) and which a server's parser may leave in."""
    out: dict[str, str] = {}
    for raw_name, raw_value in scope["headers"]:
        _join(out, raw_name.decode("latin-1").lower(), raw_value.decode("latin-1").strip(" \t"))
    return out


def connection_named(connection: str) -> set[str]:
    """The fields a Connection value names, lower-cased: they are for the next hop only and
    go no further (RFC 9110 §7.6.1)."""
    return {name.strip().lower() for name in connection.split(",")}


def end_to_end(headers: httpx.Headers) -> dict[str, str]:
    """The end-to-end headers of a response, lower-cased, repeated fields joined: without the
    hop-by-hop ones, nor those the Connection header names (RFC 9110 §7.6.1). Values are the
    octets as received, read as latin-1 (not as whatever text they look like), so that they go
    out to clients unchanged."""
    fields = [(n.decode("latin-1").lower(), v.decode("latin-1")) for n, v in headers.raw]
    listed = connection_named(", ".join(v for k, v in fields if k == "connection"))
    out: dict[str, str] = {}
    for name, value in fields:
        if name in HOP_BY_HOP or name in listed:
            continue
        _join(out, name, value)
    return out


def encode(headers: Mapping[str, str]) -> list[tuple[bytes, bytes]]:
    """Headers as ASGI sends them: each Set-Cookie a field of its own."""
    return [
        (k.encode("latin-1"), item.encode("latin-1"))
        for k, v in headers.items()
        for item in (v.split("\n") if k == "set-cookie" else (v,))
    ]


def _appended(headers: Mapping[str, str], name: str, item: str) -> dict[str, str]:
    """`headers` with `item` appended to the list in field `name` (what was there stays in
    front)."""
    before = headers.get(name, "").strip()
    return {**headers, name: f"{before}, {item}" if before else item}


def with_forwarded_for(
    headers: dict[str, str], client_ip: str | None, proto: str | None = None
) -> dict[str, str]:
    """`headers` with the client's address appended to X-Forwarded-For (de facto standard:
    each proxy appends the address it received the request from) and as an element of
    Forwarded (RFC 7239: `for=`, and `proto=` the scheme the request came in with); what the
    client sent stays in front of each and is not trusted."""
    if not client_ip:
        return headers
    element = f"for={forwarded_node(client_ip)}"
    if proto in ("http", "https"):
        element += f";proto={proto}"
    return _appended(_appended(headers, "x-forwarded-for", client_ip), "forwarded", element)


def forwarded_node(address: str) -> str:
    """An address as a Forwarded `for=` value (RFC 7239 §6): IPv6 in brackets, quoted, as a
    colon is not a token character; anything else that is not a token (a Unix socket's
    path) as the RFC's `unknown`."""
    if ":" in address:
        return f'"[{address}]"'
    token = address and all(c.isascii() and (c.isalnum() or c in ".-_") for c in address)
    return address if token else "unknown"


def with_capability(headers: Mapping[str, str], device: str) -> dict[str, str]:
    """Request headers to an upstream with this surrogate's device token appended to
    Surrogate-Capability (Edge Architecture 1.0): the upstream may target Surrogate-Control
    directives at it (`max-age=60;device`). A tier below's own token stays in front."""
    return _appended(headers, "surrogate-capability", f'{device}="Surrogate/1.0"')


def ascii_digits(value: str | None) -> TypeGuard[str]:
    """A non-negative integer as HTTP writes one: ASCII digits only ('²' and '٣' are digits to
    Python's `str.isdigit`, and `int` of the first raises)."""
    return value is not None and value.isascii() and value.isdigit()
