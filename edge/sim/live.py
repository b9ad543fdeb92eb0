"""Live viewers in the simulator: one live stream made of parts (LL-HLS), every viewer on the
live edge through its POP. Part n of the stream (media [n·p, (n+1)·p)) exists at the origin
from (n+1)·p; a viewer asks for the next part as soon as it has the previous one (a blocking
request: the preload hint), so every viewer of a POP asks for a part before it exists and a
POP that collapses makes one upstream request for all of them. A viewer starts PART-HOLD-BACK
behind the live edge and plays each part at the later of its turn and its arrival: a late part
is a stall, and the latency (wall clock minus the media time on screen) grows by it."""

from __future__ import annotations

import random
import statistics
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any, Protocol

import simpy

from edge.router.routing import RoutingPolicy, rtt_ms
from edge.sim.nodes import Node
from edge.sim.scenario import Scenario
from edge.sim.workload import object_id


class Viewer(Protocol):
    """What the simulator knows of a client (edge/sim/model.py's Client)."""

    half_rtt_s: float


class Host(Protocol):
    """What a live viewer uses of the simulation (edge/sim/model.py's Simulation)."""

    s: Scenario
    env: simpy.Environment
    rng: random.Random
    policy: RoutingPolicy
    live: LiveStats

    def _route(self, client: Any, video: int) -> list[Node]: ...
    def _km(self, client: Any, node: Node) -> float: ...
    def _request(
        self, client: Any, node: Node, obj: int, size: int, now: float
    ) -> float | None: ...


@dataclass
class LiveStats:
    """What the live viewers saw, and what the stream's parts cost upstream."""

    latencies_s: list[float] = field(default_factory=list)  # each viewer's median
    stalls: int = 0
    stalled_s: float = 0.0
    parts_played: int = 0
    viewers: int = 0
    failed_viewers: int = 0
    parts_made: int = 0

    def summary(self, upstream_part_requests: dict[str, int]) -> dict[str, Any]:
        lat = sorted(self.latencies_s)

        def pct(q: float) -> float | None:
            return round(lat[min(len(lat) - 1, int(q * len(lat)))], 3) if lat else None

        return {
            "viewers": self.viewers,
            "failed_viewers": self.failed_viewers,
            "parts_made": self.parts_made,
            "latency_median_s": round(statistics.median(lat), 3) if lat else None,
            "latency_p95_s": pct(0.95),
            "latency_max_s": round(lat[-1], 3) if lat else None,
            "stalls": self.stalls,
            "stalled_s_per_viewer": round(self.stalled_s / max(1, self.viewers), 3),
            # per POP: upstream requests for live parts / parts the stream made
            "upstream_requests_per_part": {
                name: round(n / max(1, self.parts_made), 3)
                for name, n in sorted(upstream_part_requests.items())
            },
        }


def live_viewer(sim: Host, client: Viewer, video: int) -> Generator[Any, Any, None]:
    """One viewer of the live stream (`video`: its id among the objects) for a watch time
    drawn from the scenario's mean."""
    s, env, stats = sim.s, sim.env, sim.live
    part_s = s.live_part_s
    size = max(1, int(s.live_kbps * 1000 * part_s / 8))
    bases = sim._route(client, video)
    stats.viewers += 1
    if not bases:
        stats.failed_viewers += 1
        return
    base, node = 0, bases[0]
    node.counters.sessions += 1
    client.half_rtt_s = rtt_ms(sim._km(client, node), sim.policy) / 2000
    watch_s = sim.rng.expovariate(1 / s.live_watch_s)
    leave_at = min(s.duration_s, env.now + watch_s)
    # the part being made when the viewer joins, less the hold-back: where playback starts
    n = max(0, int((env.now - s.live_hold_back_s) / part_s))
    playing_until: float | None = None  # when what has been played so far runs out
    latencies: list[float] = []
    while env.now < leave_at:
        sent = env.now
        end = sim._request(client, node, object_id(video, 0, n), size, sent)
        tries = 0
        while end is None:  # this POP failed: the next one the router named
            tries += 1
            if tries > 2 * len(bases):
                stats.failed_viewers += 1
                return
            yield env.timeout(s.retry_s)
            base = (base + 1) % len(bases)
            node = bases[base]
            client.half_rtt_s = rtt_ms(sim._km(client, node), sim.policy) / 2000
            end = sim._request(client, node, object_id(video, 0, n), size, env.now)
        if playing_until is None:
            starts = end
        else:
            starts = max(playing_until, end)
            if end > playing_until:
                stats.stalls += 1
                stats.stalled_s += end - playing_until
        playing_until = starts + part_s
        latencies.append(starts - n * part_s)
        stats.parts_played += 1
        stats.parts_made = max(stats.parts_made, n + 1)
        n += 1
        yield env.timeout(max(0.0, end - env.now))
    if latencies:
        stats.latencies_s.append(statistics.median(latencies))
