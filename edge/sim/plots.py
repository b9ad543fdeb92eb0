"""The simulator's pictures (matplotlib, PNG): hit ratio over time per POP, origin egress, POP
load, QoE CDFs per ABR rule, a world map of POPs and clients, and a comparison of variants."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from edge.sim.nodes import Node
from edge.sim.records import Outcome

MAP_CLIENTS = 6000


def _save(fig: Figure, path: Path) -> None:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _hours(outcome: Outcome) -> list[float]:
    step = outcome.scenario.bin_s
    return [(i + 0.5) * step / 3600 for i in range(outcome.bins)]


def _events(ax: Axes, outcome: Outcome) -> None:
    for at_s, what in outcome.events:
        ax.axvline(at_s / 3600, color="0.4", linestyle=":", linewidth=1)
        ax.annotate(
            what,
            (at_s / 3600, 1),
            xycoords=("data", "axes fraction"),
            fontsize=7,
            rotation=90,
            va="top",
            ha="right",
            color="0.3",
        )


def _edges(outcome: Outcome) -> list[Node]:
    return [n for n in outcome.nodes.values() if n.tier == "edge"]


def _legend(ax: Axes, count: int) -> None:
    ax.legend(fontsize=6, ncol=max(1, count // 8), loc="lower right", framealpha=0.7)


def hit_ratio_over_time(outcome: Outcome, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(11, 5))
    hours = _hours(outcome)
    edges = _edges(outcome)
    for node in edges:
        c = node.counters
        xs = [h for h, r in zip(hours, c.request_bins, strict=True) if r]
        ys = [h / r for h, r in zip(c.hit_bins, c.request_bins, strict=True) if r]
        ax.plot(xs, ys, linewidth=1, label=node.name)
    _events(ax, outcome)
    ax.set(
        xlabel="time (h)",
        ylabel="hit ratio",
        ylim=(0, 1.02),
        title=f"{outcome.scenario.name}: hit ratio per edge POP",
    )
    _legend(ax, len(edges))
    _save(fig, path)


def origin_egress(outcome: Outcome, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(11, 4))
    step = outcome.scenario.bin_s
    origin = outcome.nodes["origin"].counters
    served = [sum(n.counters.byte_bins[i] for n in _edges(outcome)) for i in range(outcome.bins)]
    hours = _hours(outcome)
    ax.plot(hours, [b * 8 / step / 1e6 for b in served], label="served to clients", color="C0")
    ax.plot(
        hours, [b * 8 / step / 1e6 for b in origin.byte_bins], label="origin egress", color="C3"
    )
    _events(ax, outcome)
    ax.set(xlabel="time (h)", ylabel="Mbit/s", title=f"{outcome.scenario.name}: origin egress")
    ax.legend(fontsize=8)
    _save(fig, path)


def pop_load(outcome: Outcome, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(11, 5))
    hours = _hours(outcome)
    edges = _edges(outcome)
    for node in edges:
        assert node.pop is not None
        capacity = node.pop.max_in_flight
        ax.plot(
            hours, [x / capacity for x in node.counters.load_bins], linewidth=1, label=node.name
        )
    _events(ax, outcome)
    ax.axhline(1.0, color="k", linewidth=0.8)
    ax.set(
        xlabel="time (h)",
        ylabel="peak requests in flight / capacity",
        title=f"{outcome.scenario.name}: POP load",
    )
    _legend(ax, len(edges))
    _save(fig, path)


def qoe_cdf(outcome: Outcome, path: Path) -> None:
    """Sessions' QoE per ABR rule; for a live scenario, viewers' latency behind the edge."""
    fig, ax = plt.subplots(figsize=(7, 5))
    if outcome.live is not None:
        lat = sorted(outcome.live.latencies_s)
        ax.plot(lat, [(i + 1) / len(lat) for i in range(len(lat))], label="live viewers")
        ax.set(
            xlabel="latency behind the encoder (s, each viewer's median)",
            ylabel="CDF",
            title=f"{outcome.scenario.name}: live latency",
        )
    for rule in sorted({r.rule for r in outcome.sessions}):
        scores = sorted(
            r.playback.qoe for r in outcome.sessions if r.rule == rule and r.playback.played_s > 0
        )
        if scores:
            ax.plot(scores, [(i + 1) / len(scores) for i in range(len(scores))], label=rule)
    if outcome.live is None:
        ax.set(
            xlabel="session QoE (mean per-chunk score)",
            ylabel="CDF",
            title=f"{outcome.scenario.name}: QoE per ABR rule",
        )
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    _save(fig, path)


def world_map(outcome: Outcome, path: Path) -> None:
    """Equirectangular: longitude and latitude as x and y, a graticule, no map tiles."""
    fig, ax = plt.subplots(figsize=(12, 6.2))
    edges = _edges(outcome)
    colour = {n.name: f"C{i % 10}" for i, n in enumerate(edges)}
    step = max(1, len(outcome.sessions) // MAP_CLIENTS)
    sample = outcome.sessions[::step]
    ax.scatter(
        [r.lon for r in sample],
        [r.lat for r in sample],
        s=3,
        alpha=0.4,
        c=[colour.get(r.pop, "0.5") for r in sample],
        linewidths=0,
    )
    for node in outcome.nodes.values():
        if node.pop is None:
            continue
        pop = node.pop
        if node.parent is not None and node.parent.pop is not None:
            parent = node.parent.pop
            ax.plot([pop.lon, parent.lon], [pop.lat, parent.lat], color="0.6", linewidth=0.6)
        shield = node.tier == "shield"
        ax.scatter(
            [pop.lon],
            [pop.lat],
            s=90 if shield else 60,
            marker="s" if shield else "o",
            c="k" if shield else colour[node.name],
            edgecolors="k",
            zorder=3,
        )
        ax.annotate(
            node.name, (pop.lon, pop.lat), xytext=(4, 4), textcoords="offset points", fontsize=6
        )
    ax.set(
        xlim=(-180, 180),
        ylim=(-70, 80),
        xlabel="longitude",
        ylabel="latitude",
        title=f"{outcome.scenario.name}: clients coloured by the POP serving them "
        "(squares: shields)",
    )
    ax.set_xticks(range(-180, 181, 30))
    ax.set_yticks(range(-60, 81, 20))
    ax.grid(alpha=0.3)
    ax.set_aspect("equal")
    _save(fig, path)


def variants(outcomes: dict[str, Outcome], path: Path) -> None:
    """Hit ratio and origin egress per variant, side by side."""
    labels = list(outcomes)
    hit, egress = [], []
    for outcome in outcomes.values():
        edges = _edges(outcome)
        requests = sum(n.counters.requests for n in edges)
        hit.append(sum(n.counters.hits for n in edges) / requests if requests else 0.0)
        egress.append((outcome.nodes["origin"].counters.bytes + outcome.pushed_bytes) / 1e9)
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4))
    a.bar(labels, hit, color="C0")
    a.set(ylabel="edge hit ratio", ylim=(0, 1), title="hit ratio")
    b.bar(labels, egress, color="C3")
    b.set(ylabel="GB", title="origin egress (incl. pushed)")
    for ax in (a, b):
        ax.tick_params(axis="x", labelrotation=30, labelsize=8)
    first = next(iter(outcomes.values()))
    fig.suptitle(f"{first.scenario.name}: variants")
    _save(fig, path)


def draw_all(outcomes: dict[str, Outcome], out: Path) -> list[Path]:
    base = outcomes["base"]
    drawn = []
    for name, draw in (
        ("hit_ratio.png", hit_ratio_over_time),
        ("origin_egress.png", origin_egress),
        ("pop_load.png", pop_load),
        ("qoe_cdf.png", qoe_cdf),
        ("world_map.png", world_map),
    ):
        draw(base, out / name)
        drawn.append(out / name)
    if len(outcomes) > 1:
        variants(outcomes, out / "variants.png")
        drawn.append(out / "variants.png")
    return drawn
