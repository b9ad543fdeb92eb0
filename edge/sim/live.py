"""Live viewers in the simulator: one live stream made of parts (LL-HLS), every viewer on the
live edge through its POP. Part n of the stream (media [n·p, (n+1)·p)) exists at the origin
from (n+1)·p; a viewer asks for the next part as soon as it has the previous one (a blocking
request: the preload hint), so every viewer of a POP asks for a part before it exists and a
POP that collapses makes one upstream request for all of them. A viewer starts PART-HOLD-BACK
behind the live edge and plays each part at the later of its turn and its arrival: a late part
is a stall, and the latency (wall clock minus the media time on screen) grows by it, until the
parts it is behind come in and, holding more than the hold-back, it plays faster to get back
(`catch_up_rate`, as the headless player and hls.js do; a second further back for each stall
it has had, `live_target_s`). A viewer
that falls so far behind that its next part is no longer listed (parts are listed for the
segments that end within the last three target durations, manifests/live_playlist.py) goes
back to the live edge, as the headless player does: a jump, the media between skipped.

With a ladder (`live_ladder_kbps`) each viewer's ABR rule (edge/player/session.py, as the
headless player and the VOD sessions) picks a rendition at each segment's start. Its estimate
of throughput counts each part's transfer from its first byte, as hls.js takes the time to
first byte out of its samples: a request on the live edge waits for the part to be made (about
a part's duration, whatever the link), then for the round trips of the fills on the way, and
counted whole a small part would read as a link just fast enough for the rendition asked
for."""

from __future__ import annotations

import random
import statistics
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any, Protocol

import simpy

from edge.player.live_edge import catch_up_rate, live_target_s
from edge.player.session import LIVE_LOOKAHEAD, PlaybackSession
from edge.router.routing import RoutingPolicy, rtt_ms
from edge.sim.nodes import Node
from edge.sim.scenario import Scenario
from edge.sim.workload import object_id
from manifests.live_playlist import parts_listed

MIN_TRANSFER_S = 1e-4  # a part's transfer, from its first byte, takes at least this


class Viewer(Protocol):
    """What the simulator knows of a client (edge/sim/model.py's Client)."""

    half_rtt_s: float
    first_byte_s: float  # set by each request


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
    parts_asked: set[int] = field(default_factory=set)  # each rendition's parts viewers asked for
    bitrates_bps: list[float] = field(default_factory=list)  # each viewer's mean
    switches: int = 0
    jumps: int = 0  # back to the live edge, from parts no longer listed

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
            "bitrate_mean_kbps": (
                round(statistics.fmean(self.bitrates_bps) / 1000, 1) if self.bitrates_bps else None
            ),
            "switches_per_viewer": round(self.switches / max(1, len(self.bitrates_bps)), 3),
            "jumps_per_viewer": round(self.jumps / max(1, self.viewers), 3),
            # per POP: upstream requests for live parts / the parts (of any rendition) that
            # viewers asked for
            "upstream_requests_per_part": {
                name: round(n / max(1, len(self.parts_asked)), 3)
                for name, n in sorted(upstream_part_requests.items())
            },
        }


def live_viewer(sim: Host, client: Viewer, video: int, rule: str) -> Generator[Any, Any, None]:
    """One viewer of the live stream (`video`: its id among the objects) for a watch time
    drawn from the scenario's mean, choosing renditions by `rule` if there are several."""
    s, env, stats = sim.s, sim.env, sim.live
    part_s = s.live_part_s
    bitrates = [int(k * 1000) for k in s.live_ladder_kbps or (s.live_kbps,)]
    sizes = [max(1, int(bps * part_s / 8)) for bps in bitrates]
    session = (
        PlaybackSession(rule, bitrates, max_buffer_s=s.max_buffer_s, live=True)
        if len(bitrates) > 1
        else None
    )
    parts_per_segment = max(1, round(s.segment_s / part_s))
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
    n = live_start(env.now, s.live_hold_back_s, part_s)
    playing_until: float | None = None  # when what has been played so far runs out
    latencies: list[float] = []
    stalled = 0
    level, played, bitrate_sum, previous, switches = 0, 0, 0.0, None, 0
    while env.now < leave_at:
        # its segment's end, and the end of the whole segments (the one being made is not)
        ends_s = (n // parts_per_segment + 1) * s.segment_s
        whole_s = int(env.now / s.segment_s) * s.segment_s
        jumped = not parts_listed(ends_s, whole_s, s.segment_s)
        if jumped:  # back to the live edge, where a rendition is chosen afresh
            n = live_start(env.now, s.live_hold_back_s, part_s)
            stats.jumps += 1
            playing_until = None  # playback starts again with the part that comes next
            if session is not None:
                session.seek()
        if session is not None and (played == 0 or jumped or n % parts_per_segment == 0):
            level = session.choose(s.segment_s, remaining=LIVE_LOOKAHEAD)
        sent, part = env.now, object_id(video, level, n)
        end = sim._request(client, node, part, sizes[level], sent)
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
            end = sim._request(client, node, part, sizes[level], env.now)
        # what it holds ahead of the picture with this part (in real time; at the rate of
        # catching up, it is a little more media than that)
        held_s = part_s
        if playing_until is None:
            starts = end
        else:
            starts = max(playing_until, end)
            held_s += max(0.0, playing_until - end)
            if end > playing_until:
                stats.stalls += 1
                stalled += 1
                stats.stalled_s += end - playing_until
        if session is not None:
            session.add(
                level,
                part_s,
                elapsed_s=end - sent,
                took_s=max(end - client.first_byte_s, MIN_TRANSFER_S),
                size_bytes=sizes[level],
                now_s=end,
            )
        switches += previous is not None and previous != level
        previous, played = level, played + 1
        bitrate_sum += bitrates[level]
        target_s = live_target_s(s.live_hold_back_s, stalled, s.segment_s)
        playing_until = starts + part_s / catch_up_rate(held_s, target_s)
        latencies.append(starts - n * part_s)
        stats.parts_played += 1
        stats.parts_made = max(stats.parts_made, n + 1)
        stats.parts_asked.add(part)
        n += 1
        yield env.timeout(max(0.0, end - env.now))
    if latencies:
        stats.latencies_s.append(statistics.median(latencies))
        stats.bitrates_bps.append(bitrate_sum / played)
        stats.switches += switches


def live_start(now: float, hold_back_s: float, part_s: float) -> int:
    """The part a viewer starts from at `now`: the part being made then, less the hold-back."""
    return max(0, int((now - hold_back_s) / part_s))
