"""Generate sample media with ffmpeg: a test pattern, one tone per audio language, WebVTT."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from transcoder.webvtt import format_timestamp

GREETINGS = {
    "eng": "Hello from mediacdn",
    "spa": "Hola desde mediacdn",
    "fra": "Bonjour de mediacdn",
    "deu": "Hallo von mediacdn",
}


@dataclass(frozen=True, slots=True)
class SampleMedia:
    video: Path
    subtitles: dict[str, Path]
    duration_s: float


def sample_argv(
    ffmpeg: str,
    out: Path,
    *,
    duration_s: float,
    width: int,
    height: int,
    fps: int,
    languages: tuple[str, ...],
    container: str = "mp4",
    x264_preset: str = "ultrafast",
    crf: int = 23,
) -> list[str]:
    argv = [ffmpeg, "-hide_banner", "-nostdin", "-y", "-v", "error"]
    argv += [
        "-f",
        "lavfi",
        "-i",
        f"testsrc2=size={width}x{height}:rate={fps}:duration={duration_s}",
    ]
    for i, _ in enumerate(languages):
        argv += [
            "-f",
            "lavfi",
            "-i",
            f"sine=frequency={440 * (i + 1)}:sample_rate=48000:duration={duration_s}",
        ]
    argv += ["-map", "0:v"]
    for i, _ in enumerate(languages):
        argv += ["-map", f"{i + 1}:a"]
    argv += [
        "-c:v",
        "libx264",
        "-preset",
        x264_preset,
        "-crf",
        str(crf),
        "-pix_fmt",
        "yuv420p",
        "-g",
        str(fps),
    ]
    if languages:
        argv += ["-c:a", "aac", "-b:a", "96k", "-ac", "2"]
    for i, lang in enumerate(languages):
        argv += [f"-metadata:s:a:{i}", f"language={lang}"]
    if container == "mp4":
        argv += ["-movflags", "+faststart"]
    argv += ["-t", f"{duration_s:g}", str(out)]
    return argv


def webvtt_text(language: str, duration_s: float, every_s: float = 2.0) -> str:
    greeting = GREETINGS.get(language, f"Subtitles ({language})")
    lines = ["WEBVTT", ""]
    t = 0.0
    n = 1
    while t < duration_s:
        end = min(duration_s, t + every_s * 0.8)
        lines += [
            str(n),
            f"{format_timestamp(t)} --> {format_timestamp(end)}",
            f"{greeting} #{n}",
            "",
        ]
        t += every_s
        n += 1
    return "\n".join(lines)


def generate_sample(
    out_dir: Path,
    *,
    ffmpeg: str,
    duration_s: float = 20.0,
    width: int = 1920,
    height: int = 1080,
    fps: int = 30,
    languages: tuple[str, ...] = ("eng", "spa"),
    subtitle_languages: tuple[str, ...] = ("eng", "spa"),
    name: str = "sample",
    x264_preset: str = "ultrafast",
    crf: int = 23,
) -> SampleMedia:
    out_dir.mkdir(parents=True, exist_ok=True)
    video = out_dir / f"{name}.mp4"
    argv = sample_argv(
        ffmpeg,
        video,
        duration_s=duration_s,
        width=width,
        height=height,
        fps=fps,
        languages=languages,
        x264_preset=x264_preset,
        crf=crf,
    )
    subprocess.run(argv, check=True, capture_output=True)
    subtitles = {}
    for lang in subtitle_languages:
        path = out_dir / f"{name}.{lang}.vtt"
        path.write_text(webvtt_text(lang, duration_s), encoding="utf-8")
        subtitles[lang] = path
    return SampleMedia(video=video, subtitles=subtitles, duration_s=duration_s)
