"""How long a source's video lasts, and at what rate, when its container does not say.

A WebM a browser's MediaRecorder writes, a Matroska file written to a pipe, a recording its
encoder never finished: their headers carry no duration (so ffprobe has no average frame rate
either), since the file was written front to back without going back to the header. One
ffprobe pass over the video's packets (demuxed, not decoded) tells both."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from transcoder.probe import PROTOCOLS, SourceInfo, run_ffprobe


@dataclass(frozen=True, slots=True)
class Timeline:
    frames: int
    duration_s: float  # the first frame's start to the last frame's end
    frame_rate: float  # frames a second between the first and the last frame's start


def timeline_of(lines: Iterable[str]) -> Timeline:
    """Pure: from ffprobe's `pts_time,duration_time` lines, one a packet (N/A where unknown)."""
    frames, first, last, last_length = 0, float("inf"), float("-inf"), 0.0
    for line in lines:
        pts_text, _, length_text = line.strip().partition(",")
        try:
            pts = float(pts_text)
        except ValueError:
            continue
        frames += 1
        first = min(first, pts)
        if pts >= last:
            last = pts
            try:
                last_length = max(0.0, float(length_text))
            except ValueError:
                last_length = 0.0
    if frames == 0:
        return Timeline(0, 0.0, 0.0)
    span = last - first
    rate = (frames - 1) / span if span > 0 else 0.0
    if last_length <= 0 and rate > 0:  # the last frame lasts as long as a frame does
        last_length = 1 / rate
    return Timeline(frames, span + last_length, rate)


def measure_timeline(
    ffprobe: str, path: Path, demuxer: str, video_index: int, *, timeout_s: float = 120
) -> Timeline:
    argv = [
        ffprobe, "-v", "error", "-protocol_whitelist", PROTOCOLS, "-f", demuxer,
        "-select_streams", f"v:{video_index}", "-show_entries", "packet=pts_time,duration_time",
        "-of", "csv=p=0", str(path),
    ]  # fmt: skip
    done = run_ffprobe(argv, timeout_s, "measuring the video's length took too long")
    return timeline_of(done.stdout.decode(errors="replace").splitlines())


def with_timeline(info: SourceInfo, timeline: Timeline) -> SourceInfo:
    """`info` with the measured duration and frame rate of its video (it declared neither)."""
    if info.video is None or timeline.frames == 0:
        return info
    video = dataclasses.replace(
        info.video,
        duration_s=timeline.duration_s,
        frame_rate=timeline.frame_rate,
        measured=True,
    )
    return dataclasses.replace(info, video=video, duration_s=timeline.duration_s)
