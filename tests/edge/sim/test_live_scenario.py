"""The live scenario: viewers on the live edge of one LL-HLS stream, routed to POPs by the
router's code, each asking for the next part before it exists. A POP that collapses makes one
upstream request per part (every tier); one that does not makes one per viewer; viewers play
about PART-HOLD-BACK behind the edge."""

from __future__ import annotations

import pytest

from edge.sim.report import summarise
from edge.sim.runner import simulate
from edge.sim.scenario import load_scenario
from manifests.live_playlist import PART_WINDOW_TARGETS


def test_collapsing_pops_ask_upstream_once_per_part_and_viewers_stay_near_the_edge() -> None:
    scenario = load_scenario("live").with_changes({"duration_s": 120.0, "sessions_per_s": 4.0})
    summary = summarise(simulate(scenario))
    live = summary["live"]
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
    # the viewers' requests for a part not yet made join its one fill: neither hits nor misses
    overall = summary["overall"]
    assert overall["collapsed_ratio"] > 0.8
    assert overall["hit_ratio"] + overall["collapsed_ratio"] <= 1.0


def test_without_collapsing_every_viewer_waiting_on_a_part_goes_upstream() -> None:
    scenario = load_scenario("live").with_changes(
        {"duration_s": 120.0, "sessions_per_s": 4.0, "collapse": False}
    )
    summary = summarise(simulate(scenario))
    per_part = summary["live"]["upstream_requests_per_part"]
    assert summary["overall"]["collapsed_ratio"] == 0.0
    assert per_part["shield-eu"] > 10  # every edge behind it, for every viewer
    assert max(per_part.values()) > 20


def test_a_viewer_that_falls_out_of_the_parts_listed_goes_back_to_the_live_edge() -> None:
    """On 2 Mbit/s the 2.5 Mbit/s rendition falls 0.2 s behind every second. Parts are
    listed for the segments that end within the last three target durations (4 s each here)
    and the segment being made: a viewer whose next part is older goes back to the live
    edge, as the headless player does, so no viewer plays more than those four segments and
    the hold-back behind (without the jump, a viewer's median latency reached 26 s)."""
    scenario = load_scenario("live").with_changes(
        {"duration_s": 240.0, "sessions_per_s": 1.0, "bandwidth": ["constant:2"]}
    )
    live = summarise(simulate(scenario))["live"]
    assert live["jumps_per_viewer"] > 1
    window_s = (PART_WINDOW_TARGETS + 1) * scenario.segment_s + scenario.live_hold_back_s
    assert live["latency_max_s"] <= window_s


@pytest.mark.parametrize(
    ("mbps", "rule", "lowest_kbps", "highest_kbps"),
    [
        (25, "mpc", 4500, 5000),  # the top rung, once the first part is measured
        (25, "throughput", 4500, 5000),
        (3, "mpc", 1400, 2500),  # what 3 Mbit/s carries, not the lowest
        (3, "throughput", 1200, 2500),
    ],
)
def test_viewers_choose_from_a_ladder_what_their_links_carry(
    mbps: int, rule: str, lowest_kbps: int, highest_kbps: int
) -> None:
    """Each part is asked for before it is made, so a request lasts about a part's duration
    whatever the link: measured from its first byte, the estimate is the link's."""
    scenario = load_scenario("live").with_changes(
        {
            "duration_s": 120.0,
            "sessions_per_s": 1.0,
            "live_ladder_kbps": [800, 1400, 2500, 5000],
            "bandwidth": [f"constant:{mbps}"],
            "rules": [rule],
        }
    )
    live = summarise(simulate(scenario))["live"]
    assert lowest_kbps <= live["bitrate_mean_kbps"] <= highest_kbps
    assert live["stalled_s_per_viewer"] < 0.1
    assert live["switches_per_viewer"] <= 3
    assert max(live["upstream_requests_per_part"].values()) <= 1.0  # each rendition's part
    assert 2.0 <= live["latency_median_s"] <= 3.0


def test_one_rendition_plays_without_a_choice() -> None:
    scenario = load_scenario("live").with_changes({"duration_s": 60.0, "sessions_per_s": 1.0})
    live = summarise(simulate(scenario))["live"]
    assert live["bitrate_mean_kbps"] == 2500
    assert live["switches_per_viewer"] == 0
