"""Probe media with ffprobe, always with a forced demuxer and only local-file protocols."""

from __future__ import annotations

import json
import math
import subprocess
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from transcoder.errors import InvalidMedia
from transcoder.languages import tagged_language
from transcoder.tools import tool_env

PROTOCOLS = "file,pipe"


@dataclass(frozen=True, slots=True)
class VideoStream:
    """`width`×`height`: the picture as shown (turned upright, square pixels);
    `frame_size`: the frames as ffmpeg decodes them (turned upright, pixels as stored)."""

    width: int
    height: int
    frame_rate: float
    codec: str
    duration_s: float | None
    frame_size: tuple[int, int] = (0, 0)
    index: int = 0  # among the file's video streams (ffmpeg's v:N), cover pictures included
    picture: bool = False  # a cover picture (attached_pic), not a video
    measured: bool = False  # duration and rate measured from its packets, none declared
    interlaced: bool = False  # its fields are stored interleaved (field order tt, bb, tb, bt)
    hdr: bool = False  # high dynamic range: PQ (HDR10, Dolby Vision) or HLG (phones) transfer
    # its frames come at uneven times on a clock much faster than their rate (an animated
    # GIF's 100 Hz): the encoder would take the clock's rate for the frames' (and signal an
    # H.264 level for it that devices may refuse)
    uneven: bool = False
    # Dolby Vision whose base layer is in Dolby's own colour space (profile 5; 10.0): shown
    # right only by a Dolby Vision decoder, green and purple by anything else
    dolby_vision_only: bool = False
    start_s: float | None = None  # its first frame's time on the file's clock

    @property
    def constant_rate(self) -> float | None:
        """The rate to encode at, made constant, where the stream's own would mislead the
        encoder (measured, none declared; or uneven): None to keep its own timing."""
        return self.frame_rate if (self.measured or self.uneven) and self.frame_rate else None


@dataclass(frozen=True, slots=True)
class AudioStream:
    codec: str
    channels: int
    language: str | None
    duration_s: float | None = None
    start_s: float | None = None  # its first sample's time on the file's clock


@dataclass(frozen=True, slots=True)
class SubtitleStream:
    codec: str
    language: str | None


@dataclass(frozen=True, slots=True)
class SourceInfo:
    demuxer: str
    duration_s: float
    video: VideoStream | None
    audio: tuple[AudioStream, ...]
    # the streams ffmpeg reads packets from, of any kind (not attachments: a Matroska file's
    # fonts, often dozens, are files in its header)
    streams: int = 0
    subtitles: tuple[SubtitleStream, ...] = ()
    # when the file's first stream starts, on its own clock: ffmpeg counts every output's time
    # from here (a transport stream's clock rarely starts at 0)
    start_s: float = 0.0

    def offset_s(self, start_s: float | None) -> float:
        """How long after the file's start a stream starting at `start_s` begins (0 where
        unknown)."""
        return max(0.0, start_s - self.start_s) if start_s is not None else 0.0


def rotation_deg(stream: dict[str, Any]) -> int:
    """The clockwise turn a player applies to show the frames (display matrix or the older
    `rotate` tag), as 0, 90, 180 or 270."""
    degrees: float = 0.0
    for side in stream.get("side_data_list") or []:
        if isinstance(side, dict) and "rotation" in side:
            degrees = _float_any(side.get("rotation"))
            break
    else:
        degrees = _float_any((stream.get("tags") or {}).get("rotate"))
    return round(degrees / 90) % 4 * 90


def _float_any(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


def _rate(text: str | None) -> float:
    try:
        value = Fraction(text or "0")
    except (ValueError, ZeroDivisionError):
        return 0.0
    return float(value)


def _time(value: Any) -> float | None:
    """A time on a file's clock (any sign); None where ffprobe says N/A."""
    try:
        result = float(value)
    except (TypeError, ValueError):
        return None
    return result if math.isfinite(result) else None


def _float(value: Any) -> float | None:
    """A positive number (a duration); None where ffprobe says N/A, 0 or less."""
    result = _time(value)
    return result if result is not None and result > 0 else None


def _clock(text: str) -> float | None:
    """Seconds from Matroska's `HH:MM:SS.nnnnnnnnn` DURATION tag."""
    hours, _, rest = text.strip().partition(":")
    minutes, _, seconds = rest.partition(":")
    try:
        return _float(int(hours) * 3600 + int(minutes) * 60 + float(seconds))
    except ValueError:
        return None


def stream_duration(s: dict[str, Any]) -> float | None:
    """How long one stream lasts: its own duration (MP4, MPEG-TS…), else the DURATION tag
    Matroska and WebM writers put on each track; None where neither says."""
    declared = _float(s.get("duration"))
    if declared is not None:
        return declared
    for key, value in (s.get("tags") or {}).items():
        if str(key).upper().startswith("DURATION") and isinstance(value, str):
            return _clock(value)
    return None


INTERLACED_ORDERS = frozenset({"tt", "bb", "tb", "bt"})
DOVI_RECORD = "DOVI configuration record"
HDR_TRANSFERS = frozenset({"smpte2084", "arib-std-b67"})
# a clock this much faster than the average rate, and faster than cameras film (a GIF's is
# 100 Hz, Matroska's 1 kHz): frames that come unevenly. A screen recording's 60 Hz is kept.
UNEVEN_CLOCK = 1.5
FAST_CLOCK = 100.0
STILL_CODECS = frozenset({"mjpeg", "png", "bmp", "gif", "webp", "tiff", "jpegls"})


def dolby_vision_only(stream: dict[str, Any]) -> bool:
    """Does the stream's Dolby Vision configuration say its base layer is not HDR10, HLG or
    SDR (profile 5, or profile 10 with signal compatibility 0)?"""
    for side in stream.get("side_data_list") or []:
        if not isinstance(side, dict) or side.get("side_data_type") != DOVI_RECORD:
            continue
        profile = _float_any(side.get("dv_profile"))
        compatibility = _float_any(side.get("dv_bl_signal_compatibility_id"))
        return profile == 5 or (profile == 10 and compatibility == 0)
    return False


def _video_stream(s: dict[str, Any], index: int, *, picture: bool = False) -> VideoStream:
    width, height = int(s.get("width") or 0), int(s.get("height") or 0)
    turned = rotation_deg(s) in (90, 270)
    if turned:  # ffmpeg turns the frames upright when decoding
        width, height = height, width
    frame_size = (width, height)
    # anamorphic sources: the displayed width (the height is kept)
    sar = s.get("sample_aspect_ratio") or "1:1"
    try:
        num, den = (int(x) for x in sar.split(":"))
        if num > 0 and den > 0 and num != den:
            if turned:  # the stored pixel's shape turns with the frame
                num, den = den, num
            width = round(width * num / den)
    except ValueError:
        pass
    average, clock = _rate(s.get("avg_frame_rate")), _rate(s.get("r_frame_rate"))
    rate = average or clock
    return VideoStream(
        width=width,
        height=height,
        frame_rate=rate,
        codec=str(s.get("codec_name") or "unknown"),
        duration_s=stream_duration(s),
        frame_size=frame_size,
        index=index,
        picture=picture,
        interlaced=s.get("field_order") in INTERLACED_ORDERS,
        hdr=s.get("color_transfer") in HDR_TRANSFERS,
        uneven=clock >= FAST_CLOCK and clock > UNEVEN_CLOCK * average > 0,
        dolby_vision_only=dolby_vision_only(s),
        start_s=_time(s.get("start_time")),
    )


def _main_video(videos: list[VideoStream]) -> VideoStream | None:
    """The video to encode: not a cover picture; a moving-picture codec over a still one
    (a Matroska file keeps its cover as an MJPEG track, often the first); then the
    largest picture; then the first."""
    candidates = [v for v in videos if not v.picture]
    if not candidates:
        return None
    return max(
        candidates,
        key=lambda v: (v.codec not in STILL_CODECS, v.width * v.height, -v.index),
    )


def parse_probe(demuxer: str, data: dict[str, Any]) -> SourceInfo:
    """Turn ffprobe's JSON (-show_format -show_streams) into a SourceInfo."""
    streams = data.get("streams") or []
    videos: list[VideoStream] = []
    audio: list[AudioStream] = []
    subtitles: list[SubtitleStream] = []
    for s in streams:
        kind = s.get("codec_type")
        disposition = s.get("disposition") or {}
        if kind == "video":  # ffmpeg's v:N counts cover pictures too
            picture = bool(disposition.get("attached_pic"))
            videos.append(_video_stream(s, len(videos), picture=picture))
        elif kind == "audio":
            audio.append(
                AudioStream(
                    codec=str(s.get("codec_name") or "unknown"),
                    channels=int(s.get("channels") or 0),
                    language=tagged_language(s.get("tags") or {}),
                    duration_s=stream_duration(s),
                    start_s=_time(s.get("start_time")),
                )
            )
        elif kind == "subtitle":
            subtitles.append(
                SubtitleStream(
                    codec=str(s.get("codec_name") or "unknown"),
                    language=tagged_language(s.get("tags") or {}),
                )
            )
    video = _main_video(videos)
    fmt = data.get("format") or {}
    duration = _float(fmt.get("duration")) or (video.duration_s if video else None) or 0.0
    return SourceInfo(
        demuxer=demuxer,
        duration_s=duration,
        video=video,
        audio=tuple(audio),
        streams=sum(1 for s in streams if s.get("codec_type") != "attachment"),
        subtitles=tuple(subtitles),
        start_s=_file_start(fmt, streams),
    )


def _file_start(fmt: dict[str, Any], streams: list[dict[str, Any]]) -> float:
    """The file's start (its earliest stream's, as ffmpeg takes it); 0 where none says."""
    declared = _time(fmt.get("start_time"))
    if declared is not None:
        return declared
    starts = [t for t in (_time(s.get("start_time")) for s in streams) if t is not None]
    return min(starts, default=0.0)


def run_ffprobe(
    argv: list[str], timeout_s: float, too_long: str
) -> subprocess.CompletedProcess[bytes]:
    """Run ffprobe in the tools' environment; InvalidMedia(`too_long`) past `timeout_s`."""
    try:
        return subprocess.run(
            argv, capture_output=True, timeout=timeout_s, check=False, env=tool_env()
        )
    except subprocess.TimeoutExpired as exc:
        raise InvalidMedia(too_long) from exc


def probe_file(ffprobe: str, path: Path, demuxer: str, *, timeout_s: float = 60) -> SourceInfo:
    argv = [
        ffprobe,
        "-v",
        "error",
        "-protocol_whitelist",
        PROTOCOLS,
        "-f",
        demuxer,
        "-print_format",
        "json",
        "-show_format",
        "-show_streams",
        str(path),
    ]
    done = run_ffprobe(argv, timeout_s, "probing took too long")
    if done.returncode != 0:
        reason = done.stderr.decode(errors="replace").strip().splitlines()
        raise InvalidMedia(f"not a readable {demuxer} file: {reason[-1] if reason else 'error'}")
    try:
        data = json.loads(done.stdout)
    except json.JSONDecodeError as exc:
        raise InvalidMedia("ffprobe returned no description") from exc
    return parse_probe(demuxer, data)


def require_video(info: SourceInfo) -> VideoStream:
    """The checks every source must pass before any encode."""
    if info.video is None:
        raise InvalidMedia("the file has no video stream")
    if info.video.width < 16 or info.video.height < 16:
        raise InvalidMedia(f"video is too small ({info.video.width}x{info.video.height})")
    if info.duration_s <= 0:
        raise InvalidMedia("the video has no duration")
    if info.video.frame_rate <= 0 or info.video.frame_rate > 240:
        raise InvalidMedia(f"unusable frame rate {info.video.frame_rate}")
    if info.video.dolby_vision_only:
        raise InvalidMedia(
            "the video is Dolby Vision in its own colour space (profile 5 or 10.0), which only "
            "Dolby Vision players show right: upload its HDR10, HLG or SDR version"
        )
    return info.video
