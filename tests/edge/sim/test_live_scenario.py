"""The live scenario: viewers on the live edge of one LL-HLS stream, routed to POPs by the
router's code, each asking for the next part before it exists. A POP that collapses makes one
upstream request per part (every tier); one that does not makes one per viewer; viewers play
about PART-HOLD-BACK behind the edge."""

from __future__ import annotations

from edge.sim.report import summarise
from edge.sim.runner import simulate
from edge.sim.scenario import load_scenario


def test_collapsing_pops_ask_upstream_once_per_part_and_viewers_stay_near_the_edge() -> None:
    scenario = load_scenario("live").with_changes({"duration_s": 120.0, "sessions_per_s": 4.0})
    live = summarise(simulate(scenario))["live"]
    assert live["viewers"] > 300
    assert live["failed_viewers"] == 0
    assert live["parts_made"] == 240  # 120 s of 0.5 s parts
    per_part = live["upstream_requests_per_part"]
    assert max(per_part.values()) <= 1.0
    assert per_part["shield-eu"] > 0.95  # the shield asked for (almost) every part, once
    # a viewer starts PART-HOLD-BACK (2 s) behind the edge, plus a part and the trip
    assert 2.0 <= live["latency_median_s"] <= 3.0
    assert live["latency_p95_s"] <= 3.5
    assert live["stalled_s_per_viewer"] < 0.1


def test_without_collapsing_every_viewer_waiting_on_a_part_goes_upstream() -> None:
    scenario = load_scenario("live").with_changes(
        {"duration_s": 120.0, "sessions_per_s": 4.0, "collapse": False}
    )
    live = summarise(simulate(scenario))["live"]
    per_part = live["upstream_requests_per_part"]
    assert per_part["shield-eu"] > 10  # every edge behind it, for every viewer
    assert max(per_part.values()) > 20
