"""The router's POP registry (pure): POPs known from the topology file or from heartbeats,
each in rotation only while its heartbeats keep coming and its active probes (the router's
own GET /healthz) do not fail twice in a row. When every probed POP is failing, the probes
are what is broken (the router's own network, say): they are ignored and heartbeats decide,
so one failing probe view never takes every POP out at once."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from edge.router.routing import Pop, PopLoad
from edge.wire import PopBeat

HEARTBEAT_TIMEOUT_S = 3.0
PROBE_FAILURES_OUT = 2  # consecutive failed probes that take a POP out of rotation


@dataclass(frozen=True, slots=True)
class Heartbeat:
    pop: Pop
    url: str
    load: PopLoad
    received_at: float


def parse_heartbeat(data: object, now: float) -> Heartbeat:
    """A heartbeat body (edge/wire.py's `PopBeat`) as the registry keeps it; `WireError` if
    it does not decode."""
    beat = PopBeat.from_json(data)
    pop = Pop(
        name=beat.name,
        lat=beat.lat,
        lon=beat.lon,
        tier=beat.tier,
        max_in_flight=beat.max_in_flight,
        max_mbps=beat.max_mbps,
    )
    load = PopLoad(in_flight=beat.in_flight, mbps=beat.bytes_per_s * 8 / 1e6, healthy=beat.healthy)
    return Heartbeat(pop, beat.url, load, now)


@dataclass
class PopRegistry:
    timeout_s: float = HEARTBEAT_TIMEOUT_S
    # POPs from the topology file: their position, tier and capacity are the operator's word;
    # heartbeats bring their URL, load and liveness. Others join by heartbeat alone.
    known: dict[str, Pop] = field(default_factory=dict)
    _beats: dict[str, Heartbeat] = field(default_factory=dict)
    _probe_failures: dict[str, int] = field(default_factory=dict)

    def heartbeat(self, beat: Heartbeat) -> None:
        planned = self.known.get(beat.pop.name)
        self._beats[beat.pop.name] = replace(beat, pop=planned) if planned else beat

    def probe_targets(self) -> dict[str, str]:
        """name → URL of every POP heard from, for the router's active probes."""
        return {name: beat.url for name, beat in self._beats.items()}

    def probe_result(self, name: str, ok: bool) -> None:
        self._probe_failures[name] = 0 if ok else self._probe_failures.get(name, 0) + 1

    def _probed_out(self) -> set[str]:
        failing = {n for n, f in self._probe_failures.items() if f >= PROBE_FAILURES_OUT}
        probed = set(self._beats) & set(self._probe_failures)
        return set() if probed and probed <= failing else failing

    def snapshot(self, now: float) -> tuple[list[Pop], dict[str, PopLoad], dict[str, str]]:
        """(pops, loads, urls) of the POPs heard from; one whose last heartbeat is older than
        the timeout, or that failed its last probes, is reported unhealthy, so it gets no
        routes until it is heard from (and answers probes) again."""
        pops, loads, urls = [], {}, {}
        probed_out = self._probed_out()
        for name, beat in self._beats.items():
            pops.append(beat.pop)
            fresh = now - beat.received_at <= self.timeout_s and name not in probed_out
            loads[name] = beat.load if fresh else replace(beat.load, healthy=False)
            urls[name] = beat.url
        return pops, loads, urls

    def describe(self, now: float) -> list[dict[str, Any]]:
        pops, loads, urls = self.snapshot(now)
        silent = [
            {
                "name": p.name,
                "url": None,
                "lat": p.lat,
                "lon": p.lon,
                "tier": p.tier,
                "max_in_flight": p.max_in_flight,
                "healthy": False,
                "in_flight": 0,
                "mbps": 0.0,
                "last_heartbeat_s": None,
            }
            for name, p in self.known.items()
            if name not in self._beats
        ]
        return silent + [
            {
                "name": p.name,
                "url": urls[p.name],
                "lat": p.lat,
                "lon": p.lon,
                "tier": p.tier,
                "max_in_flight": p.max_in_flight,
                "healthy": loads[p.name].healthy,
                "in_flight": loads[p.name].in_flight,
                "mbps": loads[p.name].mbps,
                "last_heartbeat_s": round(now - self._beats[p.name].received_at, 3),
            }
            for p in pops
        ]
