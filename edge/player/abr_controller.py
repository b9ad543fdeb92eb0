"""One playback session's ABR state (pure): the rule chosen by name and what it has learnt.
The headless HTTP player and the simulator's players both decide through this class."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from edge.player.abr import HLSJS_DEFAULT_ESTIMATE_BPS, BandwidthEstimator, Bola, throughput_choice
from edge.player.mpc import ThroughputForecast, mpc_choice

RULES: Final = ("mpc", "throughput", "bola")
DEFAULT_RULE: Final = "mpc"
RULE_HELP: Final = (
    "mpc: robust model-predictive control (our default); throughput: hls.js's EWMA rule and "
    "defaults; bola: BOLA-BASIC as dash.js parameterises it"
)


class AbrController:
    def __init__(
        self, rule: str, bitrates_bps: Sequence[int], *, max_buffer_s: float = 30.0
    ) -> None:
        if rule not in RULES:
            raise ValueError(f"unknown ABR rule {rule!r} (one of {', '.join(RULES)})")
        if not bitrates_bps or list(bitrates_bps) != sorted(bitrates_bps):
            raise ValueError("bitrates_bps must be non-empty and ascending")
        self.rule = rule
        self.bitrates_bps = tuple(bitrates_bps)
        self.max_buffer_s = max_buffer_s
        self.live = False  # chunks fetched as they are made (LL-HLS parts): see live_buffer_step
        self.level = 0
        self.estimator = BandwidthEstimator()
        self.forecast = ThroughputForecast(HLSJS_DEFAULT_ESTIMATE_BPS)
        self.bola = Bola()

    def choose(
        self,
        buffer_s: float,
        playing: bool,
        segment_s: float,
        *,
        remaining: int = 5,
        speed: float = 1.0,
    ) -> int:
        """The level of the next chunk, given the buffer (seconds of media) before fetching."""
        if self.rule == "bola":
            choice = self.bola.choose(self.bitrates_bps, buffer_s)
        elif self.rule == "throughput":
            deadline = buffer_s / speed if playing and buffer_s > 0 else None
            if self.live and deadline is not None:  # it comes over its own duration anyway
                deadline += segment_s
            choice = throughput_choice(
                self.bitrates_bps,
                self.estimator.estimate_bps(),
                self.level,
                segment_s=segment_s,
                max_fetch_s=deadline,
            )
        else:
            choice = mpc_choice(
                self.bitrates_bps,
                self.level,
                buffer_s if playing else 0.0,
                self.forecast.robust_bps() * speed,
                segment_s,
                self.max_buffer_s,
                remaining,
                self.live,
            )
        self.level = choice
        return choice

    def observe(self, took_s: float, size_bytes: int) -> None:
        """A download finished: `size_bytes` in `took_s` seconds."""
        self.estimator.sample(took_s, size_bytes)
        self.forecast.observe(8 * size_bytes / max(took_s, 0.05))
