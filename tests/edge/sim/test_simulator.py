"""The CDN simulator: its cache results equal libcachesim's on the exported trace, its queue
matches M/M/1 theory, every shipped scenario runs and draws its plots, scenario errors are
clear, and the failure scenarios behave as the live CDN does."""

from __future__ import annotations

import dataclasses
import json
import math
import random
import subprocess
import sys
from pathlib import Path

import libcachesim as lcs
import pytest

from edge.sim.plots import draw_all
from edge.sim.queueing import FifoServers
from edge.sim.runner import export_traces, run_scenario, simulate
from edge.sim.scenario import (
    PopFailure,
    Scenario,
    ScenarioError,
    load_scenario,
    resolve_topology,
    shipped_scenarios,
)
from tests.support.libcachesim_policies import REFERENCE
from tests.support.servers import run_cli

ONE_POP = """
origin = "http://127.0.0.1:8080"
[[pop]]
name = "solo"
lat = 48.86
lon = 2.35
[[region]]
name = "Paris"
lat = 48.86
lon = 2.35
weight = 1
"""


@pytest.mark.parametrize("policy", list(REFERENCE))
def test_single_pop_hit_ratios_equal_libcachesim(tmp_path: Path, policy: str) -> None:
    topology = tmp_path / "solo.toml"
    topology.write_text(ONE_POP)
    scenario = Scenario(
        "validation",
        topology=str(topology),
        duration_s=3600,
        sessions_per_s=1.0,
        videos=300,
        mean_duration_s=300,
        timing=False,  # no players' timing: a fixed rendition, one request per segment
        tiered=False,
        cache_policy=policy,
        edge_cache_mb=2000,
    )
    outcome = simulate(scenario, log_requests=True)
    solo = outcome.nodes["solo"].counters
    assert solo.requests > 50_000
    [trace] = export_traces(outcome, tmp_path / "traces")
    reader = lcs.TraceReader(str(trace), lcs.TraceType.ORACLE_GENERAL_TRACE)
    miss, byte_miss = REFERENCE[policy](int(2000 * 1e6)).process_trace(reader)
    assert 0.05 < miss < 0.95  # the cache is neither trivially big nor trivially small
    assert solo.hits / solo.requests == pytest.approx(1 - miss, abs=0.005)
    assert solo.hit_bytes / solo.bytes == pytest.approx(1 - byte_miss, abs=0.005)


@pytest.mark.parametrize("servers", [1, 3])
def test_queue_waits_match_queueing_theory(servers: int) -> None:
    """M/M/c with λ = 0.7·c, μ = 1: Erlang C gives the mean wait in the queue."""
    rng = random.Random(7)
    lam, mu = 0.7 * servers, 1.0
    queue = FifoServers(servers)
    t = 0.0
    for _ in range(300_000):
        t += rng.expovariate(lam)
        start = queue.start(t)
        queue.hold(start + rng.expovariate(mu))
    a = lam / mu
    rho = a / servers
    top = a**servers / _factorial(servers) / (1 - rho)
    erlang_c = top / (sum(a**k / _factorial(k) for k in range(servers)) + top)
    expected = erlang_c / (servers * mu - lam)  # = ρ/(μ−λ) for c = 1
    assert queue.mean_wait_s == pytest.approx(expected, rel=0.06)


def _factorial(n: int) -> int:
    return 1 if n <= 1 else n * _factorial(n - 1)


def test_every_shipped_scenario_runs_and_draws(tmp_path: Path) -> None:
    names = set(shipped_scenarios())
    assert {"steady", "flash-crowd", "pop-failure", "origin-outage", "push-vs-pull"} <= names
    assert {"tiered-vs-flat", "cache-sweep", "live"} <= names
    for name in sorted(names):
        scenario = load_scenario(name)
        # small: 20 minutes (every scenario's event starts within them) of a lighter audience
        changes: dict[str, object] = {
            "sessions_per_s": scenario.sessions_per_s * 0.1
            if name == "steady"
            else min(0.2, scenario.sessions_per_s * 0.2),
            "duration_s": min(scenario.duration_s, 1200.0),
        }
        if scenario.flash_crowd is not None:
            crowd = dataclasses.asdict(scenario.flash_crowd)
            changes["flash_crowd"] = {**crowd, "sessions_per_s": 1}
        small = scenario.with_changes(changes)
        summary = run_scenario(small, tmp_path / name, progress=False, draw=draw_all)
        out = tmp_path / name
        written = json.loads((out / "summary.json").read_text())
        assert written["scenario"] == name
        assert written["overall"]["requests"] > 0
        if scenario.live_part_s:  # live viewers play no VOD sessions
            assert written["live"]["viewers"] > 0
        else:
            assert written["abr"]["mpc"]["sessions"] > 0
        for png in ("hit_ratio", "origin_egress", "pop_load", "qoe_cdf", "world_map"):
            assert (out / f"{png}.png").stat().st_size > 10_000, (name, png)
        if scenario.variants:
            assert (out / "variants.png").is_file()
            assert set(summary["variants"]) == {"base", *(v for v, _ in scenario.variants)}


def test_flash_crowd_fetches_the_release_once_with_tiers_and_collapsing(tmp_path: Path) -> None:
    scenario = load_scenario("flash-crowd")
    summary = run_scenario(scenario, tmp_path, progress=False)
    release = summary["new_release"]
    assert release["bytes_first_requested"] > 0
    assert release["origin_vs_first_requested"] <= 1.05
    flat = summary["variants"]["flat, no collapsing"]["new_release"]
    assert flat["origin_vs_first_requested"] > 2


def test_pop_failure_fails_players_over(tmp_path: Path) -> None:
    scenario = load_scenario("pop-failure").with_changes({"sessions_per_s": 1.0})
    outcome = simulate(scenario)
    new_york = outcome.nodes["new-york"].counters
    before = sum(new_york.request_bins[: int(600 / scenario.bin_s)])
    during = sum(new_york.request_bins[int(610 / scenario.bin_s) : int(1200 / scenario.bin_s)])
    assert before > 0
    assert during == 0
    failed_over = [s for s in outcome.sessions if s.pop == "new-york" and s.failed_fetches]
    assert failed_over
    assert not any(s.abandoned for s in failed_over)
    after = sum(new_york.request_bins[int(1260 / scenario.bin_s) :])
    assert after > 0  # back in rotation once restored


def test_a_dead_shield_fails_its_edges_misses_and_not_their_hits() -> None:
    """An edge fills only from its shield (its one upstream, as a live POP's `--upstream`):
    while the shield is dead the edge's misses fail and its hits are served; the other
    shield's edges fill as before, and once the shield is back its edges fill again."""
    scenario = Scenario(
        "shield-failure",
        topology="default",
        duration_s=1800,
        sessions_per_s=3.0,
        videos=40,
        mean_duration_s=300,
        pop_failure=PopFailure("shield-eu", 600.0, 1200.0),
    )
    outcome = simulate(scenario)
    shield = outcome.nodes["shield-eu"].counters
    during = range(int(610 / scenario.bin_s), int(1200 / scenario.bin_s))
    assert sum(shield.request_bins[b] for b in during) == 0
    edges = [n for n in outcome.nodes.values() if n.parent is outcome.nodes["shield-eu"]]
    assert edges
    assert all(n.counters.failed > 0 for n in edges)
    assert sum(n.counters.hit_bins[b] for n in edges for b in during) > 0
    others = [n for n in outcome.nodes.values() if n.parent is outcome.nodes["shield-us"]]
    assert others
    assert all(n.counters.failed == 0 for n in others)
    after = range(int(1260 / scenario.bin_s), int(1800 / scenario.bin_s))
    assert sum(shield.request_bins[b] for b in after) > 0


def test_origin_outage_serves_what_the_pops_hold(tmp_path: Path) -> None:
    scenario = load_scenario("origin-outage")
    outcome = simulate(scenario)
    origin = outcome.nodes["origin"].counters
    down = range(int(600 / scenario.bin_s) + 1, int(900 / scenario.bin_s))
    assert all(origin.byte_bins[b] == 0 for b in down)
    hits_during = sum(n.counters.hit_bins[b] for n in outcome.nodes.values() for b in down)
    assert hits_during > 0
    assert sum(n.counters.failed for n in outcome.nodes.values()) > 0


@pytest.mark.parametrize(
    ("data", "message"),
    [
        pytest.param({"sesions_per_s": 1}, "unknown key 'sesions_per_s'", id="typo"),
        pytest.param({"rules": ["dash"]}, "unknown ABR rule", id="rule"),
        pytest.param({"cache_policy": "clock-pro"}, "unknown cache_policy", id="policy"),
        pytest.param({"bandwidth": ["5g"]}, "bandwidth '5g'", id="bandwidth"),
        pytest.param({"pop_failure": {"pop": "x", "when": 3}}, "unknown keys", id="event"),
        pytest.param({"duration_s": 0}, "duration_s must be > 0", id="duration"),
        pytest.param({"duration_s": "1h"}, "duration_s must be a finite number", id="type"),
        pytest.param({"zipf_alpha": math.nan}, "zipf_alpha must be a finite number", id="nan"),
        pytest.param({"videos": 2.5}, "videos must be a whole number", id="whole"),
        pytest.param({"collapse": 1}, "collapse must be true or false", id="bool"),
        pytest.param({"sessions_per_s": True}, "must be a finite number", id="bool-number"),
        pytest.param({"ladder_kbps": [300, "720p"]}, "list of whole numbers", id="list"),
        pytest.param({"seek_probability": 1.5}, "seek_probability must be at most 1", id="share"),
        pytest.param({"rendition_share": [0, 0]}, "not all 0", id="weights"),
        pytest.param(
            {"sessions_per_s": 5000.0, "duration_s": 86_400.0},
            "at most 1e.07 in one run",
            id="huge",
        ),
        pytest.param({"duration_s": 1e300, "sessions_per_s": 0.0}, "time bins", id="bins"),
        pytest.param({"edge_cache_mb": 1e300}, "edge_cache_mb: at most", id="cache"),
        pytest.param({"segment_s": 0.0001}, "segment_s must be between", id="segment"),
        pytest.param({"segment_s": 600}, "segment_s must be between", id="long-segment"),
        pytest.param({"live_part_s": 1e-6}, "live_part_s must be 0", id="part"),
        pytest.param({"live_part_s": 8}, "live_part_s must be 0", id="part-over-segment"),
        pytest.param({"live_ladder_kbps": [2500, 800]}, "ascending", id="live-ladder"),
        pytest.param({"live_ladder_kbps": [0, 800]}, "ascending, each > 0", id="live-rung"),
        pytest.param(
            {"flash_crowd": {"region": "Atlantis", "start_s": 0, "sessions_per_s": 1}},
            "no region 'Atlantis'",
            id="region",
        ),
        pytest.param(
            {"flash_crowd": {"region": "London", "start_s": 0, "sessions_per_s": 0}},
            "sessions_per_s, duration_s > 0",
            id="crowd-rate",
        ),
        pytest.param({"pop_failure": {"pop": "atlantis", "at_s": 5}}, "no POP", id="pop"),
        pytest.param({"pop_failure": {"pop": "london", "at_s": "5"}}, "at_s must be", id="at"),
        pytest.param({"topology": "/nonexistent.toml"}, "topology '/nonexistent", id="topology"),
    ],
)
def test_scenario_errors_are_clear(data: dict[str, object], message: str) -> None:
    with pytest.raises(ScenarioError, match=message):
        Scenario("x").with_changes(data)


def test_a_wrong_scenario_file_is_refused_before_the_run(tmp_path: Path) -> None:
    """A value of the wrong type, or a topology that is not one, is said at once (exit 2),
    not met as a traceback in the middle of a run."""
    for body, said in [
        ('duration_s = "1h"\n', "duration_s must be a finite number, not '1h'"),
        (f'topology = "{tmp_path / "bad.toml"}"\n', "bad.toml: Expected '='"),
    ]:
        (tmp_path / "bad.toml").write_text("not toml\n")
        scenario = tmp_path / "scenario.toml"
        scenario.write_text(body)
        done = run_cli("simulate", str(scenario), "--out", str(tmp_path / "out"), "--quiet")
        assert done.returncode == 2, done.stderr
        assert said in done.stderr
        assert "Traceback" not in done.stderr


def test_shipped_topologies_resolve_by_name() -> None:
    assert any(p.pop.name == "new-york" for p in resolve_topology("world").pops)


def test_cli_lists_and_runs_a_scenario(tmp_path: Path) -> None:
    listed = run_cli("simulate", "--list", check=True)
    assert "flash-crowd" in listed.stdout
    assert "cache-sweep" in listed.stdout
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "mediacdn",
            "simulate",
            "origin-outage",
            "--sample",
            "0.2",
            "--out",
            str(tmp_path),
            "--quiet",
            "--no-plots",
            "--export-trace",
            "--set",
            "edge_cache_mb=1000",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert "origin down" in done.stdout
    assert list((tmp_path / "traces" / "base").glob("*.oracleGeneral.bin"))
    bad = run_cli("simulate", "nowhere")
    assert bad.returncode == 2
    assert "no scenario 'nowhere'" in bad.stderr
