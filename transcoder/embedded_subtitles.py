"""The source's own text subtitle tracks as WebVTT files, to publish beside uploaded ones.

One ffmpeg pass demuxes the source (nothing is decoded but the subtitles) and writes each text
track (SubRip, ASS/SSA, MP4 timed text, WebVTT and the other text formats ffmpeg reads)
as WebVTT, timed like the encode's output (both start where the source starts). Bitmap
subtitles (DVD, Blu-ray PGS, DVB) are pictures, not text, and are left out. A track that cannot
be read is left out too, with a warning: the video is published without it rather than not at
all."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path

from transcoder.command import InputFile
from transcoder.errors import InvalidMedia, TranscodeError
from transcoder.probe import PROTOCOLS, SourceInfo
from transcoder.runner import run_ffmpeg

log = logging.getLogger("mediacdn.worker")

TEXT_CODECS = frozenset(
    {
        "subrip",
        "srt",
        "ass",
        "ssa",
        "mov_text",
        "webvtt",
        "text",
        "microdvd",
        "subviewer",
        "subviewer1",
        "sami",
        "realtext",
        "mpl2",
        "pjs",
        "vplayer",
        "jacosub",
        "stl",
    }
)


@dataclass(frozen=True, slots=True)
class EmbeddedTrack:
    """Subtitle stream `index` of the source (counted among its subtitle streams only)."""

    index: int
    language: str


def text_tracks(source: SourceInfo) -> list[EmbeddedTrack]:
    return [
        EmbeddedTrack(i, s.language or "und")
        for i, s in enumerate(source.subtitles)
        if s.codec in TEXT_CODECS
    ]


def vtt_path(out_dir: Path, track: EmbeddedTrack) -> Path:
    return out_dir / f"{track.index}.vtt"


def extract_argv(
    ffmpeg: str, source: InputFile, tracks: list[EmbeddedTrack], out_dir: Path, max_bytes: int
) -> list[str]:
    """Pure: one demux of `source`, each track to `out_dir/<index>.vtt`, each file stopped
    just past `max_bytes` (so the disk it may take is bounded, and a longer one is seen to be
    too long and refused)."""
    argv = [ffmpeg, "-hide_banner", "-nostdin", "-y", "-v", "error"]
    argv += ["-protocol_whitelist", PROTOCOLS, "-f", source.demuxer, "-i", str(source.path)]
    for track in tracks:
        argv += ["-map", f"0:s:{track.index}", "-c:s", "webvtt", "-fs", str(max_bytes + 1)]
        argv += ["-f", "webvtt", str(vtt_path(out_dir, track))]
    return [*argv, "-progress", "pipe:1", "-nostats"]


def extract_text_subtitles(
    ffmpeg: str,
    source: InputFile,
    info: SourceInfo,
    out_dir: Path,
    *,
    max_bytes: int,
    timeout_s: float,
    memory_mb: int | None = None,
    cancel: threading.Event | None = None,
) -> list[tuple[str, Path]]:
    """(language, WebVTT file) for each text track that could be read, in the source's order.
    If the pass over every track fails, each is tried alone so that one bad track loses only
    itself."""
    tracks = text_tracks(info)
    if not tracks:
        return []
    out_dir.mkdir(parents=True, exist_ok=True)

    def run(chosen: list[EmbeddedTrack]) -> bool:
        argv = extract_argv(ffmpeg, source, chosen, out_dir, max_bytes)
        try:
            run_ffmpeg(
                argv,
                duration_s=info.duration_s,
                cancel=cancel,
                timeout_s=timeout_s,
                memory_mb=memory_mb,
            )
        except (TranscodeError, InvalidMedia) as exc:
            log.warning("subtitle tracks %s: %s", [t.index for t in chosen], exc)
            return False
        return True

    read = tracks if run(tracks) else [t for t in tracks if len(tracks) > 1 and run([t])]
    found = []
    for track in tracks:
        path = vtt_path(out_dir, track)
        if track in read and path.is_file():
            found.append((track.language, path))
        else:  # what a failed pass left is not a track
            path.unlink(missing_ok=True)
    return found
