"""Picture against sound: a source with a flash and a beep at one moment, each of its streams
starting when asked, and where a rendition shows the flash or plays the beep."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from transcoder.tools import tool_env

EVENT_S = 4.0  # the flash and the beep, on the source's clock


def flash_and_beep(
    ffmpeg: str, out: Path, picture_at: float, sound_at: float, length_s: float = 8.0
) -> Path:
    """White from black and a tone from silence at EVENT_S; the picture starts at
    `picture_at` and the sound at `sound_at` (both end at `length_s`); the container by
    `out`'s suffix."""
    argv = [
        "-itsoffset", str(picture_at), "-f", "lavfi", "-i",
        f"color=c=white:s=320x240:r=25:d={length_s - picture_at},"
        f"fade=in:st={EVENT_S - picture_at}:d=0.04",
        "-itsoffset", str(sound_at), "-f", "lavfi", "-i",
        f"sine=f=440:d={length_s - sound_at},afade=in:st={EVENT_S - sound_at}:d=0.005",
        "-map", "0", "-map", "1", "-c:v", "libx264", "-preset", "ultrafast", "-g", "25",
        "-c:a", "aac",
    ]  # fmt: skip
    subprocess.run(
        [ffmpeg, "-v", "error", "-y", *argv, str(out)], check=True, timeout=120, env=tool_env()
    )
    return out


def _filtered(ffmpeg: str, media: Path | str, kind: str, graph: str) -> str:
    argv = [ffmpeg, "-hide_banner", "-i", str(media), kind, graph, "-f", "null", "-"]
    return subprocess.run(
        argv, capture_output=True, text=True, timeout=60, env=tool_env(), check=False
    ).stderr


def flash_s(ffmpeg: str, video: Path | str) -> float:
    """When a black picture first turns white, on the media's own timestamps (`video`: a
    file, or a media playlist's URL)."""
    frames = re.findall(
        r"pts_time:\s*([\d.]+).*?mean:\[(\d+)", _filtered(ffmpeg, video, "-vf", "showinfo")
    )
    return next(float(t) for t, mean in frames if int(mean) > 128)


def beep_s(ffmpeg: str, audio: Path | str) -> float:
    """When silence first turns into a tone, on the media's own timestamps (`audio`: a file,
    or a media playlist's URL)."""
    found = _filtered(ffmpeg, audio, "-af", "silencedetect=n=-40dB:d=0.05")
    return float(re.findall(r"silence_end: ([\d.]+)", found)[0])


def mean_volume_db(ffmpeg: str, audio: Path | str) -> float:
    """How loud the sound is on average, in dB (silence: about -91)."""
    found = _filtered(ffmpeg, audio, "-af", "volumedetect")
    return float(re.findall(r"mean_volume: (-?[\d.]+) dB", found)[0])
