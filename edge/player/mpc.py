"""Our default ABR rule (pure): robust model-predictive control (RobustMPC, Yin et al.,
SIGCOMM 2015), solved over a short horizon for the QoE score itself.

The throughput forecast is the harmonic mean of the last five downloads, divided by
1 + the largest relative error of the recent forecasts (the "robust" part: a forecast that has
been wrong lately is trusted less). Each plan over the horizon is played forward through the
same buffer model as the simulator (`edge.player.abr.buffer_step`) and scored with the per-chunk QoE
(`bitrate_Mbps − 4.3 × rebuffer_s − |Δbitrate_Mbps|`); the first step of the best plan is
taken. It plans with a margin (1 s of buffer held back, 80 % of the forecast) that keeps its
rebuffering at or below BOLA's on the shared traces.

Plans are "one level now, then one level held" (L² of them rather than L^horizon): the choices
MPC makes in practice, cheap enough for a million chunks. Decisions are memoised on the inputs
rounded (buffer to 0.5 s, the forecast to 5 %), as FastMPC tabulates them.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from typing import Final

from edge.player.abr import REBUFFER_PENALTY, buffer_step, live_buffer_step

HORIZON: Final = 5
# Margins that keep MPC's rebuffering at or below BOLA's on the shared traces (bench/abr.py):
# plan as if 1 s less were buffered and the link delivered 80% of the robust forecast.
RESERVE_S: Final = 1.0
FORECAST_SAFETY: Final = 0.8
HISTORY: Final = 5
BUFFER_STEP_S: Final = 0.5
FORECAST_STEP: Final = math.log(1.05)

_memo: dict[tuple[tuple[int, ...], int, int, int, int, int, bool], int] = {}


class ThroughputForecast:
    """Harmonic mean of the recent downloads, discounted by the recent forecast error."""

    def __init__(self, initial_bps: float) -> None:
        self.initial_bps = initial_bps
        self.samples: deque[float] = deque(maxlen=HISTORY)
        self.errors: deque[float] = deque(maxlen=HISTORY)
        self._last_forecast: float | None = None

    def observe(self, bps: float) -> None:
        if self._last_forecast is not None and bps > 0:
            self.errors.append(abs(self._last_forecast - bps) / bps)
        self.samples.append(max(bps, 1.0))
        inverse = 0.0
        for sample in self.samples:
            inverse += 1 / sample
        self._last_forecast = len(self.samples) / inverse

    def robust_bps(self) -> float:
        if self._last_forecast is None:
            return self.initial_bps
        return self._last_forecast / (1 + (max(self.errors) if self.errors else 0.0))


def plan_value(
    bitrates_bps: Sequence[int],
    plan: Sequence[int],
    previous: int,
    buffer_s: float,
    forecast_bps: float,
    segment_s: float,
    max_buffer_s: float,
    live: bool = False,
) -> float:
    """The QoE of playing `plan` (levels) from this state if the forecast holds (`live`: each
    chunk fetched as it is made)."""
    total = 0.0
    last_mbps = bitrates_bps[previous] / 1e6
    for level in plan:
        download_s = bitrates_bps[level] * segment_s / forecast_bps
        if live:
            stall, buffer_s = live_buffer_step(buffer_s, download_s, segment_s)
        else:
            stall, buffer_s, _ = buffer_step(buffer_s, True, download_s, segment_s, max_buffer_s)
        mbps = bitrates_bps[level] / 1e6
        total += mbps - REBUFFER_PENALTY * stall - abs(mbps - last_mbps)
        last_mbps = mbps
    return total


def mpc_choice(
    bitrates_bps: Sequence[int],
    previous: int,
    buffer_s: float,
    forecast_bps: float,
    segment_s: float,
    max_buffer_s: float,
    remaining: int = HORIZON,
    live: bool = False,
) -> int:
    """The level to fetch next: the first step of the best plan over the horizon (`live`:
    chunks fetched as they are made, `live_buffer_step`)."""
    horizon = max(1, min(HORIZON, remaining))
    b = round(max(0.0, buffer_s - RESERVE_S) / BUFFER_STEP_S)
    f = round(math.log(max(forecast_bps * FORECAST_SAFETY, 1.0)) / FORECAST_STEP)
    key = (tuple(bitrates_bps), previous, b, f, round(segment_s * 1000), horizon, live)
    cached = _memo.get(key)
    if cached is not None:
        return cached
    buffer_q, forecast_q = b * BUFFER_STEP_S, math.exp(f * FORECAST_STEP)
    best, best_value = 0, -math.inf
    levels = range(len(bitrates_bps))
    for first in levels:
        for then in levels:
            plan = [first, *([then] * (horizon - 1))]
            value = plan_value(
                bitrates_bps, plan, previous, buffer_q, forecast_q, segment_s, max_buffer_s, live
            )
            if value > best_value:
                best, best_value = first, value
    if len(_memo) > 500_000:
        _memo.clear()
    _memo[key] = best
    return best
