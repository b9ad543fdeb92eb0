"""Routing benchmark: a fixed client population routed by our router's decision code
(edge/router/routing.py) and by nearest-POP-only routing, on the same topology.

Clients come from the topology's regions (metros, by weight, ±0.5° around each), arrive one by
one in a fixed random order, and each adds the same in-flight load to the POP it is sent to
(in total 70% of the edge POPs' capacity). Reported per router: mean client→POP distance,
max/mean POP utilisation and the POPs above their capacity or above 1.25× the mean.

Target: mean distance ≤ 1.2× nearest-only's while max/mean POP load ≤ 1.25, and
nearest-only shown overloading the POP(s) it overloads. Median of five populations (seeds).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import machine
from edge.router.routing import Pop, PopLoad, RoutingPolicy, choose_pop, great_circle_km
from edge.router.topology import DEFAULT_TOPOLOGY, Topology, load_topology

WORLD = DEFAULT_TOPOLOGY.parent / "world.toml"
SPREAD_DEG = 0.5
LOAD_SHARE = 0.7

Client = tuple[float, float]
Router = Callable[[float, float, list[Pop], dict[str, PopLoad]], Pop]


@dataclass(frozen=True)
class Outcome:
    mean_km: float
    max_over_mean: float
    utilisation: dict[str, float]

    def hot(self) -> str:
        mean = statistics.mean(self.utilisation.values())
        over = [
            f"{name} {u:.2f}"
            for name, u in sorted(self.utilisation.items(), key=lambda kv: -kv[1])
            if u >= 1.0 or u > 1.25 * mean
        ]
        return ", ".join(over) or "none"


def population(topology: Topology, n: int, seed: int) -> list[Client]:
    rng = random.Random(seed)
    regions = topology.regions
    weights = [r.weight for r in regions]
    picked = rng.choices(regions, weights=weights, k=n)
    return [
        (
            max(-90.0, min(90.0, r.lat + rng.gauss(0, SPREAD_DEG))),
            (r.lon + rng.gauss(0, SPREAD_DEG) + 180) % 360 - 180,
        )
        for r in picked
    ]


def nearest_only(lat: float, lon: float, pops: list[Pop], loads: dict[str, PopLoad]) -> Pop:
    return min(
        (p for p in pops if p.tier == "edge"), key=lambda p: great_circle_km(lat, lon, p.lat, p.lon)
    )


def ours(policy: RoutingPolicy) -> Router:
    def route(lat: float, lon: float, pops: list[Pop], loads: dict[str, PopLoad]) -> Pop:
        chosen = choose_pop(lat, lon, pops, loads, policy)
        assert chosen is not None
        return chosen.pop

    return route


def run(topology: Topology, clients: list[Client], router: Router) -> Outcome:
    pops = [spec.pop for spec in topology.pops]
    edges = [p for p in pops if p.tier == "edge"]
    unit = LOAD_SHARE * sum(p.max_in_flight for p in edges) / len(clients)
    in_flight = {p.name: 0.0 for p in edges}
    total_km = 0.0
    for lat, lon in clients:
        loads = {name: PopLoad(in_flight=round(v)) for name, v in in_flight.items()}
        pop = router(lat, lon, pops, loads)
        in_flight[pop.name] += unit
        total_km += great_circle_km(lat, lon, pop.lat, pop.lon)
    used = {p.name: in_flight[p.name] / p.max_in_flight for p in edges}
    return Outcome(
        total_km / len(clients), max(used.values()) / statistics.mean(used.values()), used
    )


def compare(topology: Topology, clients: int, seeds: range) -> tuple[float, float]:
    """Prints one line per seed; returns the medians (distance ratio, our max/mean)."""
    ratios, balance = [], []
    policy = RoutingPolicy()
    for seed in seeds:
        people = population(topology, clients, seed)
        near = run(topology, people, nearest_only)
        mine = run(topology, people, ours(policy))
        ratios.append(mine.mean_km / near.mean_km)
        balance.append(mine.max_over_mean)
        print(
            f"  seed {seed}: nearest-only {near.mean_km:6.0f} km, max/mean {near.max_over_mean:.2f}"
            f" (above capacity or 1.25x mean: {near.hot()})\n"
            f"          ours         {mine.mean_km:6.0f} km, max/mean {mine.max_over_mean:.2f}"
            f" (above: {mine.hot()}); distance {ratios[-1]:.3f}x nearest-only"
        )
    return statistics.median(ratios), statistics.median(balance)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--topology", type=Path, default=WORLD)
    parser.add_argument("--clients", type=int, default=4000)
    parser.add_argument("--seeds", type=int, default=5)
    args = parser.parse_args()
    print(f"machine: {machine()}")
    for path in dict.fromkeys([args.topology, DEFAULT_TOPOLOGY]):
        topology = load_topology(path)
        edges = sum(1 for s in topology.pops if s.pop.tier == "edge")
        print(
            f"\n{path.name}: {edges} edge POPs, {len(topology.regions)} client regions, "
            f"{args.clients} clients, load {LOAD_SHARE:.0%} of edge capacity"
        )
        ratio, balance = compare(topology, args.clients, range(1, args.seeds + 1))
        verdict = "met" if ratio <= 1.2 and balance <= 1.25 else "NOT met"
        print(
            f"  median: distance {ratio:.3f}x nearest-only (goal <= 1.2), max/mean load "
            f"{balance:.2f} (goal <= 1.25): {verdict}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
