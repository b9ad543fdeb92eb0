"""`mediacdn simulate`: run a scenario by name or file, print what it found, say where the
summary, plots and traces went (its arguments: edge/sim/arguments.py)."""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tomllib
from pathlib import Path
from typing import Any

from edge.sim.plots import draw_all
from edge.sim.runner import run_scenario
from edge.sim.scenario import Scenario, ScenarioError, load_scenario, shipped_scenarios


def _override(scenario: Scenario, assignments: list[str], sample: float) -> Scenario:
    changes: dict[str, Any] = {}
    for item in assignments:
        key, sep, value = item.partition("=")
        if not sep:
            raise ScenarioError(f"--set {item!r}: expected KEY=VALUE")
        try:
            changes[key.strip()] = tomllib.loads(f"v = {value}")["v"]
        except tomllib.TOMLDecodeError:
            changes[key.strip()] = value
    if sample != 1.0:
        if not 0 < sample <= 1:
            raise ScenarioError("--sample must be in (0, 1]")
        changes.setdefault("sessions_per_s", scenario.sessions_per_s * sample)
        changes.setdefault("capacity_scale", scenario.capacity_scale * sample)
        if scenario.flash_crowd is not None and "flash_crowd" not in changes:
            crowd = scenario.flash_crowd
            changes["flash_crowd"] = dataclasses.asdict(
                dataclasses.replace(crowd, sessions_per_s=crowd.sessions_per_s * sample)
            )
    return scenario.with_changes(changes) if changes else scenario


def _print_summary(summary: dict[str, Any], out: Path) -> None:
    def line(label: str, s: dict[str, Any]) -> None:
        o = s["overall"]
        collapsed = o["collapsed_ratio"]
        joined = f" (+{collapsed:.3f} joined a fill)" if collapsed >= 0.0005 else ""
        print(
            f"  {label:<24} {o['requests']:>9} requests  hit {o['hit_ratio']:.3f}{joined}  "
            f"byte hit {o['byte_hit_ratio']:.3f}  origin {o['origin_bytes'] / 1e9:8.2f} GB "
            f"(+{o['pushed_bytes'] / 1e9:.2f} pushed)  offload {o['origin_offload']:.3f}  "
            f"[{s['wall_s']:.1f} s]"
        )
        live = s.get("live")
        if live:
            worst = max(live["upstream_requests_per_part"].values(), default=0.0)
            print(
                f"  {'':<24} live: {live['viewers']} viewers  latency median "
                f"{live['latency_median_s']} s (p95 {live['latency_p95_s']} s)  stalled "
                f"{live['stalled_s_per_viewer']} s/viewer  bitrate {live['bitrate_mean_kbps']} "
                f"kbps ({live['switches_per_viewer']} switches/viewer)  "
                f"{live['jumps_per_viewer']} jumps to the edge/viewer  "
                f"upstream requests per part: at most {worst} (a POP)"
            )
        release = s.get("new_release", {})
        if release.get("bytes_first_requested"):
            print(
                f"  {'':<24} new release: origin sent "
                f"{release['origin_vs_first_requested']:.3f}x its bytes first requested"
            )

    print(f"scenario {summary['scenario']} (seed {summary['seed']})")
    for label, s in summary.get("variants", {"base": summary}).items():
        line(label, s)
    for rule, q in summary["abr"].items():
        if q.get("sessions"):
            print(
                f"  ABR {rule:<10} {q['sessions']:>6} sessions  QoE {q['qoe_mean']:.3f}  "
                f"startup {q['startup_s_mean']:.2f} s  rebuffer {q['rebuffer_ratio']:.4f}  "
                f"bitrate {q['bitrate_mean_bps'] / 1e6:.2f} Mbps  switches {q['switches_mean']}"
            )
    for event in summary["events"]:
        print(f"  t={event['at_s']:>7.0f} s  {event['what']}")
    print(f"wrote {out / 'summary.json'}" + ("" if not list(out.glob("*.png")) else " and plots"))


def run(args: argparse.Namespace) -> int:
    if args.list or not args.scenario:
        for name, path in shipped_scenarios().items():
            scenario = load_scenario(str(path))
            print(f"{name:<16} {' '.join(scenario.description.split())}")
        return 0 if args.list else 2
    try:
        scenario = load_scenario(args.scenario)
        if args.seed is not None:
            scenario = dataclasses.replace(scenario, seed=args.seed)
        scenario = _override(scenario, args.set, args.sample)
    except ScenarioError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    out = args.out or Path("sim-out") / scenario.name
    summary = run_scenario(
        scenario,
        out,
        export=args.export_trace,
        progress=not args.quiet,
        draw=None if args.no_plots else draw_all,
    )
    _print_summary(summary, out)
    return 0
