"""One viewer's playback (pure): the ABR choice of each chunk, the buffer, stalls, switches,
startup and QoE. The headless HTTP player, the simulator's players and the trace evaluator all
play through this one model; only what moves the clock differs (real time, SimPy, a trace)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from edge.player.abr import buffer_step, chunk_score
from edge.player.abr_controller import AbrController

LIVE_LOOKAHEAD = 5  # segments the ABR rule plans ahead in a live stream


@dataclass(frozen=True, slots=True)
class PlaybackStats:
    """What one playback came to. `qoe` is the mean per-chunk score (edge/player/abr.py)."""

    rule: str
    chunks: int = 0
    startup_s: float = 0.0
    stall_s: float = 0.0
    stalls: int = 0  # chunks during whose download the buffer ran dry
    played_s: float = 0.0
    bitrate_bps: float = 0.0  # mean over chunks
    switches: int = 0
    qoe: float = 0.0


class PlaybackSession:
    """Chunk by chunk: `choose` the level of the next chunk, fetch it, then `add` it.

    Times are in seconds of media: a player running at `speed` × real time converts before
    calling. The buffer is accounted with `buffer_step`, the model MPC's look-ahead and the
    offline optimum use too."""

    def __init__(
        self,
        rule: str,
        bitrates_bps: Sequence[int],
        *,
        max_buffer_s: float = 30.0,
        started_s: float = 0.0,
        live: bool = False,
    ) -> None:
        self.abr = AbrController(rule, bitrates_bps, max_buffer_s=max_buffer_s)
        self.abr.live = live  # chunks fetched as they are made: planned as such
        self.bitrates_bps = self.abr.bitrates_bps
        self.max_buffer_s = max_buffer_s
        self.started_s = started_s
        self.buffer_s = 0.0
        self.playing = False
        self._chunks = 0
        self._startup_s = 0.0
        self._stall_s = 0.0
        self._stalls = 0
        self._played_s = 0.0
        self._bitrate_sum = 0.0
        self._switches = 0
        self._score = 0.0
        self._previous_bps: float | None = None

    def buffer_after(self, waited_s: float) -> float:
        """The buffer once `waited_s` more seconds of media have played (never below 0)."""
        if not self.playing or waited_s <= 0:
            return self.buffer_s
        return self.buffer_s - waited_s if self.buffer_s > waited_s else 0.0

    def choose(
        self, segment_s: float, *, remaining: int = 5, speed: float = 1.0, waited_s: float = 0.0
    ) -> int:
        """The level of the next chunk, `waited_s` after the last chunk's wait for room ended."""
        return self.abr.choose(
            self.buffer_after(waited_s), self.playing, segment_s, remaining=remaining, speed=speed
        )

    def add(
        self,
        level: int,
        segment_s: float,
        *,
        elapsed_s: float,
        now_s: float,
        took_s: float | None = None,
        size_bytes: int = 0,
    ) -> float:
        """A chunk arrived at `now_s`: `elapsed_s` seconds of media since the last chunk's wait
        for room ended (the download, and any retries and delay before it), `size_bytes` in
        `took_s` seconds for the ABR's estimate (none: a player measuring several chunks
        together calls `observe` for them). Returns how long to wait for buffer room before
        the next request."""
        if took_s is not None:
            self.abr.observe(took_s, size_bytes)
        stall, self.buffer_s, idle = buffer_step(
            self.buffer_s, self.playing, elapsed_s, segment_s, self.max_buffer_s
        )
        if self._chunks == 0:
            self._startup_s = now_s - self.started_s
        self.playing = True
        bitrate = self.bitrates_bps[level]
        self._score += chunk_score(bitrate, stall, self._previous_bps)
        if self._previous_bps is not None and bitrate != self._previous_bps:
            self._switches += 1
        self._previous_bps = bitrate
        self._bitrate_sum += bitrate
        self._stall_s += stall
        self._stalls += stall > 0
        self._played_s += segment_s
        self._chunks += 1
        return idle

    def observe(self, took_s: float, size_bytes: int) -> None:
        """A transfer measured apart from the chunks added: `size_bytes` in `took_s` seconds."""
        self.abr.observe(took_s, size_bytes)

    def seek(self) -> None:
        """A jump: the buffer is flushed and playback starts again with the next chunk."""
        self.buffer_s, self.playing = 0.0, False

    def stats(self) -> PlaybackStats:
        chunks = self._chunks
        if not chunks:
            return PlaybackStats(self.abr.rule)
        return PlaybackStats(
            rule=self.abr.rule,
            chunks=chunks,
            startup_s=self._startup_s,
            stall_s=self._stall_s,
            stalls=self._stalls,
            played_s=self._played_s,
            bitrate_bps=self._bitrate_sum / chunks,
            switches=self._switches,
            qoe=self._score / chunks,
        )
