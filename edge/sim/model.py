"""The CDN simulator: a SimPy model of clients, the router, POPs in tiers and the origin, run
with the live code's decisions (edge/eviction/ for caching, edge/router/routing.py for routing,
edge/player/session.py for playback: ABR, buffer, stalls and QoE).

SimPy drives the processes (session arrivals, one process per playback session, heartbeats,
failures, outages). A segment request is computed at the moment it is sent: the POP's request
slots (edge/sim/queueing.py), a hit or the fill chain up the tiers (a fill already on its way is
joined when collapsing), then the transfer over the client's access link from its bandwidth
trace. One simulation event per segment keeps a million requests within a minute."""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Generator
from typing import Any

import simpy

from edge.player.session import PlaybackSession, PlaybackStats
from edge.router.routing import (
    PopLoad,
    RoutingPolicy,
    choose_pop,
    great_circle_km,
    rtt_ms,
)
from edge.router.topology import Region, Topology
from edge.sim.bandwidth import ConstantLink, Link, load_dataset
from edge.sim.catalog import Catalog
from edge.sim.live import LiveStats, live_viewer
from edge.sim.nodes import Counters, Node, build_nodes
from edge.sim.records import Outcome, SessionRecord
from edge.sim.scenario import Scenario
from edge.sim.workload import SEGMENT_BITS, VIDEO_SHIFT, object_id

MAX_RETRIES_PER_POP = 2
Process = Generator[simpy.Event, Any, None]


class Client:
    __slots__ = ("first_byte_s", "half_rtt_s", "lat", "link", "lon", "offset_s")

    def __init__(self, lat: float, lon: float, link: Link, offset_s: float) -> None:
        self.lat, self.lon, self.link, self.offset_s = lat, lon, link, offset_s
        self.half_rtt_s = 0.0
        self.first_byte_s = 0.0  # when the last response's first byte arrived


class Simulation:
    def __init__(
        self,
        scenario: Scenario,
        topology: Topology,
        catalog: Catalog,
        *,
        log_requests: bool = False,
        on_tick: Callable[[float], None] | None = None,
    ) -> None:
        self.s = scenario
        self.env = simpy.Environment()
        self.catalog = catalog
        self.rng = random.Random(scenario.seed)
        self.policy = RoutingPolicy()
        self.bins = max(1, math.ceil(scenario.duration_s / scenario.bin_s))
        self.on_tick = on_tick
        self.sessions: list[SessionRecord] = []
        self.requested: set[int] = set()
        self.first_requested_bytes = 0
        self.release_first_bytes = 0  # the flash crowd's new video: its bytes first requested
        self.release_origin_bytes = 0  # ...and what the origin sent of it
        self._release_group = catalog.new_release
        self.pushed_bytes = 0
        self.events: list[tuple[float, str]] = []
        self.regions = topology.regions or (Region("everywhere", 0.0, 0.0, 1.0),)
        self.links = self._links()
        # The caches' clock keeps whole seconds, the grain of the request logs the edges
        # export: a replay of an edge's log then sees what its cache saw and decides the same.
        # (The grain moves no policy's results: replays of 13 logs with sub-second times are
        # within 0.001 of byte miss of these; but any difference in the times a policy sees
        # sends its decisions apart from a replay's, by about 0.01 on a small simulation.)
        self.nodes = build_nodes(
            scenario, topology, self.bins, self.policy, self._whole_seconds, log_requests
        )
        self.edges = [n for n in self.nodes.values() if n.tier == "edge"]
        self.edge_pops = [n.pop for n in self.edges if n.pop is not None]
        self.loads: dict[str, PopLoad] = {}
        self._session_count = 0
        self.live = LiveStats()
        self.live_video = catalog.videos + 1  # the live stream's objects: their own group

    def _whole_seconds(self) -> float:
        return float(int(self.env.now))

    # -- building -----------------------------------------------------------------------

    def _links(self) -> list[Link]:
        links: list[Link] = []
        for source in self.s.bandwidth:
            if source.startswith("constant:"):
                links.append(ConstantLink(float(source.split(":", 1)[1]) * 1e6))
            else:
                links.extend(load_dataset(source))
        return links

    # -- serving ------------------------------------------------------------------------

    def _serve(self, node: Node, obj: int, size: int, now: float) -> float | None:
        """When `obj` is ready to send at `node` for a request reaching it at `now`; None if
        it cannot be had (the origin, or a tier on the way to it, is down and no tier before
        that holds it)."""
        c = node.counters
        cache = node.cache
        if cache is None:  # the origin
            if not node.alive:
                return None
            c.requests += 1
            c.bytes += size
            c.byte_bins[min(int(now / self.s.bin_s), self.bins - 1)] += size
            if obj >> VIDEO_SHIFT == self._release_group:
                self.release_origin_bytes += size
            if self.s.live_part_s and obj >> VIDEO_SHIFT == self.live_video:
                # a live part exists from the end of its media on: a request waits for it
                part = obj & ((1 << SEGMENT_BITS) - 1)
                return max(now, (part + 1) * self.s.live_part_s)
            return now
        if not node.alive:  # a dead parent tier: its children's fills fail (a 502 upstream)
            return None
        if node.tier != "edge" and node.log is not None:  # (an edge's is logged as it comes)
            node.log.append((int(self.env.now), obj, size))
        b = min(int(now / self.s.bin_s), self.bins - 1)
        c.requests += 1
        c.bytes += size
        c.request_bins[b] += 1
        c.byte_bins[b] += size
        held = obj in cache
        ready = node.ready.get(obj) if held else None
        if held and (ready is None or ready <= now or self.s.collapse):
            cache.touch(obj)
            self._asked(c, size, True)
            if ready is None or ready <= now:
                c.hits += 1
                c.hit_bytes += size
                c.hit_bins[b] += 1
                return now
            c.collapsed += 1
            c.collapsed_bytes += size
            return ready
        # a miss, or an object held whose fill is still on its way (no collapsing): the
        # upstream is asked first, since a request that gets nothing stores nothing, which a
        # replay of the log (storing every miss) cannot know: the policy is not asked either
        parent = node.parent
        assert parent is not None
        up = self._serve(parent, obj, size, now + node.half_rtt_up_s)
        if up is None:  # nothing was served
            c.bytes -= size
            c.byte_bins[b] -= size
            if node.log:  # a record of no bytes, which a replay skips (nothing is logged at
                when, _, _ = node.log[-1]  # this node between a request and its fill)
                node.log[-1] = (when, obj, 0)
            return None
        cached = cache.touch(obj)
        self._asked(c, size, cached)
        c.upstream_requests += 1
        c.upstream_bytes += size
        if not self.s.timing:
            ready = now
        else:
            ready = up + node.half_rtt_up_s + size * 8 / (self.s.upstream_mbps * 1e6)
            node.ready[obj] = ready
        if not cached:
            for key in cache.insert(obj, size):
                node.ready.pop(key, None)  # type: ignore[call-overload]
        return ready

    @staticmethod
    def _asked(c: Counters, size: int, hit: bool) -> None:
        """The policy was asked for an object: its own figures, as a replay counts them."""
        c.policy_requests += 1
        c.policy_bytes += size
        if hit:
            c.policy_hits += 1
            c.policy_hit_bytes += size

    @staticmethod
    def _log(node: Node, obj: int, size: int, now: float) -> None:
        """A request in the log of the edge whose cache it reaches (after a spill, the
        neighbour's: the edge that answered 307 served nothing from its cache)."""
        if node.log is not None:
            node.log.append((int(now), obj, size))

    def _request(self, client: Client, node: Node, obj: int, size: int, now: float) -> float | None:
        """A client's request to an edge at `now`: when the response has fully arrived."""
        if obj not in self.requested:
            self.requested.add(obj)
            self.first_requested_bytes += size
            if obj >> VIDEO_SHIFT == self._release_group:
                self.release_first_bytes += size
        if not node.alive:
            return None
        if not self.s.timing:
            self._log(node, obj, size, now)
            return now if self._serve(node, obj, size, now) is not None else None
        arrival = now + client.half_rtt_s
        queue = node.queue
        if queue.in_flight(arrival) >= queue.servers:
            # Every slot busy: like the live edge, answer 307 to the first live neighbour.
            target = next((n for n in node.neighbours if n.alive), None)
            if target is not None:
                node.counters.spilled += 1
                arrival += client.half_rtt_s + rtt_ms(self._km(client, target), self.policy) / 2000
                node, queue = target, target.queue
        self._log(node, obj, size, now)
        start = queue.start(arrival)
        ready = self._serve(node, obj, size, start)
        if ready is None:
            node.counters.failed += 1
            queue.hold(start)
            return None
        end = client.first_byte_s = ready + client.half_rtt_s
        end += client.link.download_s(client.offset_s + end, size * 8)
        queue.hold(end)
        return end

    # -- processes ----------------------------------------------------------------------

    def _route(self, client: Client, video: int) -> list[Node]:
        route = choose_pop(
            client.lat, client.lon, self.edge_pops, self.loads, self.policy, str(video)
        )
        if route is None:
            return []
        return [self.nodes[p.name] for p in (route.pop, *route.alternatives)]

    def add_session(
        self, lat: float, lon: float, video: int, rule: str, at_s: float, watch: int = 0
    ) -> None:
        """A given client (on the first bandwidth source) starting `video` at `at_s`, for
        `watch` segments (0: the scenario's watch-time model). For replaying known sessions."""
        client = Client(lat, lon, self.links[0], 0.0)
        self.env.process(self._delayed(client, video, rule, at_s, watch))

    def _delayed(self, client: Client, video: int, rule: str, at_s: float, watch: int) -> Process:
        yield self.env.timeout(at_s)
        yield from self._session(client, video, rule, watch)

    def _session(self, client: Client, video: int, rule: str, watch: int = 0) -> Process:
        s, env, catalog = self.s, self.env, self.catalog
        rng = self.rng
        bases = self._route(client, video)
        record = SessionRecord(
            rule, bases[0].name if bases else "", client.lat, client.lon, PlaybackStats(rule)
        )
        self.sessions.append(record)
        if not bases:
            record.abandoned = True
            return
        base = 0
        node = bases[0]
        node.counters.sessions += 1
        client.half_rtt_s = rtt_ms(self._km(client, node), self.policy) / 2000
        bitrates = catalog.ladder.bitrates_bps
        segment_s = catalog.ladder.segment_s
        segments = catalog.segments(video)
        if watch <= 0:
            watch = max(1, math.ceil(rng.expovariate(1 / (s.mean_watch_fraction * segments))))
        watch = min(segments, watch)
        seek_at = rng.randrange(1, watch) if watch > 2 and rng.random() < s.seek_probability else 0
        session = (
            PlaybackSession(rule, bitrates, max_buffer_s=s.max_buffer_s, started_s=env.now)
            if s.timing
            else None
        )
        fixed = self._fixed_level(rng, len(bitrates))
        n = 0
        last_try = env.now
        while n < watch:
            sent = env.now
            level = fixed if session is None else session.choose(segment_s)
            obj = object_id(video, level, n)
            size = catalog.size(video, level, n)
            end = self._request(client, node, obj, size, sent)
            tries = 0
            while end is None:
                record.failed_fetches += 1
                tries += 1
                if tries > MAX_RETRIES_PER_POP * len(bases):
                    record.abandoned = True
                    break
                yield env.timeout(s.retry_s)
                base = (base + 1) % len(bases)
                node = bases[base]
                client.half_rtt_s = rtt_ms(self._km(client, node), self.policy) / 2000
                last_try = env.now
                end = self._request(client, node, obj, size, last_try)
            if end is None:
                break
            if session is None:
                n += 1
                yield env.timeout(segment_s)
                continue
            idle = session.add(
                level,
                segment_s,
                elapsed_s=end - sent,
                took_s=end - (sent if tries == 0 else last_try),
                size_bytes=size,
                now_s=end,
            )
            n += 1
            if n == seek_at:  # jump ahead: the buffer is flushed and playback restarts
                n = min(watch, n + rng.randrange(1, max(2, watch - n)))
                session.seek()
            yield env.timeout(end - env.now + idle)
        if session is not None:
            record.playback = session.stats()

    def _fixed_level(self, rng: random.Random, levels: int) -> int:
        share = self.s.rendition_share
        if not share:
            return rng.randrange(levels)
        return rng.choices(range(len(share)), weights=share)[0] % levels

    @staticmethod
    def _km(client: Client, node: Node) -> float:
        assert node.pop is not None
        return great_circle_km(client.lat, client.lon, node.pop.lat, node.pop.lon)

    def _client(self, region: Region) -> Client:
        rng, spread = self.rng, self.s.client_spread_deg
        lat = max(-89.0, min(89.0, rng.gauss(region.lat, spread)))
        lon = (rng.gauss(region.lon, spread) + 180) % 360 - 180
        link = self.links[rng.randrange(len(self.links))]
        offset = rng.random() * getattr(link, "period_s", 0.0)
        return Client(lat, lon, link, offset)

    def _start(self, region: Region, video: int) -> None:
        rule = self.s.rules[self._session_count % len(self.s.rules)]
        self._session_count += 1
        if self.s.live_part_s:
            self.env.process(live_viewer(self, self._client(region), self.live_video, rule))
            return
        self.env.process(self._session(self._client(region), video, rule))

    def _arrivals(self) -> Process:
        s, rng, env = self.s, self.rng, self.env
        if s.sessions_per_s <= 0:
            return
        peak = 1 + s.diurnal_amplitude
        weights = [r.weight for r in self.regions]
        while True:
            yield env.timeout(rng.expovariate(s.sessions_per_s * peak))
            if env.now >= s.duration_s:
                return
            region = rng.choices(self.regions, weights=weights)[0]
            local_h = (env.now / 3600 + region.lon / 15) % 24
            factor = 1 + s.diurnal_amplitude * math.cos(2 * math.pi * (local_h - s.peak_hour) / 24)
            if rng.random() * peak < factor:
                self._start(region, self.catalog.pick(rng))

    def _flash_crowd(self) -> Process:
        crowd = self.s.flash_crowd
        assert crowd is not None
        region = next((r for r in self.regions if r.name == crowd.region), None)
        if region is None:
            raise ValueError(f"flash crowd: no region {crowd.region!r} in the topology")
        yield self.env.timeout(crowd.start_s)
        self.events.append((self.env.now, f"flash crowd in {region.name}"))
        end = crowd.start_s + crowd.duration_s
        while True:
            yield self.env.timeout(self.rng.expovariate(crowd.sessions_per_s))
            if self.env.now >= end:
                return
            self._start(region, self.catalog.new_release)

    def _pop_failure(self) -> Process:
        failure = self.s.pop_failure
        assert failure is not None
        node = self.nodes.get(failure.pop)
        if node is None or node.pop is None:
            raise ValueError(f"pop_failure: no POP {failure.pop!r} in the topology")
        yield self.env.timeout(failure.at_s)
        node.fail()
        self.events.append((self.env.now, f"{node.name} dies"))
        yield self.env.timeout(self.s.detect_s)
        node.routable = False
        if failure.restore_s is not None:
            yield self.env.timeout(max(0.0, failure.restore_s - self.env.now))
            node.restore()
            self.events.append((self.env.now, f"{node.name} back"))
            yield self.env.timeout(self.s.heartbeat_s)
            node.routable = True

    def _origin_outage(self) -> Process:
        outage = self.s.origin_outage
        assert outage is not None
        origin = self.nodes["origin"]
        yield self.env.timeout(outage.start_s)
        origin.alive = False
        self.events.append((self.env.now, "origin down"))
        yield self.env.timeout(outage.end_s - outage.start_s)
        origin.alive = True
        self.events.append((self.env.now, "origin back"))

    def _heartbeats(self) -> Process:
        """What the router knows: each POP's requests in flight and health, every heartbeat."""
        s, env = self.s, self.env
        last_bytes = {n.name: 0 for n in self.edges}
        ticks = 0
        while True:
            now = env.now
            b = min(int(now / s.bin_s), self.bins - 1)
            loads = {}
            for node in self.edges:
                c = node.counters
                in_flight = node.queue.in_flight(now) if node.alive else 0
                if in_flight > c.load_bins[b]:
                    c.load_bins[b] = in_flight
                if in_flight > c.peak_in_flight:
                    c.peak_in_flight = in_flight
                mbps = (c.bytes - last_bytes[node.name]) * 8 / 1e6 / s.heartbeat_s
                last_bytes[node.name] = c.bytes
                loads[node.name] = PopLoad(in_flight, mbps, node.routable)
            self.loads = loads
            ticks += 1
            if self.on_tick is not None and ticks % 60 == 0:
                self.on_tick(now)
            yield env.timeout(s.heartbeat_s)

    # -- running ------------------------------------------------------------------------

    def push(self, videos: int) -> None:
        """Before the start, copy the most popular videos to every POP that serves them (push
        CDN): each POP receives a copy from its parent, so the origin sends one per POP that
        fills from it."""
        catalog = self.catalog
        targets: dict[str, Node] = {}
        for edge in self.edges:
            hop: Node | None = edge
            while hop is not None and hop.cache is not None:
                targets[hop.name] = hop
                hop = hop.parent
        from_origin = sum(1 for t in targets.values() if t.parent is self.nodes["origin"])
        for video in range(min(videos, catalog.videos)):
            for level in range(len(catalog.ladder.bitrates_bps)):
                for n in range(catalog.segments(video)):
                    obj, size = object_id(video, level, n), catalog.size(video, level, n)
                    for node in targets.values():
                        assert node.cache is not None
                        node.cache.insert(obj, size)
                    self.pushed_bytes += size * from_origin

    def run(self) -> Outcome:
        s, env = self.s, self.env
        if s.push_top:
            self.push(s.push_top)
        env.process(self._heartbeats())
        env.process(self._arrivals())
        if s.flash_crowd is not None:
            env.process(self._flash_crowd())
        if s.pop_failure is not None:
            env.process(self._pop_failure())
        if s.origin_outage is not None:
            env.process(self._origin_outage())
        env.run(until=s.duration_s)
        return Outcome(
            s,
            self.nodes,
            self.sessions,
            self.first_requested_bytes,
            self.pushed_bytes,
            self.bins,
            self.release_first_bytes,
            self.release_origin_bytes,
            events=self.events,
            live=self.live if s.live_part_s else None,
        )
