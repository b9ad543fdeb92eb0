"""A run's summary (what `summary.json` holds): per POP and overall cache figures, origin
egress, peak load; per ABR rule the QoE figures."""

from __future__ import annotations

import statistics
from typing import Any

from edge.sim.records import Outcome, SessionRecord


def _ratio(a: float, b: float) -> float:
    return round(a / b, 4) if b else 0.0


def pop_summary(outcome: Outcome) -> dict[str, dict[str, Any]]:
    pops: dict[str, dict[str, Any]] = {}
    for node in outcome.nodes.values():
        if node.pop is None:
            continue
        c = node.counters
        pops[node.name] = {
            "tier": node.tier,
            "sessions": c.sessions,
            "requests": c.requests,
            "hit_ratio": _ratio(c.hits, c.requests),
            "byte_hit_ratio": _ratio(c.hit_bytes, c.bytes),
            # what `mediacdn cache replay` of the node's exported log reports: a request that
            # found its object admitted is a hit though its fill was still on its way
            "policy_hit_ratio": _ratio(c.policy_hits, c.policy_requests),
            "policy_byte_hit_ratio": _ratio(c.policy_hit_bytes, c.policy_bytes),
            "bytes": c.bytes,
            "collapsed": c.collapsed,
            "spilled": c.spilled,
            "failed": c.failed,
            "upstream_requests": c.upstream_requests,
            "upstream_bytes": c.upstream_bytes,
            "peak_in_flight": c.peak_in_flight,
            "peak_utilisation": _ratio(c.peak_in_flight, node.pop.max_in_flight),
            "mean_queue_wait_ms": round(node.queue.mean_wait_s * 1000, 3),
        }
    return pops


def rule_summary(sessions: list[SessionRecord]) -> dict[str, dict[str, Any]]:
    rules: dict[str, dict[str, Any]] = {}
    for rule in sorted({r.rule for r in sessions}):
        done = [r for r in sessions if r.rule == rule and r.playback.played_s > 0]
        if not done:
            rules[rule] = {"sessions": 0}
            continue
        played = sum(r.playback.played_s for r in done)
        stalled = sum(r.playback.stall_s for r in done)
        rules[rule] = {
            "sessions": len(done),
            "qoe_mean": round(statistics.fmean(r.playback.qoe for r in done), 4),
            "qoe_median": round(statistics.median(r.playback.qoe for r in done), 4),
            "startup_s_mean": round(statistics.fmean(r.playback.startup_s for r in done), 3),
            "rebuffer_ratio": round(stalled / (played + stalled), 5) if played else 0.0,
            "sessions_with_rebuffering": round(
                sum(1 for r in done if r.playback.stall_s > 0) / len(done), 4
            ),
            "bitrate_mean_bps": round(statistics.fmean(r.playback.bitrate_bps for r in done)),
            "switches_mean": round(statistics.fmean(r.playback.switches for r in done), 2),
            "failed_fetches": sum(r.failed_fetches for r in done),
            "abandoned": sum(1 for r in sessions if r.rule == rule and r.abandoned),
        }
    return rules


def summarise(outcome: Outcome) -> dict[str, Any]:
    edges = [n for n in outcome.nodes.values() if n.tier == "edge"]
    requests = sum(n.counters.requests for n in edges)
    hits = sum(n.counters.hits for n in edges)
    collapsed = sum(n.counters.collapsed for n in edges)
    served = sum(n.counters.bytes for n in edges)
    hit_bytes = sum(n.counters.hit_bytes for n in edges)
    origin = outcome.nodes["origin"].counters
    egress = origin.bytes + outcome.pushed_bytes
    s = outcome.scenario
    return {
        "scenario": s.name,
        "seed": s.seed,
        "duration_s": s.duration_s,
        "wall_s": round(outcome.wall_s, 2),
        "sessions": len(outcome.sessions),
        "overall": {
            "requests": requests,
            "hit_ratio": _ratio(hits, requests),
            # requests that joined a fill already on its way upstream (they cost the upstream
            # nothing, but waited for it: a live stream's parts are mostly these)
            "collapsed_ratio": _ratio(collapsed, requests),
            "byte_hit_ratio": _ratio(hit_bytes, served),
            "bytes_served": served,
            "origin_requests": origin.requests,
            "origin_bytes": origin.bytes,
            "pushed_bytes": outcome.pushed_bytes,
            "origin_offload": round(1 - egress / served, 4) if served else 0.0,
            "catalog_bytes_first_requested": outcome.first_requested_bytes,
            "origin_egress_vs_first_requested": _ratio(egress, outcome.first_requested_bytes),
            "peak_in_flight": max((n.counters.peak_in_flight for n in edges), default=0),
            "failed_requests": sum(n.counters.failed for n in edges),
        },
        "new_release": {
            "bytes_first_requested": outcome.release_first_bytes,
            "origin_bytes": outcome.release_origin_bytes,
            "origin_vs_first_requested": _ratio(
                outcome.release_origin_bytes, outcome.release_first_bytes
            ),
        },
        "pops": pop_summary(outcome),
        "abr": rule_summary(outcome.sessions),
        "events": [{"at_s": round(t, 1), "what": what} for t, what in outcome.events],
        "live": outcome.live.summary(
            {
                n.name: n.counters.upstream_requests
                for n in outcome.nodes.values()
                if n.cache is not None
            }
        )
        if outcome.live
        else None,
    }
