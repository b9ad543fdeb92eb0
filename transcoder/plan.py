"""Inspect a job's input files and plan its encode; every rejection happens here, before the
encode (uploaded SubRip and ASS subtitles are WebVTT by then: transcoder/text_subtitles.py)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path

from transcoder.command import AudioOutput, InputFile
from transcoder.errors import InvalidMedia
from transcoder.ladder import LadderPolicy, PlannedRendition, plan_ladder
from transcoder.probe import SourceInfo, VideoStream, probe_file, require_video
from transcoder.sniff import sniff_audio_demuxer, sniff_demuxer
from transcoder.thumbnails import ThumbnailPlan, plan_thumbnails
from transcoder.timeline import measure_timeline, with_timeline
from transcoder.webvtt import Cue, parse_webvtt

log = logging.getLogger("mediacdn.worker")

SNIFF_BYTES = 4096
MAX_SUBTITLE_BYTES = 8 << 20


@dataclass(frozen=True, slots=True)
class LocalInputs:
    """The job's files on local disk: the source, side audio tracks and subtitles by language."""

    source: Path
    audio: tuple[tuple[str, Path], ...] = ()
    subtitles: tuple[tuple[str, Path], ...] = ()


@dataclass(frozen=True, slots=True)
class SubtitleTrack:
    name: str
    language: str
    cues: tuple[Cue, ...]


@dataclass(frozen=True, slots=True)
class EncodePlan:
    source: SourceInfo
    inputs: tuple[InputFile, ...]
    renditions: tuple[PlannedRendition, ...]
    audio: tuple[AudioOutput, ...]
    subtitles: tuple[SubtitleTrack, ...]

    @property
    def video(self) -> VideoStream:
        """The video encoded (plan_encode refuses a source without one)."""
        assert self.source.video is not None
        return self.source.video

    @property
    def video_lead_s(self) -> float:
        """How long after the file's start the video's first picture comes, where that is
        more than half a frame (a recording whose sound started first): that picture is shown
        from the start, so that every picture keeps its time against the sound."""
        video = self.video
        lead = self.source.offset_s(video.start_s)
        return lead if lead > 0.5 / max(video.frame_rate, 1.0) else 0.0

    @property
    def video_end_s(self) -> float:
        """When the video ends, counted from the file's start: its start and its length (the
        container's where its stream does not say), never later than the container's end,
        whatever a stream's tag claims."""
        video, source = self.video, self.source
        return _end(source.offset_s(video.start_s), video.duration_s, source.duration_s)

    @property
    def expected_duration_s(self) -> float:
        """How long every rendition lasts: until the last of the source's own video and audio
        streams ends, counted from the file's start. Each output covers all of it, so that
        each keeps its time against the others: the video held on its first picture before it
        starts and on its last after it ends, the audio silent before and after it plays, and
        side audio tracks cut to it (a player ends with the first playlist that ends, and
        plays every one from its start)."""
        source = self.source
        ends = [
            _end(source.offset_s(a.start_s), a.duration_s, source.duration_s) for a in source.audio
        ]
        return max([self.video_end_s, *ends])

    @property
    def video_pad_s(self) -> float:
        """How much sooner than the others the video ends, where that is more than a frame."""
        short = self.expected_duration_s - self.video_end_s
        rate = self.video.frame_rate
        return short if short > max(0.1, 1 / rate if rate > 0 else 0.0) else 0.0


def _end(offset_s: float, duration_s: float | None, whole_s: float) -> float:
    """When a stream that starts `offset_s` into the file ends: at most when the whole file
    does (`whole_s`, 0 where unknown)."""
    if duration_s is None:
        return whole_s
    end = offset_s + duration_s
    return min(end, whole_s) if whole_s > 0 else end


def _head(path: Path) -> bytes:
    with path.open("rb") as f:
        return f.read(SNIFF_BYTES)


def _unique(name: str, taken: set[str]) -> str:
    candidate, n = name, 2
    while candidate in taken:
        candidate, n = f"{name}-{n}", n + 1
    taken.add(candidate)
    return candidate


def _subtitle_track(language: str, path: Path, taken: set[str]) -> SubtitleTrack:
    if path.stat().st_size > MAX_SUBTITLE_BYTES:
        raise InvalidMedia(f"subtitles {language!r} are larger than 8 MiB")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidMedia(f"subtitles {language!r} are not UTF-8 text") from exc
    cues = tuple(parse_webvtt(text))
    return SubtitleTrack(_unique(f"subs-{language}", taken), language, cues)


def with_embedded_subtitles(plan: EncodePlan, found: list[tuple[str, Path]]) -> EncodePlan:
    """The plan with the source's own subtitle tracks (WebVTT files by language) first, then
    the uploaded ones. One that does not parse, or has no cue, is left out with a warning."""
    taken = {r.name for r in plan.renditions} | {a.name for a in plan.audio}
    taken |= {s.name for s in plan.subtitles}
    tracks = []
    for language, path in found:
        try:
            track = _subtitle_track(language, path, taken)
        except InvalidMedia as exc:
            log.warning("a subtitle track of the source is left out: %s", exc.reason)
            continue
        if track.cues:
            tracks.append(track)
    return replace(plan, subtitles=(*tracks, *plan.subtitles))


def plan_encode(
    files: LocalInputs,
    *,
    ffprobe: str,
    ladder: LadderPolicy,
    audio_languages: tuple[str, ...] = (),
) -> EncodePlan:
    if files.source.stat().st_size == 0:
        raise InvalidMedia("the upload is empty")
    demuxer = sniff_demuxer(_head(files.source))
    if demuxer is None:
        raise InvalidMedia(
            "not a video container we accept (MP4/MOV, Matroska/WebM, AVI, FLV, MPEG-PS/TS, "
            "AVCHD/M2TS, MXF, DV, Ogg, animated GIF or PNG)"
        )
    source = probe_file(ffprobe, files.source, demuxer)
    if source.duration_s <= 0 and source.video is not None:  # a header written before the end
        timeline = measure_timeline(ffprobe, files.source, demuxer, source.video.index)
        source = with_timeline(source, timeline)
    video = require_video(source)
    inputs = [InputFile(files.source, demuxer)]
    taken: set[str] = set()
    audio: list[AudioOutput] = []
    for index, stream in enumerate(source.audio):
        given = audio_languages[index] if index < len(audio_languages) else None
        language = given or stream.language or "und"
        audio.append(AudioOutput(_unique(f"audio-{language}", taken), language, 0, index))
    for language, path in files.audio:
        side_demuxer = sniff_audio_demuxer(_head(path)) if path.stat().st_size else None
        if side_demuxer is None:
            raise InvalidMedia(f"audio track {language!r} is not an audio file we accept")
        side = probe_file(ffprobe, path, side_demuxer)
        if not side.audio:
            raise InvalidMedia(f"audio track {language!r} has no audio stream")
        inputs.append(InputFile(path, side_demuxer))
        audio.append(AudioOutput(_unique(f"audio-{language}", taken), language, len(inputs) - 1, 0))
    subtitles = [_subtitle_track(language, path, taken) for language, path in files.subtitles]
    return EncodePlan(
        source=source,
        inputs=tuple(inputs),
        renditions=plan_ladder(video, ladder),
        audio=tuple(audio),
        subtitles=tuple(subtitles),
    )


def thumbnail_plan(plan: EncodePlan) -> ThumbnailPlan | None:
    """The poster and storyboard for this encode (None without a video rendition)."""
    if not plan.renditions:
        return None
    top, smallest = plan.renditions[0], plan.renditions[-1]
    video = plan.source.video
    return plan_thumbnails(
        plan.expected_duration_s,
        (top.width, top.height),
        (smallest.width, smallest.height),
        video.frame_rate if video else 30.0,
    )
