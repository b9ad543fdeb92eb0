"""Adaptive-bitrate decisions (pure, shared by the headless player and the simulator):
a throughput rule faithful to hls.js's defaults, BOLA, and the per-chunk QoE score."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

# hls.js defaults (src/config.ts): abrEwmaFastVoD 3 s, abrEwmaSlowVoD 9 s,
# abrEwmaDefaultEstimate 500 kbps, abrBandWidthFactor 0.95, abrBandWidthUpFactor 0.7.
HLSJS_FAST_HALF_LIFE_S = 3.0
HLSJS_SLOW_HALF_LIFE_S = 9.0
HLSJS_DEFAULT_ESTIMATE_BPS = 500_000.0
HLSJS_BANDWIDTH_FACTOR = 0.95
HLSJS_BANDWIDTH_UP_FACTOR = 0.7
HLSJS_MIN_DELAY_S = 0.05
REBUFFER_PENALTY = 4.3  # QoE_lin (Pensieve): bitrate − 4.3 × rebuffer − |Δbitrate|, in Mbps, s


class Ewma:
    """hls.js's EWMA: samples weighted by their duration; half-life in seconds of samples."""

    def __init__(self, half_life_s: float) -> None:
        self.alpha = math.exp(math.log(0.5) / half_life_s)
        self.estimate = 0.0
        self.total_weight = 0.0

    def sample(self, weight: float, value: float) -> None:
        adjusted = self.alpha**weight
        self.estimate = value * (1 - adjusted) + adjusted * self.estimate
        self.total_weight += weight

    def get(self) -> float:
        zero_factor = 1 - self.alpha**self.total_weight
        return self.estimate / zero_factor if zero_factor else self.estimate


class BandwidthEstimator:
    """hls.js's EwmaBandWidthEstimator: the lower of a fast and a slow average."""

    def __init__(self) -> None:
        self.fast = Ewma(HLSJS_FAST_HALF_LIFE_S)
        self.slow = Ewma(HLSJS_SLOW_HALF_LIFE_S)

    def sample(self, duration_s: float, size_bytes: int) -> None:
        duration_s = max(duration_s, HLSJS_MIN_DELAY_S)
        bps = 8 * size_bytes / duration_s
        self.fast.sample(duration_s, bps)
        self.slow.sample(duration_s, bps)

    def estimate_bps(self) -> float:
        if self.fast.total_weight < 0.001:
            return HLSJS_DEFAULT_ESTIMATE_BPS
        return min(self.fast.get(), self.slow.get())


def throughput_choice(
    bitrates_bps: Sequence[int],
    estimate_bps: float,
    current: int,
    *,
    segment_s: float | None = None,
    max_fetch_s: float | None = None,
) -> int:
    """hls.js's _findBestLevel: from the top, the first level whose bitrate is below the
    estimate × 0.95 (at or below the current level) or × 0.7 (above it), and, when a fetch
    deadline is given (the buffer left), whose segment would load before it. `bitrates_bps`
    ascending; returns an index (the lowest level if none fits)."""
    for level in range(len(bitrates_bps) - 1, -1, -1):
        factor = HLSJS_BANDWIDTH_UP_FACTOR if level > current else HLSJS_BANDWIDTH_FACTOR
        adjusted = estimate_bps * factor
        bitrate = bitrates_bps[level]
        if adjusted <= bitrate:
            continue
        if (
            segment_s is not None
            and max_fetch_s is not None
            and bitrate * segment_s / adjusted >= max_fetch_s
        ):
            continue
        return level
    return 0


@dataclass(frozen=True, slots=True)
class Bola:
    """BOLA-BASIC (Spiteri et al., 2016), with dash.js's parameter choice: utilities ln(bitrate)
    shifted so the lowest is 1, a minimum buffer of 10 s and a target buffer."""

    min_buffer_s: float = 10.0
    target_buffer_s: float = 30.0

    def choose(self, bitrates_bps: Sequence[int], buffer_s: float) -> int:
        utilities = [math.log(b / bitrates_bps[0]) + 1 for b in bitrates_bps]
        gp = (utilities[-1] - 1) / max(1e-9, self.target_buffer_s / self.min_buffer_s - 1)
        vp = self.min_buffer_s / max(gp, 1e-9)
        scores = [
            (vp * (u + gp) - buffer_s) / b for u, b in zip(utilities, bitrates_bps, strict=True)
        ]
        return max(range(len(scores)), key=scores.__getitem__)


def chunk_score(bitrate_bps: float, rebuffer_s: float, previous_bps: float | None) -> float:
    """One chunk's QoE: bitrate_Mbps − 4.3 × rebuffer_s − |Δbitrate_Mbps| (no Δ for the first)."""
    change = 0.0 if previous_bps is None else abs(bitrate_bps - previous_bps) / 1e6
    return bitrate_bps / 1e6 - REBUFFER_PENALTY * rebuffer_s - change


def live_buffer_step(buffer_s: float, download_s: float, segment_s: float) -> tuple[float, float]:
    """A chunk of a live stream through the playback buffer, fetched as it is made (LL-HLS
    parts): it cannot come faster than its own duration, so only what its fetch takes beyond
    that drains the buffer, and the buffer cannot grow (nothing past the live edge exists).
    Returns (stall_s, buffer_s once it has come)."""
    behind = download_s - segment_s if download_s > segment_s else 0.0
    if behind > buffer_s:
        return behind - buffer_s, 0.0
    return 0.0, buffer_s - behind


def buffer_step(
    buffer_s: float, playing: bool, download_s: float, segment_s: float, max_buffer_s: float
) -> tuple[float, float, float]:
    """One chunk through the playback buffer, shared by the simulator, MPC's look-ahead and
    the offline optimum: returns (stall_s while it downloaded, buffer_s once it is added and
    the player has waited for room, idle_s waited before the next request). Before playback
    starts nothing drains; playback starts with the first chunk."""
    if playing:
        stall = download_s - buffer_s if download_s > buffer_s else 0.0
        buffer_s = (buffer_s - download_s if buffer_s > download_s else 0.0) + segment_s
    else:
        stall, buffer_s = 0.0, segment_s
    idle = buffer_s - max_buffer_s if buffer_s > max_buffer_s else 0.0
    return stall, buffer_s - idle, idle
