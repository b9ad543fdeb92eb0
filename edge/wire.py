"""What crosses the wire between POPs, the router and players, as typed records, each with one
encoder (`to_json`) and one decoder (`from_json`, which checks what it is given and raises
`WireError`). Pure: POPs, the router and the player import it; it imports nothing of theirs."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

TIERS = ("edge", "shield")


class WireError(ValueError):
    """A message that does not decode: the receiver answers 422 and changes nothing."""


def _object(data: object, what: str) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise WireError(f"{what} must be a JSON object")
    return data


def _number(data: Mapping[str, Any], key: str, default: float | None = None) -> float:
    value = data.get(key, default)
    if value is None:
        raise WireError(f"missing {key!r}")
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise WireError(f"{key!r} must be a number")
    try:
        number = float(value)
    except ValueError:
        raise WireError(f"{key!r} must be a number") from None
    if not math.isfinite(number):
        raise WireError(f"{key!r} must be finite")
    return number


def _text(data: Mapping[str, Any], key: str, default: str | None = None) -> str:
    value = data.get(key, default)
    if value is None:
        raise WireError(f"missing {key!r}")
    return str(value)


def _url(data: Mapping[str, Any], key: str) -> str:
    url = _text(data, key)
    if not url.startswith(("http://", "https://")):
        raise WireError(f"{key!r} must be an http(s) URL")
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
        }

    @classmethod
    def from_json(cls, data: object) -> PopBeat:
        d = _object(data, "a heartbeat")
        beat = cls(
            name=_text(d, "name"),
            url=_url(d, "url").rstrip("/"),
            lat=_number(d, "lat"),
            lon=_number(d, "lon"),
            tier=_text(d, "tier", "edge"),
            max_in_flight=int(_number(d, "max_in_flight", 1000)),
            max_mbps=_number(d, "max_mbps", 10_000.0),
            in_flight=int(_number(d, "in_flight", 0)),
            bytes_per_s=_number(d, "bytes_per_s", 0.0),
            requests_per_s=_number(d, "requests_per_s", 0.0),
            cache_fill=_number(d, "cache_fill", 0.0),
            healthy=bool(d.get("healthy", True)),
        )
        if not (-90 <= beat.lat <= 90 and -180 <= beat.lon <= 180):
            raise WireError("latitude/longitude out of range")
        if beat.tier not in TIERS:
            raise WireError("tier must be edge or shield")
        return beat


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
        return cls(_text(d, "pop"), _url(d, "url"))


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
            out.append(PopUrl(_text(n, "name"), _url(n, "url")))
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
            distance_km=_number(d, "distance_km"),
            rtt_ms=_number(d, "rtt_ms"),
            ttl_s=int(_number(d, "ttl")),
        )
