"""The CDN's topology from a TOML file: origin, POPs (position, tier, parent, capacity, and the
URL clients reach them at) and client regions. A default topology ships with the project."""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge.router.routing import Pop
from edge.wire import WireError, check_pop_name, check_url

DEFAULT_TOPOLOGY = Path(__file__).parent / "topologies" / "default.toml"


class TopologyError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class PopSpec:
    pop: Pop
    parent: str | None
    url: str | None = None  # where clients reach it: the router routes only to planned URLs


@dataclass(frozen=True, slots=True)
class Region:
    name: str
    lat: float
    lon: float
    weight: float


@dataclass(frozen=True, slots=True)
class Topology:
    origin: str
    pops: tuple[PopSpec, ...]
    regions: tuple[Region, ...]

    def upstream_of(self, name: str) -> str | None:
        """The parent POP's name, or None when the POP fills from the origin."""
        return next(p.parent for p in self.pops if p.pop.name == name)


def _position(item: dict[str, Any], what: str) -> tuple[float, float]:
    try:
        lat, lon = float(item["lat"]), float(item["lon"])
    except (KeyError, TypeError, ValueError):
        raise TopologyError(f"{what} needs numeric lat and lon") from None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise TopologyError(f"{what}: lat/lon out of range")
    return lat, lon


def parse_topology(data: dict[str, Any]) -> Topology:
    origin = data.get("origin")
    if not isinstance(origin, str) or not origin.startswith(("http://", "https://")):
        raise TopologyError("origin must be an http(s) URL")
    specs: list[PopSpec] = []
    for item in data.get("pop", []):
        name = item.get("name")
        if not isinstance(name, str) or not name:
            raise TopologyError("every pop needs a name")
        try:
            check_pop_name(name)
            url = check_url(item["url"], base=True) if "url" in item else None
        except (WireError, TypeError) as exc:
            raise TopologyError(f"pop {name[:70]!r}: {exc}") from None
        lat, lon = _position(item, f"pop {name!r}")
        tier = item.get("tier", "edge")
        if tier not in ("edge", "shield"):
            raise TopologyError(f"pop {name!r}: tier must be edge or shield")
        pop = Pop(
            name,
            lat,
            lon,
            tier,
            int(item.get("max_in_flight", 1000)),
            float(item.get("max_mbps", 10_000.0)),
        )
        specs.append(PopSpec(pop, item.get("parent"), url))
    names = [s.pop.name for s in specs]
    if len(set(names)) != len(names):
        raise TopologyError("pop names must be unique")
    tiers = {s.pop.name: s.pop.tier for s in specs}
    for spec in specs:
        if spec.parent is not None and tiers.get(spec.parent) != "shield":
            raise TopologyError(f"pop {spec.pop.name!r}: parent {spec.parent!r} is not a shield")
    if not any(s.pop.tier == "edge" for s in specs):
        raise TopologyError("the topology needs at least one edge pop")
    regions = []
    for item in data.get("region", []):
        lat, lon = _position(item, f"region {item.get('name')!r}")
        regions.append(Region(str(item.get("name", "")), lat, lon, float(item.get("weight", 1))))
    return Topology(origin.rstrip("/"), tuple(specs), tuple(regions))


def load_topology(path: Path = DEFAULT_TOPOLOGY) -> Topology:
    try:
        with path.open("rb") as f:
            return parse_topology(tomllib.load(f))
    except tomllib.TOMLDecodeError as exc:
        raise TopologyError(f"{path}: {exc}") from None


def topology_toml(topology: Topology, urls: dict[str, str] | None = None) -> str:
    """`topology` as a TOML file `load_topology` reads back, with each POP's URL from `urls`
    (or its own)."""

    def value(v: object) -> str:
        return json.dumps(v) if isinstance(v, str) else repr(v)

    lines = [f"origin = {value(topology.origin)}", ""]
    for spec in topology.pops:
        p = spec.pop
        url = (urls or {}).get(p.name, spec.url)
        fields: dict[str, object] = {
            "name": p.name,
            "lat": p.lat,
            "lon": p.lon,
            "tier": p.tier,
            "max_in_flight": p.max_in_flight,
            "max_mbps": p.max_mbps,
        }
        if spec.parent:
            fields["parent"] = spec.parent
        if url:
            fields["url"] = url
        lines += ["[[pop]]", *(f"{k} = {value(v)}" for k, v in fields.items()), ""]
    for r in topology.regions:
        fields = {"name": r.name, "lat": r.lat, "lon": r.lon, "weight": r.weight}
        lines += ["[[region]]", *(f"{k} = {value(v)}" for k, v in fields.items()), ""]
    return "\n".join(lines)
