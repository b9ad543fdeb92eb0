"""Our default ABR rule (RobustMPC) and the trace-driven evaluation with its offline optimum."""

from __future__ import annotations

import pytest

from edge.player.abr import buffer_step
from edge.player.abr_controller import AbrController
from edge.player.mpc import ThroughputForecast, mpc_choice
from edge.sim.abr_eval import offline_optimum, play_trace
from edge.sim.bandwidth import ConstantLink, TraceLink, load_dataset

LADDER = (300_000, 750_000, 1_200_000, 1_850_000, 2_850_000, 4_300_000)


@pytest.mark.parametrize(
    ("buffer_s", "forecast_bps", "expected"),
    [
        pytest.param(0.0, 400_000, 0, id="empty-buffer-slow-link"),
        pytest.param(20.0, 20_000_000, 5, id="full-buffer-fast-link"),
        pytest.param(10.0, 2_000_000, 3, id="middle"),
    ],
)
def test_mpc_choices(buffer_s: float, forecast_bps: float, expected: int) -> None:
    assert mpc_choice(LADDER, 2, buffer_s, forecast_bps, 4.0, 30.0) == expected


def test_forecast_is_harmonic_and_discounted_by_its_error() -> None:
    forecast = ThroughputForecast(500_000)
    assert forecast.robust_bps() == 500_000
    forecast.observe(1_000_000)
    forecast.observe(4_000_000)  # the forecast was 1 Mbps: 75% off
    harmonic = 2 / (1 / 1_000_000 + 1 / 4_000_000)
    assert forecast.robust_bps() == pytest.approx(harmonic / 1.75)


def test_buffer_model() -> None:
    assert buffer_step(0.0, False, 3.0, 4.0, 30.0) == (0.0, 4.0, 0.0)  # startup: no stall
    assert buffer_step(2.0, True, 3.0, 4.0, 30.0) == (1.0, 4.0, 0.0)  # ran dry for 1 s
    assert buffer_step(29.0, True, 1.0, 4.0, 30.0) == (0.0, 30.0, 2.0)  # waits for room


def test_controller_rejects_unknown_rules() -> None:
    with pytest.raises(ValueError, match="unknown ABR rule"):
        AbrController("dash", LADDER)


def test_trace_link_integrates_bandwidth() -> None:
    link = TraceLink("t", [1.0, 1.0, 2.0], [1000.0, 0.0, 2000.0])  # kbps; a 1 s outage
    assert link.download_s(0.0, 500_000) == pytest.approx(0.5)
    assert link.download_s(0.5, 1_000_000) == pytest.approx(1.75)  # 0.5 s, outage, 0.25 s
    assert link.download_s(3.0, 2_000_000 + 1_000_000) == pytest.approx(2.0)  # loops round


def test_optimum_bounds_every_rule_on_real_traces() -> None:
    for link in load_dataset("hsdpa")[:3] + load_dataset("fcc")[:3]:
        best = offline_optimum(link, LADDER, 4.0, 20)
        for rule in ("mpc", "throughput", "bola"):
            online = play_trace(link, LADDER, 4.0, 20, rule)
            assert online.qoe <= best.qoe + 0.05, (link.name, rule)


def test_fast_link_plays_the_top_rung_without_stalls() -> None:
    session = play_trace(ConstantLink(50e6), LADDER, 4.0, 30, "mpc")
    assert session.stall_s == 0
    assert session.bitrate_bps > 0.9 * LADDER[-1]
