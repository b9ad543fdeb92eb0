"""The router's POP registry (pure): POPs known from the topology file or from heartbeats,
each in rotation only while its heartbeats keep coming and its active probes (the router's
own GET /healthz) do not fail twice in a row. When every probed POP is failing, the probes
are what is broken (the router's own network, say): they are ignored and heartbeats decide,
so one failing probe view never takes every POP out at once.

Only authenticated beats reach it (edge/router/app.py checks each POP's signature). A planned
POP's address is the topology's, never a beat's; others join only if enrollment is allowed, up
to a bound; a POP silent for `expire_s` is forgotten, so what senders do cannot grow it."""

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
    addresses: tuple[str, ...] = ()  # for DNS answers


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
    return Heartbeat(pop, beat.url, load, now, beat.addresses)


class Refused(Exception):
    """A heartbeat the registry will not take; it changed nothing. `status`: the HTTP answer."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass
class PopRegistry:
    timeout_s: float = HEARTBEAT_TIMEOUT_S
    # POPs from the topology file: their position, tier, capacity and URL are the operator's
    # word; heartbeats bring only their load and liveness.
    known: dict[str, Pop] = field(default_factory=dict)
    planned_urls: dict[str, str] = field(default_factory=dict)
    # POPs outside the topology join (with the URL their beats give) only when allowed.
    allow_enrollment: bool = False
    expire_s: float = 30.0  # silent this long: forgotten (a planned POP is listed as silent)
    max_enrolled: int = 1000
    _beats: dict[str, Heartbeat] = field(default_factory=dict)
    _signed_at: dict[str, float] = field(default_factory=dict)
    _probe_failures: dict[str, int] = field(default_factory=dict)

    def plan(self, pop: Pop, url: str | None) -> None:
        """A POP of the operator's topology, reachable at `url` (None: never routed to)."""
        self.known[pop.name] = pop
        if url is not None:
            self.planned_urls[pop.name] = url.rstrip("/")

    def heartbeat(self, beat: Heartbeat, signed_at: float | None = None) -> None:
        """Take a beat from an authenticated POP (signed at `signed_at`, which must be later
        than its last accepted beat's); `Refused` leaves the registry as it was."""
        name = beat.pop.name
        self._expire(beat.received_at)
        if signed_at is not None and signed_at <= self._signed_at.get(name, float("-inf")):
            raise Refused(403, "replayed", f"a heartbeat of {name} signed no later was seen")
        planned = self.known.get(name)
        if planned is not None:
            url = self.planned_urls.get(name)
            if url is None:
                raise Refused(403, "no_url", f"the topology gives POP {name} no url")
            beat = replace(beat, pop=planned, url=url)
        elif not self.allow_enrollment:
            raise Refused(403, "not_planned", f"POP {name} is not in the topology")
        elif name not in self._beats and self._enrolled() >= self.max_enrolled:
            raise Refused(503, "registry_full", "no room for another enrolled POP")
        self._beats[name] = beat
        if signed_at is not None:
            self._signed_at[name] = signed_at

    def _enrolled(self) -> int:
        return sum(1 for name in self._beats if name not in self.known)

    def _expire(self, now: float) -> None:
        for name in [n for n, b in self._beats.items() if now - b.received_at > self.expire_s]:
            del self._beats[name]
            self._probe_failures.pop(name, None)

    def addresses(self, name: str) -> tuple[str, ...]:
        """The IP addresses a POP advertised in its last beat (DNS answers name them)."""
        beat = self._beats.get(name)
        return beat.addresses if beat is not None else ()

    def probe_targets(self, now: float) -> dict[str, str]:
        """name → URL of every POP heard from lately, for the router's active probes."""
        self._expire(now)
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
        self._expire(now)
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
                "url": self.planned_urls.get(name),
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
