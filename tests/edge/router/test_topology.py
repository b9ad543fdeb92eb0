"""Topology files: the shipped default, and clear errors for broken ones."""

from __future__ import annotations

from typing import Any

import pytest

from edge.router.routing import choose_pop
from edge.router.topology import TopologyError, load_topology, parse_topology


def test_default_topology() -> None:
    topology = load_topology()
    edges = [s for s in topology.pops if s.pop.tier == "edge"]
    shields = [s for s in topology.pops if s.pop.tier == "shield"]
    assert len(edges) == 6
    assert len(shields) == 2
    assert topology.upstream_of("paris") == "shield-eu"
    assert topology.upstream_of("shield-eu") is None
    assert {r.name for r in topology.regions} >= {"western-europe", "us-east", "east-asia"}
    pops = [s.pop for s in topology.pops]
    nearest = {
        r.name: choose_pop(r.lat, r.lon, pops, {}).pop.name  # type: ignore[union-attr]
        for r in topology.regions
    }
    assert nearest["western-europe"] == "paris"
    assert nearest["east-asia"] == "tokyo"


BASE: dict[str, Any] = {
    "origin": "http://o",
    "pop": [{"name": "a", "lat": 1, "lon": 2}],
}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({**BASE, "origin": "ftp://o"}, "origin"),
        ({**BASE, "pop": [{"name": "a", "lat": 100, "lon": 0}]}, "out of range"),
        ({**BASE, "pop": [{"name": "a", "lat": 1, "lon": 2}] * 2}, "unique"),
        ({**BASE, "pop": [{"name": "a", "lat": 1, "lon": 2, "parent": "b"}]}, "not a shield"),
        ({**BASE, "pop": [{"name": "s", "lat": 1, "lon": 2, "tier": "shield"}]}, "edge pop"),
        ({**BASE, "pop": [{"name": "a", "lat": 1, "lon": 2, "tier": "core"}]}, "tier"),
    ],
)
def test_broken_topologies(data: dict[str, Any], message: str) -> None:
    with pytest.raises(TopologyError, match=message):
        parse_topology(data)
