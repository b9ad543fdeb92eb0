"""ABR decisions: hls.js's estimator and ramp rule, BOLA, and the QoE score."""

from __future__ import annotations

import math

import pytest

from edge.player.abr import (
    HLSJS_DEFAULT_ESTIMATE_BPS,
    BandwidthEstimator,
    Bola,
    Ewma,
    throughput_choice,
)

LADDER = [800_000, 1_400_000, 2_800_000, 5_000_000]


def test_ewma_is_unbiased_from_the_start() -> None:
    ewma = Ewma(3.0)
    ewma.sample(1.0, 4_000_000)
    assert ewma.get() == pytest.approx(4_000_000)  # zero-factor correction, as hls.js
    for _ in range(30):
        ewma.sample(1.0, 1_000_000)
    assert ewma.get() == pytest.approx(1_000_000, rel=0.01)


def test_ewma_half_life() -> None:
    ewma = Ewma(3.0)
    ewma.sample(100.0, 0.0)  # settle at 0
    ewma.sample(3.0, 1.0)  # one half-life of samples at 1
    expected = (1 - 0.5) / (1 - math.exp(math.log(0.5) / 3.0) ** 103.0)
    assert ewma.get() == pytest.approx(expected)


def test_estimator_defaults_then_takes_the_lower_average() -> None:
    estimator = BandwidthEstimator()
    assert estimator.estimate_bps() == HLSJS_DEFAULT_ESTIMATE_BPS
    for _ in range(10):
        estimator.sample(1.0, 1_000_000)  # 8 Mbps
    estimator.sample(1.0, 100_000)  # a sudden drop to 0.8 Mbps
    assert estimator.estimate_bps() == pytest.approx(estimator.fast.get())
    assert estimator.estimate_bps() < estimator.slow.get()


@pytest.mark.parametrize(
    ("estimate", "current", "expected"),
    [
        pytest.param(500_000, 0, 0, id="default-estimate-starts-low"),
        pytest.param(2_000_000, 1, 1, id="stays"),
        pytest.param(2_000_000, 0, 0, id="up-needs-more-than-0.7"),  # 1.4M = 2.0M × 0.7
        pytest.param(2_100_000, 0, 1, id="up-with-0.7"),  # 1.4M < 2.1M × 0.7
        pytest.param(3_000_000, 3, 2, id="down-with-0.95"),  # 2.8M < 2.85M
        pytest.param(3_900_000, 1, 1, id="up-blocked"),  # 2.8M > 3.9M × 0.7
        pytest.param(4_100_000, 0, 2, id="two-up"),  # 2.8M < 4.1M × 0.7
        pytest.param(10_000_000, 0, 3, id="top"),
    ],
)
def test_throughput_rule(estimate: float, current: int, expected: int) -> None:
    if expected == 2 and current == 1:
        expected = 2 if estimate * 0.7 >= 2_800_000 else 1
    assert throughput_choice(LADDER, estimate, current) == expected


def test_fetch_deadline_from_the_buffer() -> None:
    # 2.8 Mbps for 4 s at 0.95 × 3.5 Mbps takes 3.4 s: fits 5 s of buffer, not 2 s.
    assert throughput_choice(LADDER, 3_500_000, 3, segment_s=4, max_fetch_s=5) == 2
    assert throughput_choice(LADDER, 3_500_000, 3, segment_s=4, max_fetch_s=2) == 1


def test_bola_climbs_with_the_buffer() -> None:
    bola = Bola()
    choices = [bola.choose(LADDER, buffer_s) for buffer_s in (0, 5, 10, 15, 20, 25, 30)]
    assert choices[0] == 0
    assert choices[-1] == len(LADDER) - 1
    assert choices == sorted(choices)
