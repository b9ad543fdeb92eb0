"""Routing decisions (pure, shared by the router and the simulator): send a client to the
nearest healthy POP, penalised by load; spill from a POP above its capacity or above c × the
average load (bounded load; a POP under `spill_floor` (half) of its capacity is never too loaded, so
a quiet CDN routes by distance alone); within a metro, keep one video on one POP by rendezvous
hashing with bounded loads, so its segments stay in one cache."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

EARTH_RADIUS_KM = 6371.0
FIBRE_KM_PER_MS = 200.0  # light in fibre travels about 2/3 c


@dataclass(frozen=True, slots=True)
class Pop:
    name: str
    lat: float
    lon: float
    tier: str = "edge"  # "edge" serves clients; "shield" only serves edges
    max_in_flight: int = 1000
    max_mbps: float = 10_000.0


@dataclass(frozen=True, slots=True)
class PopLoad:
    in_flight: int = 0
    mbps: float = 0.0
    healthy: bool = True


@dataclass(frozen=True, slots=True)
class RoutingPolicy:
    base_rtt_ms: float = 5.0
    load_penalty_ms: float = 40.0  # added at 100% utilisation
    bounded_load: float = 1.25  # c: spill above c × the average utilisation
    spill_floor: float = 0.5  # ...but never spill from a POP below half its capacity
    metro_km: float = 150.0  # POPs this close to the nearest one share its clients


@dataclass(frozen=True, slots=True)
class Route:
    pop: Pop
    alternatives: tuple[Pop, ...]
    distance_km: float
    rtt_ms: float


def great_circle_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Haversine distance."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def rtt_ms(distance_km: float, policy: RoutingPolicy) -> float:
    return policy.base_rtt_ms + 2 * distance_km / FIBRE_KM_PER_MS


def utilisation(pop: Pop, load: PopLoad) -> float:
    return max(load.in_flight / max(1, pop.max_in_flight), load.mbps / max(1e-9, pop.max_mbps))


def _rendezvous(key: str, pop: Pop) -> int:
    digest = hashlib.blake2b(f"{key}\x00{pop.name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def choose_pop(
    lat: float,
    lon: float,
    pops: Sequence[Pop],
    loads: Mapping[str, PopLoad],
    policy: RoutingPolicy = RoutingPolicy(),
    content_key: str | None = None,
) -> Route | None:
    """The POP for a client at (lat, lon) asking for `content_key` (e.g. the video), with the
    alternatives to fail over to, best first. None when no edge POP is healthy."""
    idle = PopLoad()
    candidates = [p for p in pops if p.tier == "edge" and loads.get(p.name, idle).healthy]
    if not candidates:
        return None
    distance = {p.name: great_circle_km(lat, lon, p.lat, p.lon) for p in candidates}
    used = {p.name: utilisation(p, loads.get(p.name, idle)) for p in candidates}
    average = math.fsum(used.values()) / len(candidates)
    limit = max(policy.bounded_load * average, 1e-9)

    def overloaded(pop: Pop) -> bool:
        mine = used[pop.name]
        return mine >= 1.0 or (mine > limit and mine > policy.spill_floor)

    def score(pop: Pop) -> float:
        return rtt_ms(distance[pop.name], policy) + policy.load_penalty_ms * used[pop.name]

    ranked = sorted(candidates, key=lambda p: (overloaded(p), score(p)))
    best = ranked[0]
    if content_key is not None and not overloaded(best):
        nearest = min(distance[p.name] for p in candidates)
        metro = [
            p
            for p in candidates
            if distance[p.name] <= nearest + policy.metro_km and not overloaded(p)
        ]
        if len(metro) > 1:
            best = max(metro, key=lambda p: _rendezvous(content_key, p))
    alternatives = tuple(p for p in ranked if p is not best)
    return Route(best, alternatives, distance[best.name], rtt_ms(distance[best.name], policy))


def neighbours(
    pop: Pop,
    pops: Sequence[Pop],
    loads: Mapping[str, PopLoad],
    policy: RoutingPolicy = RoutingPolicy(),
    limit: int = 3,
) -> list[Pop]:
    """Where an overloaded `pop` should send new requests: the POPs of its tier a client at
    its own location would be routed to, best first, itself excluded."""
    others = [replace(p, tier="edge") for p in pops if p.tier == pop.tier and p.name != pop.name]
    route = choose_pop(pop.lat, pop.lon, others, loads, policy)
    if route is None:
        return []
    ranked = [route.pop, *route.alternatives][:limit]
    return [next(p for p in pops if p.name == r.name) for r in ranked]
