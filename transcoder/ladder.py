"""Ladder planning (pure): which renditions to encode for a source."""

from __future__ import annotations

import math
from dataclasses import dataclass

from transcoder.probe import VideoStream


@dataclass(frozen=True, slots=True)
class Rung:
    height: int
    bitrate_bps: int


@dataclass(frozen=True, slots=True)
class LadderPolicy:
    rungs: tuple[Rung, ...] = (
        Rung(1080, 5_000_000),
        Rung(720, 2_800_000),
        Rung(480, 1_400_000),
        Rung(360, 800_000),
    )
    audio_bitrate_bps: int = 128_000
    maxrate_ratio: float = 1.07
    bufsize_ratio: float = 1.5

    @classmethod
    def parse(cls, text: str, *, audio_bitrate_bps: int = 128_000) -> LadderPolicy:
        """`"1080:5000,720:2800"` (height:kbps, best first)."""
        rungs = []
        for item in text.split(","):
            height, _, kbps = item.strip().partition(":")
            if not height.isdigit() or not kbps.isdigit() or int(height) < 16:
                raise ValueError(f"bad ladder rung {item!r} (want height:kbps, e.g. 720:2800)")
            rungs.append(Rung(int(height), int(kbps) * 1000))
        if not rungs:
            raise ValueError("the ladder needs at least one rung")
        ordered = tuple(sorted(rungs, key=lambda r: r.height, reverse=True))
        return cls(rungs=ordered, audio_bitrate_bps=audio_bitrate_bps)


@dataclass(frozen=True, slots=True)
class PlannedRendition:
    name: str
    width: int
    height: int
    bitrate_bps: int
    maxrate_bps: int
    bufsize_bits: int


def _even(value: float) -> int:
    return max(2, 2 * round(value / 2))


def rung_size(short: int, width: int, height: int) -> tuple[int, int]:
    """The size of a rendition whose shorter side is `short` (a landscape picture's height,
    an upright one's width) of a `width`×`height` picture (as it is shown): its shape kept,
    both sides even."""
    short = _even(short)
    aspect = width / height
    return (_even(short * aspect), short) if width >= height else (short, _even(short / aspect))


def plan_ladder(source: VideoStream, policy: LadderPolicy) -> tuple[PlannedRendition, ...]:
    """Renditions for `source`: never upscale, keep the aspect ratio, even dimensions.

    A rung's height names the short side ("1080p"), so portrait video gets the same ladder.
    """
    short_side = min(source.width, source.height)
    fitting = [r for r in policy.rungs if r.height <= short_side]
    if not fitting:
        # Smaller than every rung: one rendition at the source's own size (an odd side made
        # even by taking a line off, never by adding one), lowest bitrate.
        fitting = [Rung(max(2, short_side - short_side % 2), policy.rungs[-1].bitrate_bps)]
    planned = []
    for rung in fitting:
        width, height = rung_size(rung.height, source.width, source.height)
        planned.append(
            PlannedRendition(
                name=f"{rung.height}p",
                width=width,
                height=height,
                bitrate_bps=rung.bitrate_bps,
                maxrate_bps=math.ceil(rung.bitrate_bps * policy.maxrate_ratio),
                bufsize_bits=math.ceil(rung.bitrate_bps * policy.bufsize_ratio),
            )
        )
    return tuple(planned)
