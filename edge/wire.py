"""What crosses the wire between POPs, the router and players, as typed records, each with one
encoder (`to_json`) and one decoder (`from_json`, which checks what it is given and raises
`WireError`). Pure: POPs, the router and the player import it; it imports nothing of theirs."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

TIERS = ("edge", "shield")
# A POP's name is a DNS label: it goes into URLs, playlists (PATHWAY-ID), logs and metrics.
POP_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
# Nothing that could end a quoted string or a line in a playlist, nor other controls.
_UNSAFE = re.compile(r'[\x00-\x20\x7f"<>\\^`{|}]')


# A heartbeat is signed with its POP's key: HMAC-SHA256 over the time it was sent and the body,
# in `X-Pop-Signature: t=<unix seconds>,sig=<hex>`. The name inside the body says which key.
SIGNATURE_HEADER = "x-pop-signature"
MAX_SKEW_S = 30.0  # a signature older or newer than this is refused (replays, stale clocks)


class WireError(ValueError):
    """A message that does not decode: the receiver answers 422 and changes nothing."""


class SignatureError(ValueError):
    """A heartbeat that does not prove its POP sent it: 401 without a signature, else 403."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def sign_beat(key: str, body: bytes, at_s: float) -> str:
    """The `X-Pop-Signature` value for `body` sent at `at_s` (unix seconds)."""
    stamp = f"{at_s:.3f}"
    mac = hmac.new(key.encode(), stamp.encode() + b"\n" + body, hashlib.sha256).hexdigest()
    return f"t={stamp},sig={mac}"


def verify_beat(key: str | None, body: bytes, header: str | None, now_s: float) -> float:
    """When the beat was signed, if `header` is a valid signature of `body` by `key` made within
    MAX_SKEW_S of `now_s`; else SignatureError. No key (an unknown POP) never verifies."""
    if not header:
        raise SignatureError(401, f"heartbeats need an {SIGNATURE_HEADER} header")
    fields = dict(part.partition("=")[::2] for part in header.split(","))
    stamp, mac = fields.get("t", ""), fields.get("sig", "")
    try:
        at_s = float(stamp)
    except ValueError:
        raise SignatureError(401, "malformed signature") from None
    if key is None:
        raise SignatureError(403, "no key is held for this POP")
    expected = sign_beat(key, body, at_s).rpartition("sig=")[2]
    same_stamp = f"{at_s:.3f}" == stamp
    if not (hmac.compare_digest(mac.encode(), expected.encode()) and same_stamp):
        raise SignatureError(403, "the signature does not match")
    if not math.isfinite(at_s) or abs(now_s - at_s) > MAX_SKEW_S:
        raise SignatureError(403, "the signature is too old or from the future")
    return at_s


def _object(data: object, what: str) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise WireError(f"{what} must be a JSON object")
    return data


def _number(
    data: Mapping[str, Any], key: str, low: float, high: float, default: float | None = None
) -> float:
    """A JSON number within [low, high] (finite: NaN and infinities are refused)."""
    value = data.get(key, default)
    if value is None:
        raise WireError(f"missing {key!r}")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise WireError(f"{key!r} must be a number")
    number = float(value)
    if not math.isfinite(number):
        raise WireError(f"{key!r} must be finite")
    if not low <= number <= high:
        raise WireError(f"{key!r} must be between {low:g} and {high:g}")
    return number


def _count(data: Mapping[str, Any], key: str, low: int, high: int, default: int) -> int:
    number = _number(data, key, low, high, default)
    if number != int(number):
        raise WireError(f"{key!r} must be a whole number")
    return int(number)


def _text(data: Mapping[str, Any], key: str, default: str | None = None) -> str:
    value = data.get(key, default)
    if value is None:
        raise WireError(f"missing {key!r}")
    if not isinstance(value, str):
        raise WireError(f"{key!r} must be a string")
    return value


MAX_ADDRESSES = 8


def _addresses(value: object) -> tuple[str, ...]:
    if (
        not isinstance(value, list)
        or len(value) > MAX_ADDRESSES
        or not all(isinstance(a, str) for a in value)
    ):
        raise WireError(f"'addresses' must be a list of at most {MAX_ADDRESSES} IP addresses")
    try:
        return tuple(str(ipaddress.ip_address(a)) for a in value)
    except ValueError as exc:
        raise WireError(f"'addresses': {exc}") from None


def check_pop_name(name: str) -> str:
    if not POP_NAME.match(name):
        raise WireError(
            f"POP name {name[:70]!r} must be 1-63 lower-case letters, digits and inner hyphens"
        )
    return name


def check_url(url: str, *, base: bool = False) -> str:
    """An http(s) URL with a host, no credentials, nothing that could break a playlist line;
    with `base`, nothing after the authority but an optional `/` (which is dropped)."""
    if len(url) > 2048 or _UNSAFE.search(url):
        raise WireError("the URL is too long or has characters a URL may not carry")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise WireError(f"not a URL: {exc}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise WireError("the URL must be http(s) with a host")
    if parts.username is not None or parts.password is not None:
        raise WireError("the URL may not carry credentials")
    if port == 0:
        raise WireError("the URL's port must be 1-65535")
    if base:
        if parts.path not in ("", "/") or parts.query or parts.fragment:
            raise WireError("the URL must be a base URL (scheme, host and port only)")
        return url.rstrip("/")
    return url


@dataclass(frozen=True, slots=True)
class PopBeat:
    """POP → router, every heartbeat: who and where the POP is, its capacity and its load."""

    name: str
    url: str  # where clients reach the POP
    lat: float
    lon: float
    tier: str = "edge"
    max_in_flight: int = 1000
    max_mbps: float = 10_000.0
    in_flight: int = 0
    bytes_per_s: float = 0.0
    requests_per_s: float = 0.0
    cache_fill: float = 0.0
    healthy: bool = True
    addresses: tuple[str, ...] = ()  # IPv4/IPv6 addresses clients reach it at (for DNS)

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "url": self.url,
            "lat": self.lat,
            "lon": self.lon,
            "tier": self.tier,
            "max_in_flight": self.max_in_flight,
            "max_mbps": self.max_mbps,
            "in_flight": self.in_flight,
            "bytes_per_s": self.bytes_per_s,
            "requests_per_s": self.requests_per_s,
            "cache_fill": self.cache_fill,
            "healthy": self.healthy,
            "addresses": list(self.addresses),
        }

    @classmethod
    def from_json(cls, data: object) -> PopBeat:
        d = _object(data, "a heartbeat")
        unknown = set(d) - set(cls.__dataclass_fields__)
        if unknown:
            raise WireError(f"unknown fields: {', '.join(sorted(unknown)[:5])[:200]}")
        healthy = d.get("healthy", True)
        if not isinstance(healthy, bool):
            raise WireError("'healthy' must be true or false")
        tier = _text(d, "tier", "edge")
        if tier not in TIERS:
            raise WireError("tier must be edge or shield")
        return cls(
            name=check_pop_name(_text(d, "name")),
            url=check_url(_text(d, "url"), base=True),
            lat=_number(d, "lat", -90, 90),
            lon=_number(d, "lon", -180, 180),
            tier=tier,
            max_in_flight=_count(d, "max_in_flight", 1, 10_000_000, 1000),
            max_mbps=_number(d, "max_mbps", 0.001, 10_000_000, 10_000.0),
            in_flight=_count(d, "in_flight", 0, 100_000_000, 0),
            bytes_per_s=_number(d, "bytes_per_s", 0, 1e13, 0.0),
            requests_per_s=_number(d, "requests_per_s", 0, 1e9, 0.0),
            cache_fill=_number(d, "cache_fill", 0, 10, 0.0),
            healthy=healthy,
            addresses=_addresses(d.get("addresses", [])),
        )


@dataclass(frozen=True, slots=True)
class PopUrl:
    """A POP and where clients reach it (with the requested path, in a route decision)."""

    pop: str
    url: str

    def to_json(self) -> dict[str, object]:
        return {"pop": self.pop, "url": self.url}

    @classmethod
    def from_json(cls, data: object) -> PopUrl:
        d = _object(data, "a POP")
        return cls(check_pop_name(_text(d, "pop")), check_url(_text(d, "url")))


@dataclass(frozen=True, slots=True)
class BeatReply:
    """Router → POP, the answer to a heartbeat: where to spill new requests while overloaded,
    best first (where a client at the POP's location would be routed, load-aware)."""

    neighbours: tuple[PopUrl, ...] = ()

    def to_json(self) -> dict[str, object]:
        return {"neighbours": [{"name": n.pop, "url": n.url} for n in self.neighbours]}

    @classmethod
    def from_json(cls, data: object) -> BeatReply:
        d = _object(data, "a heartbeat reply")
        raw = d.get("neighbours", [])
        if not isinstance(raw, list):
            raise WireError("'neighbours' must be a list")
        out = []
        for item in raw:
            n = _object(item, "a neighbour")
            out.append(PopUrl(check_pop_name(_text(n, "name")), check_url(_text(n, "url"))))
        return cls(tuple(out))


@dataclass(frozen=True, slots=True)
class RouteDecision:
    """Router → client (`GET /route`): the POP chosen for a client and a path, its
    alternatives best first, and how long the answer may be reused."""

    chosen: PopUrl
    alternatives: tuple[PopUrl, ...]
    distance_km: float
    rtt_ms: float
    ttl_s: int

    @property
    def ranked(self) -> tuple[PopUrl, ...]:
        """The chosen POP, then its alternatives, best first."""
        return (self.chosen, *self.alternatives)

    def to_json(self) -> dict[str, object]:
        return {
            "pop": self.chosen.pop,
            "url": self.chosen.url,
            "distance_km": round(self.distance_km, 1),
            "rtt_ms": round(self.rtt_ms, 2),
            "alternatives": [a.to_json() for a in self.alternatives],
            "ttl": self.ttl_s,
        }

    @classmethod
    def from_json(cls, data: object) -> RouteDecision:
        d = _object(data, "a route decision")
        raw = d.get("alternatives", [])
        if not isinstance(raw, list):
            raise WireError("'alternatives' must be a list")
        return cls(
            chosen=PopUrl.from_json(d),
            alternatives=tuple(PopUrl.from_json(a) for a in raw),
            distance_km=_number(d, "distance_km", 0, 40_075),
            rtt_ms=_number(d, "rtt_ms", 0, 1e6),
            ttl_s=_count(d, "ttl", 0, 86_400, 0),
        )


@dataclass(frozen=True, slots=True)
class AccessRecord:
    """One request a POP answered, as its access log keeps it (one JSON object a line):
    when it finished, who asked, what, the status and body bytes sent, the size of the whole
    object (for replays: a range or a 304 still names the object it came from; 0 when not
    known), the X-Cache result and how long it took."""

    at_s: float
    client: str
    method: str
    path: str
    status: int
    sent_bytes: int
    object_bytes: int
    cache: str
    took_ms: float
    request_id: str = ""

    def to_json(self) -> dict[str, object]:
        record: dict[str, object] = {
            "t": round(self.at_s, 3),
            "client": self.client,
            "method": self.method,
            "path": self.path,
            "status": self.status,
            "bytes": self.sent_bytes,
            "object_bytes": self.object_bytes,
            "cache": self.cache,
            "ms": round(self.took_ms, 3),
        }
        if self.request_id:
            record["id"] = self.request_id
        return record

    @classmethod
    def from_json(cls, data: object) -> AccessRecord:
        d = _object(data, "an access log record")
        return cls(
            at_s=_number(d, "t", 0, 1e11),
            client=_text(d, "client", ""),
            method=_text(d, "method"),
            path=_text(d, "path"),
            status=_count(d, "status", 100, 599, 200),
            sent_bytes=_count(d, "bytes", 0, 1 << 50, 0),
            object_bytes=_count(d, "object_bytes", 0, 1 << 50, 0),
            cache=_text(d, "cache", ""),
            took_ms=_number(d, "ms", 0, 1e9, 0.0),
            request_id=_text(d, "id", ""),
        )
