"""WebVTT parsing and segmenting for HLS subtitle renditions (pure)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from transcoder.errors import InvalidMedia

_TIMING = re.compile(
    r"^\s*(?P<start>(?:\d+:)?\d{1,2}:\d{2}[.,]\d{3})\s+-->\s+"
    r"(?P<end>(?:\d+:)?\d{1,2}:\d{2}[.,]\d{3})(?P<settings>.*)$"
)


@dataclass(frozen=True, slots=True)
class Cue:
    start_s: float
    end_s: float
    text: str
    settings: str = ""


def parse_timestamp(text: str) -> float:
    parts = text.replace(",", ".").split(":")
    seconds = float(parts[-1])
    minutes = int(parts[-2])
    hours = int(parts[-3]) if len(parts) == 3 else 0
    if minutes > 59 or seconds >= 60:
        raise ValueError(text)
    return hours * 3600 + minutes * 60 + seconds


def format_timestamp(seconds: float) -> str:
    millis = round(seconds * 1000)
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}.{millis:03d}"


def parse_webvtt(text: str) -> list[Cue]:
    """Cues of a WebVTT file (SubRip's comma decimals are tolerated). Raises InvalidMedia."""
    text = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    blocks = [b for b in re.split(r"\n{2,}", text.strip()) if b.strip()]
    if not blocks or not blocks[0].startswith("WEBVTT"):
        raise InvalidMedia("subtitles must be WebVTT (starting with 'WEBVTT'), SubRip or ASS/SSA")
    cues: list[Cue] = []
    for block in blocks[1:]:
        lines = block.split("\n")
        if lines[0].startswith(("NOTE", "STYLE", "REGION")):
            continue
        timing_at = 0 if "-->" in lines[0] else 1
        if timing_at >= len(lines):
            raise InvalidMedia(f"subtitle cue without timing: {lines[0][:80]!r}")
        match = _TIMING.match(lines[timing_at])
        if match is None:
            raise InvalidMedia(f"bad subtitle timing line: {lines[timing_at][:80]!r}")
        try:
            start = parse_timestamp(match["start"])
            end = parse_timestamp(match["end"])
        except ValueError as exc:
            raise InvalidMedia(f"bad subtitle timestamp: {lines[timing_at][:80]!r}") from exc
        if end <= start:
            raise InvalidMedia(f"subtitle cue ends before it starts: {lines[timing_at][:80]!r}")
        body = "\n".join(lines[timing_at + 1 :]).strip()
        cues.append(Cue(start, end, body, match["settings"].strip()))
    return cues


def segment_webvtt(cues: list[Cue], durations_s: list[float]) -> list[str]:
    """One WebVTT document per segment; a cue spanning a boundary is repeated in each
    segment it overlaps, as RFC 8216 §3.5 allows (players de-duplicate identical cues)."""
    segments: list[str] = []
    start = 0.0
    for duration in durations_s:
        end = start + duration
        lines = ["WEBVTT", "X-TIMESTAMP-MAP=MPEGTS:0,LOCAL:00:00:00.000", ""]
        for cue in cues:
            if cue.start_s < end and cue.end_s > start:
                timing = f"{format_timestamp(cue.start_s)} --> {format_timestamp(cue.end_s)}"
                if cue.settings:
                    timing += " " + cue.settings
                lines += [timing, cue.text, ""]
        segments.append("\n".join(lines) + "\n")
        start = end
    return segments
