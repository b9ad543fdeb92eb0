"""What a simulation produced: each viewer's session and the run's outcome."""

from __future__ import annotations

from dataclasses import dataclass, field

from edge.player.session import PlaybackStats
from edge.sim.live import LiveStats
from edge.sim.nodes import Node
from edge.sim.scenario import Scenario


@dataclass
class SessionRecord:
    """A simulated viewer: where it was, which POP it started on, how playback went."""

    rule: str
    pop: str
    lat: float
    lon: float
    playback: PlaybackStats
    failed_fetches: int = 0
    abandoned: bool = False


@dataclass
class Outcome:
    """What a run produced: the nodes' counters, the sessions, the objects asked for."""

    scenario: Scenario
    nodes: dict[str, Node]
    sessions: list[SessionRecord]
    first_requested_bytes: int
    pushed_bytes: int
    bins: int
    release_first_bytes: int = 0
    release_origin_bytes: int = 0
    wall_s: float = 0.0
    events: list[tuple[float, str]] = field(default_factory=list)
    live: LiveStats | None = None  # a live scenario's viewers
