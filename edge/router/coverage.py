"""Coverage zones (pure): client IP prefixes → a location, for routing clients that send no
location of their own. The file is Apache Traffic Control's coverage zone format (JSON):

    {"coverageZones": {"paris-dsl": {"network": ["10.1.0.0/16"], "network6": ["2001:db8::/32"],
                                     "coordinates": {"latitude": 48.86, "longitude": 2.35}}}}

The longest matching prefix wins."""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class CoverageZoneError(ValueError):
    pass


@dataclass(frozen=True)
class CoverageZones:
    zones: tuple[tuple[Network, str, float, float], ...] = ()  # longest prefix first

    @classmethod
    def parse(cls, data: Any) -> CoverageZones:
        if not isinstance(data, dict) or not isinstance(data.get("coverageZones"), dict):
            raise CoverageZoneError('a coverage zone file is {"coverageZones": {name: zone}}')
        zones = []
        for name, zone in data["coverageZones"].items():
            try:
                coords = zone["coordinates"]
                lat, lon = float(coords["latitude"]), float(coords["longitude"])
                prefixes = [*zone.get("network", []), *zone.get("network6", [])]
                networks = [ipaddress.ip_network(p, strict=False) for p in prefixes]
            except (KeyError, TypeError, ValueError) as exc:
                raise CoverageZoneError(f"zone {name!r}: {exc}") from None
            if not (-90 <= lat <= 90 and -180 <= lon <= 180):
                raise CoverageZoneError(f"zone {name!r}: coordinates out of range")
            zones += [(net, str(name), lat, lon) for net in networks]
        zones.sort(key=lambda z: -z[0].prefixlen)
        return cls(tuple(zones))

    @classmethod
    def load(cls, path: Path) -> CoverageZones:
        try:
            return cls.parse(json.loads(path.read_text()))
        except json.JSONDecodeError as exc:
            raise CoverageZoneError(f"{path}: {exc}") from None

    def locate(self, ip: str) -> tuple[float, float] | None:
        try:
            address = ipaddress.ip_address(ip)
        except ValueError:
            return None
        for network, _, lat, lon in self.zones:
            if address.version == network.version and address in network:
                return lat, lon
        return None
