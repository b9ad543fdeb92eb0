"""The simulator and a replay agree on every eviction policy: each POP's policy byte hit ratio
(edges' and shields') in a simulation with players (ABR switching, seeks, abandonment, tiers)
matches a replay of the requests it exported, through the same policy: to the last request,
since the simulated caches keep time in the whole seconds the exported log records (the
required agreement is ±0.005; this holds it to 1e-9). A request that joined a fill on its way
counts as a miss to its player but as a hit to the policy (the object was already admitted),
which is how a replay counts it; one whose fill failed is counted by neither."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from edge.eviction.policy import POLICIES, make_policy
from edge.sim.logs import load_trace
from edge.sim.records import Outcome
from edge.sim.report import pop_summary
from edge.sim.runner import export_traces, simulate
from edge.sim.scenario import OriginOutage, Scenario
from edge.sim.trace import TraceClock, replay

EDGE_MB = 1000


def simulated_and_replayed(policy: str, topology: str, logs: Path) -> int:
    """Simulate 20 minutes on `topology` with `policy`; check that each edge's exported log is
    the requests its cache saw and that a replay of it has the simulated byte hit ratio (for
    the edges with 1000 requests or more: how many those were)."""
    scenario = Scenario(
        "agreement",
        topology=topology,
        duration_s=1200,
        sessions_per_s=3.0,
        videos=20,
        mean_duration_s=300,
        cache_policy=policy,
        edge_cache_mb=EDGE_MB,
        shield_cache_mb=2000,
    )
    outcome = simulate(scenario, log_requests=True)
    if topology != "default":
        assert sum(node.counters.spilled for node in outcome.nodes.values()) > 1000
    return replays_agree(outcome, policy, logs, (0.05, 0.95))


def replays_agree(
    outcome: Outcome, policy: str, logs: Path, bounds: tuple[float, float], tier: str = "edge"
) -> int:
    """Each exported log of a POP of `tier` replayed through `policy` in a cache of the POP's
    size: the summary's policy byte hit ratio is the replay's (to its four decimals), the
    counters' to 1e-9 (for the POPs with 1000 requests or more, the figure within `bounds`:
    how many those were)."""
    summary = pop_summary(outcome)
    checked = 0
    paths = export_traces(outcome, logs)
    asked = {name for name, pop in summary.items() if pop["requests"]}
    assert {p.name.split(".")[0] for p in paths} == asked  # every POP's, shields' too
    for path in paths:
        name = path.name.split(".")[0]
        node = outcome.nodes[name]
        counters = node.counters
        trace = load_trace([path], "oracle")
        assert len(trace.requests) == counters.policy_requests, name
        assert len(trace.requests) + trace.skipped == counters.requests, name
        if counters.requests < 1000 or node.tier != tier:
            continue
        clock = TraceClock()
        cache = make_policy(policy, node.cache_bytes, clock=clock, locate=trace.locate)
        replayed = 1 - replay(cache, trace.requests, clock).byte_miss_ratio
        simulated = counters.policy_hit_bytes / counters.policy_bytes
        assert bounds[0] < simulated < bounds[1], (name, simulated)  # neither trivial way
        assert simulated == pytest.approx(replayed, abs=1e-9), name
        assert summary[name]["policy_byte_hit_ratio"] == pytest.approx(replayed, abs=5e-5)
        checked += 1
    return checked


@pytest.mark.parametrize("policy", POLICIES)
def test_simulated_pops_match_a_replay_of_their_requests(tmp_path: Path, policy: str) -> None:
    assert simulated_and_replayed(policy, "default", tmp_path) >= 3


@pytest.mark.parametrize("policy", ["popular", "lru"])
def test_a_spilled_request_is_in_the_log_of_the_edge_that_served_it(
    tmp_path: Path, policy: str
) -> None:
    """Edges with four request slots spill to their neighbours: each edge's exported log holds
    exactly the requests its cache saw, and a replay of it still decides as the cache did."""
    default = Path(__file__).resolve().parents[3] / "edge/router/topologies/default.toml"
    tight = tmp_path / "tight.toml"
    tight.write_text(re.sub(r"max_in_flight = 1000\b", "max_in_flight = 4", default.read_text()))
    assert simulated_and_replayed(policy, str(tight), tmp_path / "logs") >= 3


@pytest.mark.parametrize("collapse", [True, False])
def test_a_live_edge_agrees_though_its_viewers_wait_for_fills(
    tmp_path: Path, collapse: bool
) -> None:
    """Live viewers ask for each part as it is made: nearly every request finds the part
    admitted with its fill still on its way, which the player counts as no hit (it waited for
    the upstream) and a replay, which has no fills in flight, as a hit. The summary's policy
    figures are the replay's, with collapsing and without (where each such request goes
    upstream again), and its player-side byte hit ratio is said apart."""
    scenario = Scenario(
        "live-agreement",
        topology="default",
        duration_s=240,
        sessions_per_s=1.0,
        live_part_s=0.5,
        live_kbps=2500,
        live_hold_back_s=2.0,
        live_watch_s=120,
        bandwidth=("constant:25",),
        collapse=collapse,
        edge_cache_mb=20,
    )
    outcome = simulate(scenario, log_requests=True)
    assert replays_agree(outcome, scenario.cache_policy, tmp_path, (0.5, 1.0)) >= 1
    for name, pop in pop_summary(outcome).items():
        if pop["tier"] == "edge" and pop["requests"] >= 1000:
            assert pop["byte_hit_ratio"] < pop["policy_byte_hit_ratio"] - 0.3, name


def tiered(policy: str, origin_outage: OriginOutage | None = None) -> Scenario:
    """20 minutes on the default topology, with edges small enough that shields are asked."""
    return Scenario(
        "tiered-agreement",
        topology="default",
        duration_s=1200,
        sessions_per_s=3.0,
        videos=20,
        mean_duration_s=300,
        cache_policy=policy,
        edge_cache_mb=300,
        shield_cache_mb=1000,
        origin_outage=origin_outage,
    )


@pytest.mark.parametrize("policy", ["adaptive", "lru"])
def test_a_shields_log_is_the_misses_of_its_edges(tmp_path: Path, policy: str) -> None:
    """A shield's exported log is what its cache was asked for, its edges' misses in the
    order they came up: a replay of it agrees with the simulated shield as an edge's does."""
    scenario = tiered(policy)
    outcome = simulate(scenario, log_requests=True)
    assert replays_agree(outcome, policy, tmp_path, (0.05, 0.95), tier="shield") >= 1


@pytest.mark.parametrize("policy", ["adaptive", "lru"])
def test_a_request_whose_fill_failed_is_skipped_by_policy_and_replay(
    tmp_path: Path, policy: str
) -> None:
    """While the origin is down a miss gets nothing and nothing is stored, which a replay
    (storing every miss) cannot know: the policy is not asked for it, and it stays in the log
    as a record of no bytes, which a replay skips, so edges and shields still agree with their
    replays."""
    scenario = tiered(policy, origin_outage=OriginOutage(400.0, 700.0))
    outcome = simulate(scenario, log_requests=True)
    assert sum(node.counters.failed for node in outcome.nodes.values()) > 100
    for tier in ("edge", "shield"):
        assert replays_agree(outcome, policy, tmp_path / tier, (0.001, 0.95), tier) >= 1
