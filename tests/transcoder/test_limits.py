"""Media limits and encode budgets: what ffprobe declares is checked before encoding; a real
ffmpeg is stopped when it overruns its budget, its memory or its declared length, and dies
with its process group when cancelled."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from transcoder.limits import LimitsExceeded, MediaLimits
from transcoder.probe import AudioStream, SourceInfo, VideoStream, parse_probe
from transcoder.runner import Cancelled, run_ffmpeg

Probed = dict[str, Any]  # one stream of ffprobe's JSON


def source(
    width: int = 1920,
    height: int = 1080,
    rate: float = 30.0,
    duration: float = 60.0,
    streams: int = 2,
) -> SourceInfo:
    video = VideoStream(width, height, rate, "h264", duration, (width, height))
    return SourceInfo("mov", duration, video, (AudioStream("aac", 2, None),), streams)


@pytest.mark.parametrize(
    ("info", "words"),
    [
        (source(duration=10 * 3600), "10.0 h"),
        (source(16000, 16000), "16000x16000"),
        (source(8000, 8000), "megapixels"),
        (source(rate=240), "240 frames"),
        (source(streams=80), "80 streams"),
    ],
)
def test_sources_over_a_limit_are_refused(info: SourceInfo, words: str) -> None:
    with pytest.raises(LimitsExceeded, match=words) as caught:
        MediaLimits().check(info)
    assert caught.value.code == "limits_exceeded"


def test_sources_within_the_limits_pass() -> None:
    MediaLimits().check(source())
    MediaLimits().check(source(1080, 1920, 60.0, 5 * 3600))
    MediaLimits().check(source(8192, 4320))


def test_budgets_grow_with_the_declared_duration() -> None:
    limits = MediaLimits()
    assert limits.budget_s(0) == 300
    assert limits.budget_s(600) == 300 + 6000
    assert limits.max_output_s(100) == pytest.approx(155)


def _stream(rotation: int | None = None, sar: str = "1:1", tag: str | None = None) -> Probed:
    stream: Probed = {
        "codec_type": "video",
        "width": 1920,
        "height": 1080,
        "avg_frame_rate": "30/1",
        "sample_aspect_ratio": sar,
    }
    if rotation is not None:
        stream["side_data_list"] = [{"side_data_type": "Display Matrix", "rotation": rotation}]
    if tag is not None:
        stream["tags"] = {"rotate": tag}
    return stream


@pytest.mark.parametrize(
    ("stream", "shown", "frames"),
    [
        (_stream(), (1920, 1080), (1920, 1080)),
        (_stream(rotation=-90), (1080, 1920), (1080, 1920)),
        (_stream(rotation=90), (1080, 1920), (1080, 1920)),
        (_stream(rotation=180), (1920, 1080), (1920, 1080)),
        (_stream(tag="270"), (1080, 1920), (1080, 1920)),
        (_stream(sar="4:3"), (2560, 1080), (1920, 1080)),
        (_stream(rotation=90, sar="4:3"), (810, 1920), (1080, 1920)),
    ],
)
def test_probe_reports_the_picture_as_shown(
    stream: Probed, shown: tuple[int, int], frames: tuple[int, int]
) -> None:
    info = parse_probe("mov", {"streams": [stream, {"codec_type": "data"}], "format": {}})
    assert info.video is not None
    assert (info.video.width, info.video.height) == shown
    assert info.video.frame_size == frames
    assert info.streams == 2


def _argv(ffmpeg: str, seconds: float, marker: Path, *, realtime: bool = False) -> list[str]:
    pace = ["-re"] if realtime else []
    return [
        ffmpeg, "-v", "error", *pace, "-f", "lavfi", "-i", f"testsrc=s=320x240:r=25:d={seconds}",
        "-progress", "pipe:1", "-nostats", "-c:v", "libx264", "-preset", "ultrafast",
        "-f", "mp4", "-y", str(marker),
    ]  # fmt: skip


def _running(marker: Path) -> bool:
    """Is any process's command line naming `marker` still alive?"""
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                continue
            if str(marker).encode() in cmdline:
                return True
    return False


def test_an_encode_that_writes_more_than_declared_is_stopped(ffmpeg: str, tmp_path: Path) -> None:
    started = time.monotonic()
    with pytest.raises(LimitsExceeded, match="runs past"):
        run_ffmpeg(_argv(ffmpeg, 600, tmp_path / "long.mp4"), duration_s=2, max_output_s=3)
    assert time.monotonic() - started < 20


def test_an_encode_over_its_wall_clock_budget_is_stopped(ffmpeg: str, tmp_path: Path) -> None:
    marker = tmp_path / "slow.mp4"
    started = time.monotonic()
    with pytest.raises(LimitsExceeded, match="budget"):
        run_ffmpeg(_argv(ffmpeg, 60, marker, realtime=True), duration_s=60, timeout_s=1.5)
    assert time.monotonic() - started < 10
    assert not _running(marker)


def test_an_encode_over_its_memory_is_refused_for_good(ffmpeg: str, tmp_path: Path) -> None:
    argv = _argv(ffmpeg, 2, tmp_path / "big.mp4")
    argv[argv.index("testsrc=s=320x240:r=25:d=2")] = "testsrc=s=3840x2160:r=25:d=2"
    with pytest.raises(LimitsExceeded, match="memory"):
        run_ffmpeg(argv, duration_s=2, memory_mb=64)
    run_ffmpeg(_argv(ffmpeg, 2, tmp_path / "small.mp4"), duration_s=2, memory_mb=4096)


def test_a_cancelled_encode_leaves_no_process(ffmpeg: str, tmp_path: Path) -> None:
    marker = tmp_path / "cancelled.mp4"
    cancel = threading.Event()
    threading.Timer(1.0, cancel.set).start()
    with pytest.raises(Cancelled):
        run_ffmpeg(_argv(ffmpeg, 60, marker, realtime=True), duration_s=60, cancel=cancel)
    assert not _running(marker)
