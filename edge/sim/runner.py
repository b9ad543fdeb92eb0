"""Running a scenario (and its variants) and writing what it found: `summary.json`, the plots,
and on request each POP's request log in libCacheSim's oracleGeneral format."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tqdm import tqdm

from edge.router.topology import Topology
from edge.sim.catalog import Catalog, Ladder, ladder_from_catalog
from edge.sim.model import Simulation
from edge.sim.records import Outcome
from edge.sim.report import summarise
from edge.sim.scenario import Scenario, resolve_topology
from edge.sim.trace import TraceRequest, write_oracle_general


def build_catalog(s: Scenario) -> Catalog:
    if s.ladder_from:
        url, _, video = s.ladder_from.rpartition("#")
        if not url or not video:
            raise ValueError("ladder_from must be DATABASE_URL#VIDEO_ID")
        ladder = ladder_from_catalog(url, video)
    else:
        ladder = Ladder(tuple(k * 1000 for k in s.ladder_kbps), s.segment_s)
    return Catalog(
        ladder,
        videos=s.videos,
        zipf_alpha=s.zipf_alpha,
        mean_duration_s=s.mean_duration_s,
        seed=s.seed,
    )


def simulate(
    s: Scenario,
    *,
    topology: Topology | None = None,
    catalog: Catalog | None = None,
    log_requests: bool = False,
    on_tick: Callable[[float], None] | None = None,
) -> Outcome:
    sim = Simulation(
        s,
        topology or resolve_topology(s.topology),
        catalog or build_catalog(s),
        log_requests=log_requests,
        on_tick=on_tick,
    )
    started = time.perf_counter()
    outcome = sim.run()
    outcome.wall_s = time.perf_counter() - started
    return outcome


def export_traces(outcome: Outcome, directory: Path) -> list[Path]:
    """Each POP's requests, in the order its cache was asked (an edge's from its clients, a
    shield's from its edges' misses), as an oracleGeneral file."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for node in outcome.nodes.values():
        if node.log:
            path = directory / f"{node.name}.oracleGeneral.bin"
            write_oracle_general(path, (TraceRequest(t, o, z) for t, o, z in node.log))
            written.append(path)
    return written


def run_scenario(
    s: Scenario,
    out: Path,
    *,
    export: bool = False,
    progress: bool = True,
    draw: Callable[[dict[str, Outcome], Path], object] | None = None,
) -> dict[str, Any]:
    """The scenario, then each variant; writes summary.json into `out`, and the plots with
    `draw` (edge/sim/plots.py's `draw_all`) if it is given."""
    out.mkdir(parents=True, exist_ok=True)
    runs = [("base", s)] + [(label, s.with_changes(c)) for label, c in s.variants]
    summaries: dict[str, dict[str, Any]] = {}
    outcomes: dict[str, Outcome] = {}
    for label, scenario in runs:
        desc = f"{s.name}" + ("" if label == "base" else f" [{label}]")
        with tqdm(
            total=round(scenario.duration_s),
            desc=desc,
            unit="sim s",
            disable=not progress,
            leave=False,
        ) as bar:

            def tick(now: float, bar: Any = bar) -> None:
                bar.update(round(now) - bar.n)

            outcome = simulate(scenario, log_requests=export, on_tick=tick)
        outcomes[label] = outcome
        summaries[label] = summarise(outcome)
        if export:
            export_traces(outcome, out / "traces" / label)
    summary = dict(summaries["base"])
    if s.variants:
        summary["variants"] = {k: v for k, v in summaries.items()}
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    if draw is not None:
        draw(outcomes, out)
    return summary
