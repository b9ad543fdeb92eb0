"""Signed playback tokens that travel in the URL path.

A token is one path segment, `~{key id}.{expiry}.{ip flag}.{signature}`, placed right after the
path prefix it grants: `/vod/abc/~k1.1767225600.0.Q2x…/master.m3u8` grants everything under
`/vod/abc/`. Every relative URI in a playlist resolves under the same segment, so variants,
renditions, init segments, media segments and subtitles all carry it without any rewriting.

The signature is HMAC-SHA256 over the key id, the expiry, the prefix and (when the ip flag is 1)
the client's address (an IPv6 one by its /64), with a secret the origin and the POPs share.
HMAC rather than an RFC 9246 JWT: both sides hold the same secret anyway, so public-key
signatures would buy nothing; the token stays one short path segment (about 60 characters
against 200 or more); and there is no algorithm field for an attacker to choose. The key id
lets keys rotate: a key ring holds every key still accepted and names the one new tokens are
signed with.

A token can also be sent in the `X-Playback-Token` header, where it may grant any ancestor
directory of the requested path; POPs send one for the whole site (`/`) on their fills, so the
origin can tell a POP's request from a viewer's without the viewer's token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import time
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from httprules.addresses import client_key
from httprules.asgi import Scope

TOKEN_HEADER = "x-playback-token"
_TOKEN_HEADER_BYTES = TOKEN_HEADER.encode()
# On every response of a signed video: a POP answers it only to requests a token granted.
ACCESS_HEADER = "x-playback-access"
MARK = "~"
MAX_TOKEN_CHARS = 200


class TokenRejected(Exception):
    """A token that does not grant the request. `reason`: malformed, unknown_key, no_keys,
    bad_signature or expired; the message says why in words (safe to show a client)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def canonical_ip(address: str | None) -> str | None:
    """What a bound token names of its viewer's address, one spelling for it: the IPv4 address
    (IPv4-mapped IPv6 as IPv4) or the IPv6 /64 (httprules/addresses.py: a viewer's privacy
    address changes within its /64, and its token keeps working)."""
    return client_key(address) or None


@dataclass(frozen=True)
class KeyRing:
    """The playback keys: every key id still accepted, and the one new tokens are signed with."""

    keys: Mapping[str, bytes]
    signing: str

    def __post_init__(self) -> None:
        if self.signing not in self.keys:
            raise ValueError(f"the signing key {self.signing!r} is not among the keys")
        for kid, secret in self.keys.items():
            if not kid or not all(c.isascii() and (c.isalnum() or c in "_-") for c in kid):
                raise ValueError(f"key id {kid!r}: letters, digits, '_' and '-' only")
            if len(secret) < 16:
                raise ValueError(f"key {kid!r} is shorter than 16 bytes")

    @classmethod
    def parse(cls, text: str) -> KeyRing:
        """TOML: `signing = "k2"` and a `[keys]` table of key id = secret (at least 16 chars)."""
        data = tomllib.loads(text)
        keys = data.get("keys")
        if not isinstance(keys, dict) or not keys:
            raise ValueError("a [keys] table of key id = secret is required")
        if not all(isinstance(v, str) for v in keys.values()):
            raise ValueError("every key's secret is a string")
        signing = data.get("signing", next(iter(keys)) if len(keys) == 1 else None)
        if not isinstance(signing, str):
            raise ValueError('with several keys, `signing = "<key id>"` names the one to sign with')
        return cls({k: v.encode() for k, v in keys.items()}, signing)


@dataclass
class KeyFile:
    """A key ring read from a file, read again when the file changes (checked at most once a
    second), so keys rotate without a restart. A file that stops parsing keeps the last ring."""

    path: Path
    ring: KeyRing = field(init=False)
    _stamp: tuple[int, int] = field(init=False, default=(0, 0))
    _checked: float = field(init=False, default=0.0)

    def __post_init__(self) -> None:
        self.ring = KeyRing.parse(self.path.read_text())
        st = os.stat(self.path)
        self._stamp = (st.st_mtime_ns, st.st_size)
        self._checked = time.monotonic()

    def current(self) -> KeyRing:
        now = time.monotonic()
        if now - self._checked >= 1.0:
            self._checked = now
            try:
                st = os.stat(self.path)
                if (st.st_mtime_ns, st.st_size) != self._stamp:
                    self.ring = KeyRing.parse(self.path.read_text())
                    self._stamp = (st.st_mtime_ns, st.st_size)
            except (OSError, ValueError):
                pass
        return self.ring


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _signature(secret: bytes, kid: str, expires: int, prefix: str, ip: str | None) -> str:
    message = f"{kid}\n{expires}\n{prefix}\n{ip or ''}".encode()
    return _b64(hmac.new(secret, message, hashlib.sha256).digest())


def mint(ring: KeyRing, prefix: str, expires_at: int, client_ip: str | None = None) -> str:
    """A token (without the leading mark) granting `prefix` until `expires_at` (Unix time)."""
    if not prefix.startswith("/") or not prefix.endswith("/"):
        raise ValueError("a token's prefix is a directory path: '/…/'")
    kid = ring.signing
    sig = _signature(ring.keys[kid], kid, expires_at, prefix, canonical_ip(client_ip))
    return f"{kid}.{expires_at}.{1 if client_ip else 0}.{sig}"


def verify(ring: KeyRing, token: str, prefix: str, client_ip: str | None, now: float) -> None:
    """Raise `TokenRejected` unless `token` grants `prefix` to `client_ip` at `now`."""
    parts = token.split(".")
    if len(token) > MAX_TOKEN_CHARS or len(parts) != 4:
        raise TokenRejected("malformed", "malformed playback token")
    kid, expires_text, ip_flag, sig = parts
    if not (expires_text.isascii() and expires_text.isdigit()) or ip_flag not in ("0", "1"):
        raise TokenRejected("malformed", "malformed playback token")
    secret = ring.keys.get(kid)
    if secret is None:
        raise TokenRejected("unknown_key", "playback token signed with an unknown or retired key")
    ip = canonical_ip(client_ip) if ip_flag == "1" else None
    expected = _signature(secret, kid, int(expires_text), prefix, ip)
    if (ip_flag == "1" and ip is None) or not hmac.compare_digest(expected, sig):
        where = " or for this client address" if ip_flag == "1" else ""
        raise TokenRejected("bad_signature", f"playback token not valid for this path{where}")
    if int(expires_text) <= now:
        raise TokenRejected("expired", "playback token expired")


@dataclass(frozen=True, slots=True)
class SignedPath:
    """A request path split at its token segment: `path` is what remains (the cache key and
    the upstream path), `prefix` what the token grants, `token` the token (None: unsigned)."""

    path: str
    prefix: str
    token: str | None


# kid . expiry . ip flag . 32-byte signature in unpadded base64url
TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{1,64}\.[0-9]{1,12}\.[01]\.[A-Za-z0-9_-]{43}")


def split_path(path: str) -> SignedPath:
    """Find the first segment shaped like `~token` in `path` and take it out. Other `~`
    segments (`/~alice/`) are ordinary path segments: a POP in front of any site keeps them."""
    start = path.find("/" + MARK)
    while start >= 0:
        end = path.find("/", start + 1)
        if end < 0:  # a token must be followed by what it grants
            break
        token = path[start + 2 : end]
        if TOKEN_SHAPE.fullmatch(token):
            return SignedPath(path[:start] + path[end:], path[: start + 1], token)
        start = path.find("/" + MARK, end)
    return SignedPath(path, "", None)


def ancestors(path: str) -> list[str]:
    """Every directory prefix of `path`, the deepest first: '/a/b/c' → '/a/b/', '/a/', '/'."""
    out = []
    end = path.rfind("/")
    while end >= 0:
        out.append(path[: end + 1])
        end = path.rfind("/", 0, end)
    return out


def verify_header(ring: KeyRing, token: str, path: str, client_ip: str | None, now: float) -> None:
    """A header token grants `path` if it grants any directory above it."""
    for prefix in ancestors(path):
        try:
            return verify(ring, token, prefix, client_ip, now)
        except TokenRejected as exc:
            if exc.reason != "bad_signature":
                raise
    raise TokenRejected("bad_signature", "playback token not valid for this path")


def grants_site(ring: KeyRing, token: str, now: float) -> bool:
    """Does `token` grant the whole site (a POP's fill credential, exempt from viewer rate
    limits)? Viewers' tokens grant one video's directory."""
    try:
        verify(ring, token, "/", None, now)
    except TokenRejected:
        return False
    return True


def header_token(scope: Scope) -> str | None:
    """The request's `X-Playback-Token`, if it sent one."""
    for name, value in scope["headers"]:
        if name == _TOKEN_HEADER_BYTES:
            return str(value.decode("latin-1"))
    return None


def admit(
    ring: KeyRing | None, path: str, header_token: str | None, client_ip: str | None, now: float
) -> tuple[str, bool]:
    """The path without its token, and whether a token granted it (False: none was sent).
    Raises `TokenRejected` for a token that was sent and does not grant the path."""
    signed = split_path(path)
    token = signed.token if signed.token is not None else header_token
    if token is None:
        return path, False
    if ring is None:
        raise TokenRejected("no_keys", "this server was given no playback keys")
    if signed.token is not None:
        verify(ring, signed.token, signed.prefix, client_ip, now)
    else:
        verify_header(ring, token, path, client_ip, now)
    return signed.path, True


def admit_request(
    keys: KeyFile | None, scope: Scope, path: str, now: float
) -> tuple[str, bool, str | None]:
    """`admit` for a server's request: the path without its token, whether a token granted
    it, and the header token it sent (looked for only when the server has keys)."""
    if keys is None and "/" + MARK not in path:  # without keys only a path token can come
        return path, False, None
    header = header_token(scope) if keys is not None else None
    client = scope.get("client")
    ring = keys.current() if keys is not None else None
    stripped, granted = admit(ring, path, header, client[0] if client else None, now)
    return stripped, granted, header


def refusal(exc: TokenRejected | None) -> tuple[int, str, str]:
    """The 403 (status, code, message) for a token that was refused, or for none (None)."""
    if exc is None:
        return 403, "token_required", "this video plays only with a playback token"
    return 403, "token_expired" if exc.reason == "expired" else "token_invalid", str(exc)
