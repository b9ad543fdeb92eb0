"""ABR on a live stream fetched as it is made (LL-HLS parts): a chunk comes no faster than its
own duration, so only what its fetch takes beyond that drains the buffer, and the buffer does
not grow past the live edge. Planned as VOD (a 4 s segment must load before a hold-back's 2 s
of buffer runs out) every rule would stay on the lowest rung of a link that carries more."""

from __future__ import annotations

import pytest

from edge.player.abr import live_buffer_step
from edge.player.abr_controller import AbrController
from edge.player.mpc import mpc_choice
from edge.player.session import PlaybackSession

LADDER = [800_000, 1_400_000, 2_800_000, 5_000_000]


def test_a_live_chunk_drains_the_buffer_only_by_what_it_takes_beyond_its_duration() -> None:
    assert live_buffer_step(2.0, 1.0, 4.0) == (0.0, 2.0)  # it comes as it is made: no growth
    assert live_buffer_step(2.0, 4.0, 4.0) == (0.0, 2.0)
    assert live_buffer_step(2.0, 5.0, 4.0) == (0.0, 1.0)  # a second behind the edge
    assert live_buffer_step(2.0, 7.0, 4.0) == (1.0, 0.0)  # a stall once the buffer is spent


@pytest.mark.parametrize(
    ("forecast_bps", "previous", "vod", "live"),
    [
        (25e6, 0, 3, 3),
        (8e6, 0, 1, 3),
        (4e6, 0, 0, 2),  # 2.8 Mbit/s is carried; planned as VOD it stalls
        (3e6, 3, 0, 2),
        (3e6, 0, 0, 1),  # from the lowest rung, a step at a time
        (1.2e6, 3, 0, 0),  # nothing above the lowest is carried
    ],
)
def test_mpc_on_the_live_edge_takes_what_the_link_carries(
    forecast_bps: float, previous: int, vod: int, live: int
) -> None:
    assert mpc_choice(LADDER, previous, 2.0, forecast_bps, 4.0, 30.0, 5) == vod
    assert mpc_choice(LADDER, previous, 2.0, forecast_bps, 4.0, 30.0, 5, live=True) == live


def test_the_throughput_rule_on_the_live_edge_allows_a_segment_its_own_duration() -> None:
    choices = {}
    for live in (False, True):
        abr = AbrController("throughput", LADDER)
        abr.live = live
        for _ in range(10):  # 3 Mbit/s measured
            abr.observe(0.1, 3_000_000 // 80)
        choices[live] = abr.choose(2.0, True, 4.0)
    # 1.4 Mbit/s is under the estimate's 0.7; as VOD its 4 s segment would not load in 2 s
    assert choices == {False: 0, True: 1}


def test_a_session_says_whether_it_plans_live() -> None:
    assert PlaybackSession("mpc", LADDER, live=True).abr.live
    assert not PlaybackSession("mpc", LADDER).abr.live
