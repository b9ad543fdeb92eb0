"""What a source may cost before it is encoded, and what an encode may spend.

A file can cost far more than it weighs: a few megabytes that decode to ten hours of 1080p60, or
frames of 16000×16000. Sources are checked on what ffprobe declares (duration, frame size and
pixel count, frame rate, stream count) before any encode; the encode then runs under a memory
limit and a wall-clock budget proportional to the declared duration, and is stopped if it
writes more media than the source declared (a container that lies about its length)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from transcoder.errors import InvalidMedia
from transcoder.probe import SourceInfo


def default_memory_mb() -> int:
    """Address space one ffmpeg may map: 3 GiB plus 256 MiB per core (x264 runs a thread
    pool per rung, each thread with its stack and frames; a four-rung 1080p encode maps about
    2 GiB on two cores)."""
    return 3072 + 256 * (os.cpu_count() or 1)


class LimitsExceeded(InvalidMedia):
    """The source is over a configured limit; retrying will not help."""

    code = "limits_exceeded"


@dataclass(frozen=True, slots=True)
class MediaLimits:
    max_duration_s: float = 6 * 3600.0
    max_side_px: int = 8192  # either dimension (8K DCI is 8192×4320)
    max_pixels: int = 8192 * 4320
    max_frame_rate: float = 120.0
    max_streams: int = 64
    memory_mb: int = field(default_factory=lambda: default_memory_mb())
    budget_base_s: float = 300.0  # wall clock: this, plus budget_per_source_s per second
    budget_per_source_s: float = 10.0
    overrun_factor: float = 1.25  # output past this share of the declared duration: stop

    def check(self, source: SourceInfo) -> None:
        """Raise `LimitsExceeded` for a source over any limit."""
        if source.duration_s > self.max_duration_s:
            raise LimitsExceeded(
                f"the video lasts {source.duration_s / 3600:.1f} h; the limit is "
                f"{self.max_duration_s / 3600:g} h"
            )
        if source.streams > self.max_streams:
            raise LimitsExceeded(
                f"the file has {source.streams} streams; the limit is {self.max_streams}"
            )
        video = source.video
        if video is None:
            return
        if max(video.width, video.height) > self.max_side_px:
            raise LimitsExceeded(
                f"frames of {video.width}x{video.height}; the limit is {self.max_side_px} "
                "pixels a side"
            )
        if video.width * video.height > self.max_pixels:
            raise LimitsExceeded(
                f"frames of {video.width * video.height / 1e6:.1f} megapixels; the limit is "
                f"{self.max_pixels / 1e6:.1f}"
            )
        if video.frame_rate > self.max_frame_rate:
            raise LimitsExceeded(
                f"{video.frame_rate:g} frames a second; the limit is {self.max_frame_rate:g}"
            )

    def budget_s(self, duration_s: float) -> float:
        """How long an encode of `duration_s` seconds of media may run."""
        return self.budget_base_s + self.budget_per_source_s * max(0.0, duration_s)

    def max_output_s(self, duration_s: float) -> float:
        """How much media an encode may write before it is taken for a lying container."""
        return duration_s * self.overrun_factor + 30.0
