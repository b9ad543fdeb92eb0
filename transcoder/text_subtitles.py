"""Text subtitles as WebVTT files: the source's own tracks, and uploaded SubRip or ASS files.

One ffmpeg pass demuxes the source (nothing is decoded but the subtitles) and writes each text
track (SubRip, ASS/SSA, MP4 timed text, WebVTT and the other text formats ffmpeg reads)
as WebVTT, timed like the encode's output (both start where the source starts). Bitmap
subtitles (DVD, Blu-ray PGS, DVB) are pictures, not text, and are left out. A track that cannot
be read is left out too, with a warning: the video is published without it rather than not at
all. An uploaded file that is not WebVTT is converted the same way; one that cannot be read
fails the upload's transcode, as a broken WebVTT file does."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from transcoder.command import InputFile
from transcoder.errors import InvalidMedia, TranscodeError
from transcoder.probe import PROTOCOLS, SourceInfo
from transcoder.runner import run_ffmpeg
from transcoder.sniff import sniff_subtitles

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


MAX_TRACKS: Final = 16
FORMAT_NAMES = {"srt": "SubRip", "ass": "ASS/SSA"}


@dataclass(frozen=True, slots=True)
class EmbeddedTrack:
    """Subtitle stream `index` of the source (counted among its subtitle streams only)."""

    index: int
    language: str


def text_tracks(source: SourceInfo) -> list[EmbeddedTrack]:
    """The source's text tracks, the first MAX_TRACKS of them (what they may take on disk
    while the video is encoded is bounded: MAX_TRACKS files of at most the size limit)."""
    tracks = [
        EmbeddedTrack(i, s.language or "und")
        for i, s in enumerate(source.subtitles)
        if s.codec in TEXT_CODECS
    ]
    if len(tracks) > MAX_TRACKS:
        log.warning("%d text subtitle tracks: the first %d are kept", len(tracks), MAX_TRACKS)
    return tracks[:MAX_TRACKS]


def vtt_path(out_dir: Path, track: EmbeddedTrack) -> Path:
    return out_dir / f"{track.index}.vtt"


def extract_argv(
    ffmpeg: str,
    source: InputFile,
    tracks: list[EmbeddedTrack],
    out_dir: Path,
    max_bytes: int,
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
    """(language, WebVTT file) for each text track of the source that could be read, in the
    source's order. If the pass over every track fails, each is tried alone so that one bad
    track loses only itself."""
    tracks = text_tracks(info)
    if not tracks:
        return []
    out_dir.mkdir(parents=True, exist_ok=True)

    def run(chosen: list[EmbeddedTrack]) -> bool:
        try:
            _run(ffmpeg, source, chosen, out_dir, max_bytes, timeout_s, memory_mb, cancel)
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


def _run(
    ffmpeg: str,
    source: InputFile,
    tracks: list[EmbeddedTrack],
    out_dir: Path,
    max_bytes: int,
    timeout_s: float,
    memory_mb: int | None,
    cancel: threading.Event | None,
) -> None:
    argv = extract_argv(ffmpeg, source, tracks, out_dir, max_bytes)
    run_ffmpeg(argv, duration_s=0, cancel=cancel, timeout_s=timeout_s, memory_mb=memory_mb)


def convert_side_subtitles(
    ffmpeg: str,
    files: list[tuple[str, Path]],
    out_dir: Path,
    *,
    max_bytes: int,
    timeout_s: float,
    cancel: threading.Event | None = None,
) -> list[tuple[str, Path]]:
    """The uploaded subtitle files with each SubRip or ASS one replaced by its WebVTT; WebVTT
    and unknown files as they are (the plan says what is wrong with those). A file that is
    not UTF-8 is read as Windows-1252, which most such SubRip files are."""
    converted = []
    for n, (language, path) in enumerate(files):
        data = b"" if path.stat().st_size > max_bytes else path.read_bytes()
        kind = sniff_subtitles(data[:4096])
        if kind is None or kind == "webvtt":  # as it is (too large: the plan says so)
            converted.append((language, path))
            continue
        folder = out_dir / f"side-{n}"
        folder.mkdir(parents=True, exist_ok=True)
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:  # converted here: the bundled ffmpeg's iconv cannot
            path = folder / f"utf-8.{kind}"
            path.write_text(data.decode("cp1252", errors="replace"), encoding="utf-8")
        track = EmbeddedTrack(0, language)
        try:
            _run(ffmpeg, InputFile(path, kind), [track], folder, max_bytes, timeout_s, None, cancel)
        except TranscodeError as exc:
            reason = f"subtitles {language!r} could not be read as {FORMAT_NAMES[kind]}"
            raise InvalidMedia(reason) from exc
        converted.append((language, vtt_path(folder, track)))
    return converted
