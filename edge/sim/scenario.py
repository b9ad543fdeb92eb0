"""Simulation scenarios: one TOML file each, the shipped ones runnable by name.

Every key is optional (defaults below); unknown keys are an error, so a typo never silently
simulates something else. `[[variant]]` tables re-run the scenario with some keys changed
(push vs pull, tiered vs flat, a cache-size sweep) and the report compares them."""

from __future__ import annotations

import dataclasses
import math
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from edge.eviction.policy import DEFAULT_POLICY, POLICIES
from edge.player.abr_controller import RULES
from edge.router.topology import DEFAULT_TOPOLOGY, Topology, TopologyError, load_topology
from edge.sim.bandwidth import DATASETS

SCENARIOS_DIR: Final = Path(__file__).parent / "scenarios"
# what one run may ask for: beyond these a typo (a rate or a duration a thousand times too
# big) would run for days or exhaust memory rather than say so
MAX_SESSIONS: Final = 10_000_000  # expected arrivals over the run, a flash crowd's included
MAX_BINS: Final = 100_000  # duration_s / bin_s
MIN_SEGMENT_S: Final = 0.5
MAX_SEGMENT_S: Final = 60.0
MIN_PART_S: Final = 0.1
MAX_VIDEOS: Final = 10_000_000
MAX_CACHE_MB: Final = 1e12  # an exabyte


class ScenarioError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class PopFailure:
    pop: str
    at_s: float
    restore_s: float | None = None  # back in service (empty cache) at this time


@dataclass(frozen=True, slots=True)
class OriginOutage:
    start_s: float
    end_s: float


@dataclass(frozen=True, slots=True)
class FlashCrowd:
    """A new release watched by a crowd in one region (a topology region's name)."""

    region: str
    start_s: float
    sessions_per_s: float
    duration_s: float = 600.0


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str = ""
    topology: str = "world"  # a shipped topology's name, or a path to a TOML file
    duration_s: float = 3600.0
    seed: int = 1
    bin_s: float = 60.0  # resolution of the time series and plots
    # arrivals: Poisson, optionally diurnal (each region's local time from its longitude)
    sessions_per_s: float = 1.0
    diurnal_amplitude: float = 0.0  # 0.6: the local peak is 1.6x the mean, the trough 0.4x
    peak_hour: float = 21.0
    client_spread_deg: float = 1.0
    # catalog: Zipf popularity, exponential durations, a ladder (or one imported from the DB)
    videos: int = 2000
    zipf_alpha: float = 0.9
    mean_duration_s: float = 1200.0
    segment_s: float = 4.0
    ladder_kbps: tuple[int, ...] = (300, 750, 1200, 1850, 2850, 4300)
    ladder_from: str | None = None  # "DATABASE_URL#VIDEO_ID": a transcoded video's real sizes
    # viewers
    mean_watch_fraction: float = 0.35
    seek_probability: float = 0.1
    rules: tuple[str, ...] = ("mpc",)  # ABR rules, assigned to sessions in turn
    max_buffer_s: float = 30.0
    bandwidth: tuple[str, ...] = DATASETS  # trace sets, or "constant:MBPS"
    timing: bool = True  # False: fixed rendition, one request per segment, instant transfers
    rendition_share: tuple[float, ...] = ()  # with timing = false (default: uniform)
    # the CDN
    cache_policy: str = DEFAULT_POLICY
    edge_cache_mb: float = 20_000.0
    shield_cache_mb: float = 100_000.0
    tiered: bool = True  # False: edges fill straight from the origin
    collapse: bool = True  # concurrent misses for one object make one upstream request
    capacity_scale: float = 1.0  # POP capacities x this (simulating a sample of the audience)
    push_top: int = 0  # the N most popular videos pushed to every edge before the start
    upstream_mbps: float = 1000.0  # one fill's transfer rate between tiers
    retry_s: float = 1.0  # a failed fetch costs this long before the next POP is tried
    detect_s: float = 3.0  # the router's heartbeat timeout
    heartbeat_s: float = 1.0
    pop_failure: PopFailure | None = None
    origin_outage: OriginOutage | None = None
    flash_crowd: FlashCrowd | None = None
    # live: every session watches one live stream (LL-HLS parts of live_part_s), 0: VOD
    live_part_s: float = 0.0
    live_kbps: float = 2500.0
    # the live stream's renditions, ascending (each viewer's ABR rule picks one at each
    # segment's start); none: one rendition of live_kbps
    live_ladder_kbps: tuple[int, ...] = ()
    live_hold_back_s: float = 2.0  # PART-HOLD-BACK: how far behind the edge playback starts
    live_watch_s: float = 600.0  # mean watch time (exponential)
    variants: tuple[tuple[str, dict[str, Any]], ...] = field(default=())

    def with_changes(self, changes: dict[str, Any]) -> Scenario:
        return _apply(self, changes, f"scenario {self.name!r}")


_EVENTS: Final[dict[str, type]] = {
    "pop_failure": PopFailure,
    "origin_outage": OriginOutage,
    "flash_crowd": FlashCrowd,
}


def _fits(value: Any, hint: Any) -> bool:
    """Whether a TOML value is of a field's declared type (a number is finite; a bool is no
    number; a list stands for a tuple)."""
    origin = typing.get_origin(hint)
    if origin in (types.UnionType, typing.Union):
        return any(_fits(value, h) for h in typing.get_args(hint))
    if origin is tuple:
        (item, *_) = typing.get_args(hint)
        return isinstance(value, list | tuple) and all(_fits(v, item) for v in value)
    if hint is float:
        number = isinstance(value, int | float) and not isinstance(value, bool)
        return number and math.isfinite(value)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is type(None):
        return False  # (TOML has no null: a key left out keeps its default)
    return isinstance(hint, type) and isinstance(value, hint)


_KINDS: Final = {float: "a finite number", int: "a whole number", bool: "true or false"}
_LISTS: Final = {float: "finite numbers", int: "whole numbers", str: "strings"}


def _typed(key: str, value: Any, hint: Any, where: str) -> None:
    if not _fits(value, hint):
        args = [a for a in typing.get_args(hint) if a is not type(None) and a is not Ellipsis]
        if typing.get_origin(hint) is tuple:
            kind = f"a list of {_LISTS.get(args[0], 'strings')}"
        else:
            kind = _KINDS.get(args[0] if args else hint, "a string")
        raise ScenarioError(f"{where}: {key} must be {kind}, not {value!r}")


def _event(kind: type, value: Any, where: str) -> Any:
    if not isinstance(value, dict):
        raise ScenarioError(f"{where}: must be a table")
    hints = typing.get_type_hints(kind)
    unknown = set(value) - set(hints)
    if unknown:
        raise ScenarioError(f"{where}: unknown keys {sorted(unknown)} (allowed {sorted(hints)})")
    for key, item in value.items():
        _typed(key, item, hints[key], where)
    try:
        return kind(**value)
    except TypeError as exc:
        raise ScenarioError(f"{where}: {exc}") from None


def _apply(base: Scenario, data: dict[str, Any], where: str) -> Scenario:
    hints = typing.get_type_hints(Scenario)
    changes: dict[str, Any] = {}
    for key, value in data.items():
        if key not in hints or key in ("variants", "name"):
            allowed = ", ".join(sorted(set(hints) - {"variants", "name"}))
            raise ScenarioError(f"{where}: unknown key {key!r} (allowed: {allowed})")
        if key in _EVENTS:
            changes[key] = _event(_EVENTS[key], value, f"{where}: [{key}]")
            continue
        _typed(key, value, hints[key], where)
        if isinstance(value, list):
            changes[key] = tuple(value)
        elif isinstance(getattr(base, key), float) and isinstance(value, int):
            changes[key] = float(value)
        else:
            changes[key] = value
    scenario = dataclasses.replace(base, **changes)
    _check(scenario, where)
    return scenario


POSITIVE: Final = (
    "duration_s", "bin_s", "segment_s", "mean_duration_s", "edge_cache_mb", "shield_cache_mb",
    "mean_watch_fraction", "max_buffer_s", "capacity_scale", "upstream_mbps", "heartbeat_s",
)  # fmt: skip
NON_NEGATIVE: Final = (
    "sessions_per_s", "diurnal_amplitude", "peak_hour", "client_spread_deg", "zipf_alpha",
    "seek_probability", "push_top", "retry_s", "detect_s",
)  # fmt: skip


def _check(s: Scenario, where: str) -> None:
    for key in POSITIVE:
        if not getattr(s, key) > 0:
            raise ScenarioError(f"{where}: {key} must be > 0")
    for key in NON_NEGATIVE:
        if not getattr(s, key) >= 0:
            raise ScenarioError(f"{where}: {key} must be >= 0")
    for key in ("diurnal_amplitude", "mean_watch_fraction", "seek_probability"):
        if getattr(s, key) > 1:
            raise ScenarioError(f"{where}: {key} must be at most 1")
    if s.videos < 1 or s.peak_hour > 24:
        raise ScenarioError(f"{where}: videos >= 1, 0 <= peak_hour <= 24")
    if not s.ladder_kbps or list(s.ladder_kbps) != sorted(s.ladder_kbps) or s.ladder_kbps[0] <= 0:
        raise ScenarioError(f"{where}: ladder_kbps must be ascending, each > 0")
    if any(w < 0 for w in s.rendition_share) or (s.rendition_share and not sum(s.rendition_share)):
        raise ScenarioError(f"{where}: rendition_share: weights >= 0, not all 0")
    for rule in s.rules:
        if rule not in RULES:
            raise ScenarioError(f"{where}: unknown ABR rule {rule!r} (one of {RULES})")
    ladder = list(s.live_ladder_kbps)
    if ladder != sorted(ladder) or (ladder and ladder[0] <= 0):
        raise ScenarioError(f"{where}: live_ladder_kbps must be ascending, each > 0")
    if s.live_part_s < 0 or s.live_kbps <= 0 or s.live_watch_s <= 0 or s.live_hold_back_s < 0:
        raise ScenarioError(f"{where}: live_part_s >= 0, live_kbps and live_watch_s > 0")
    # every segment (part) is a request of every viewer: a typo's thousandth of a second would
    # make a run of billions of requests
    if not MIN_SEGMENT_S <= s.segment_s <= MAX_SEGMENT_S:
        raise ScenarioError(
            f"{where}: segment_s must be between {MIN_SEGMENT_S:g} and {MAX_SEGMENT_S:g} s"
        )
    if s.live_part_s and not MIN_PART_S <= s.live_part_s <= s.segment_s:
        raise ScenarioError(
            f"{where}: live_part_s must be 0 (VOD) or between {MIN_PART_S:g} s and segment_s"
        )
    if s.cache_policy not in POLICIES:
        raise ScenarioError(f"{where}: unknown cache_policy (one of {POLICIES})")
    for source in s.bandwidth:
        if source not in DATASETS and not source.startswith("constant:"):
            raise ScenarioError(f"{where}: bandwidth {source!r}: a trace set or constant:MBPS")
    _check_size(s, where)
    _check_events(s, where)


def _check_size(s: Scenario, where: str) -> None:
    """What the run asks for, against what one run may (a typo's factor of a thousand)."""
    crowd = s.flash_crowd
    sessions = s.sessions_per_s * s.duration_s
    sessions += crowd.sessions_per_s * min(crowd.duration_s, s.duration_s) if crowd else 0.0
    sample = " (--sample simulates a share of the audience)"
    for what, asked, most, hint in (
        ("expected sessions (sessions_per_s x duration_s, a flash crowd's too)", sessions,
         MAX_SESSIONS, sample),
        ("time bins (duration_s / bin_s)", s.duration_s / s.bin_s, MAX_BINS, ""),
        ("videos", s.videos, MAX_VIDEOS, ""),
        ("edge_cache_mb", s.edge_cache_mb, MAX_CACHE_MB, ""),
        ("shield_cache_mb", s.shield_cache_mb, MAX_CACHE_MB, ""),
    ):  # fmt: skip
        if asked > most:
            raise ScenarioError(f"{where}: {asked:.3g} {what}: at most {most:.3g} in one run{hint}")


def _check_events(s: Scenario, where: str) -> None:
    """Each event's times, and the POP or region it names in the scenario's topology."""
    failure, outage, crowd = s.pop_failure, s.origin_outage, s.flash_crowd
    if failure and not (
        failure.at_s >= 0 and (failure.restore_s is None or failure.restore_s >= failure.at_s)
    ):
        raise ScenarioError(f"{where}: [pop_failure] at_s >= 0, restore_s >= at_s")
    if outage and not 0 <= outage.start_s <= outage.end_s:
        raise ScenarioError(f"{where}: [origin_outage] 0 <= start_s <= end_s")
    if crowd and not (crowd.start_s >= 0 and crowd.sessions_per_s > 0 and crowd.duration_s > 0):
        raise ScenarioError(f"{where}: [flash_crowd] start_s >= 0, sessions_per_s, duration_s > 0")
    try:
        topology = resolve_topology(s.topology)
    except (TopologyError, OSError) as exc:
        raise ScenarioError(f"{where}: topology {s.topology!r}: {exc}") from None
    pops = {spec.pop.name for spec in topology.pops}
    if failure and failure.pop not in pops:
        raise ScenarioError(f"{where}: [pop_failure] no POP {failure.pop!r} in {s.topology!r}")
    regions = {region.name for region in topology.regions} or {"everywhere"}
    if crowd and crowd.region not in regions:
        raise ScenarioError(
            f"{where}: [flash_crowd] no region {crowd.region!r} in {s.topology!r} "
            f"(one of {', '.join(sorted(regions))})"
        )


def resolve_topology(name: str) -> Topology:
    """A shipped topology by name, or a TOML file by path."""
    shipped = DEFAULT_TOPOLOGY.parent / f"{name}.toml"
    return load_topology(shipped if shipped.is_file() else Path(name))


def parse_scenario(data: dict[str, Any], name: str) -> Scenario:
    data = dict(data)
    variants_raw = data.pop("variant", [])
    scenario = _apply(Scenario(str(data.pop("name", name))), data, f"scenario {name!r}")
    variants = []
    for i, raw in enumerate(variants_raw):
        raw = dict(raw)
        label = str(raw.pop("name", f"variant-{i + 1}"))
        scenario.with_changes(raw)  # validate now, not mid-run
        variants.append((label, raw))
    return dataclasses.replace(scenario, variants=tuple(variants))


def shipped_scenarios() -> dict[str, Path]:
    return {p.stem: p for p in sorted(SCENARIOS_DIR.glob("*.toml"))}


def load_scenario(name_or_path: str) -> Scenario:
    """A shipped scenario by name, or a TOML file by path."""
    path = shipped_scenarios().get(name_or_path) or Path(name_or_path)
    if not path.is_file():
        known = ", ".join(shipped_scenarios())
        raise ScenarioError(f"no scenario {name_or_path!r}: a file, or one of {known}")
    try:
        with path.open("rb") as f:
            data = tomllib.load(f)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{path}: {exc}") from None
    return parse_scenario(data, path.stem)
