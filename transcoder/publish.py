"""Turn encoder output into stored objects and our own playlists, ready to publish at once."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from manifests.model import MasterPlaylist, MediaPlaylist, MediaTrack, Segment, Variant
from manifests.parse import parse_media_playlist
from manifests.records import Publication, Rendition, StoredObject
from manifests.render import render_master_playlist, render_media_playlist
from manifests.track_names import track_names
from storage import Storage
from storage.keys import object_key
from transcoder.errors import InvalidMedia
from transcoder.mp4 import aac_codec, avc_codec
from transcoder.plan import EncodePlan
from transcoder.thumbnails import POSTER, STORYBOARD, ThumbnailPlan, sheet_files, storyboard_vtt
from transcoder.thumbnails import RENDITION as thumbnails_folder
from transcoder.webvtt import segment_webvtt

log = logging.getLogger("mediacdn.worker")


@dataclass(frozen=True, slots=True)
class OutputFile:
    name: str
    path: Path
    duration_s: float | None


@dataclass(frozen=True, slots=True)
class RenditionOutput:
    rendition: Rendition
    init: OutputFile | None
    segments: tuple[OutputFile, ...]


def measure_bandwidth(sizes_bytes: list[int], durations_s: list[float]) -> tuple[int, int]:
    """(peak, average) bits per second over segments, RFC 8216 §4.3.4.2."""
    rates = [size * 8 / d for size, d in zip(sizes_bytes, durations_s, strict=True) if d > 0]
    total_s = sum(durations_s)
    peak = math.ceil(max(rates, default=0))
    average = math.ceil(sum(sizes_bytes) * 8 / total_s) if total_s > 0 else 0
    return peak, average


def _read_media_output(out_dir: Path, name: str) -> tuple[OutputFile | None, list[OutputFile]]:
    folder = out_dir / name
    playlist = parse_media_playlist((folder / "index.m3u8").read_text())
    init = OutputFile("init.mp4", folder / playlist.init_uri, None) if playlist.init_uri else None
    segments = [OutputFile(s.uri, folder / s.uri, s.duration_s) for s in playlist.segments]
    return init, segments


def collect_thumbnails(
    thumbnails: ThumbnailPlan, out_dir: Path, duration_s: float
) -> RenditionOutput | None:
    """The poster, the sheets and the storyboard track; None (and a warning) if ffmpeg made
    no poster or no sheet: a video is published without thumbnails rather than with half."""
    folder = out_dir / thumbnails_folder
    sheets = sheet_files(folder)
    poster = folder / POSTER
    if not sheets or not poster.is_file() or poster.stat().st_size == 0:
        log.warning("no thumbnails were made (poster or storyboard missing)")
        return None
    storyboard = folder / STORYBOARD
    storyboard.write_text(storyboard_vtt(thumbnails, len(sheets), duration_s), encoding="utf-8")
    files = [poster, storyboard, *sheets]
    size = sum(f.stat().st_size for f in files)
    rate = math.ceil(size * 8 / duration_s) if duration_s > 0 else 0
    return RenditionOutput(
        Rendition(thumbnails_folder, "images", rate, rate, "jpeg", thumbnails.thumb_size),
        None,
        tuple(OutputFile(f.name, f, None) for f in files),
    )


def collect_outputs(
    plan: EncodePlan, out_dir: Path, thumbnails: ThumbnailPlan | None = None
) -> list[RenditionOutput]:
    outputs: list[RenditionOutput] = []
    fps = plan.source.video.frame_rate if plan.source.video else None
    boundaries: list[float] = []
    for r in plan.renditions:
        init, segments = _read_media_output(out_dir, r.name)
        durations = [s.duration_s or 0.0 for s in segments]
        produced = sum(durations)
        if produced < plan.expected_duration_s * 0.9 - 0.5:
            raise InvalidMedia(
                f"only {produced:.1f} s of {plan.expected_duration_s:.1f} s could be decoded"
                " (truncated or corrupt file)"
            )
        peak, average = measure_bandwidth([s.path.stat().st_size for s in segments], durations)
        codecs = avc_codec(init.path.read_bytes()) if init else None
        boundaries = boundaries or durations
        outputs.append(
            RenditionOutput(
                Rendition(r.name, "video", peak, average, codecs, (r.width, r.height), fps),
                init,
                tuple(segments),
            )
        )
    for a in plan.audio:
        init, segments = _read_media_output(out_dir, a.name)
        sizes = [s.path.stat().st_size for s in segments]
        peak, average = measure_bandwidth(sizes, [s.duration_s or 0.0 for s in segments])
        codecs = (aac_codec(init.path.read_bytes()) if init else None) or "mp4a.40.2"
        outputs.append(
            RenditionOutput(
                Rendition(a.name, "audio", peak, average, codecs, language=a.language),
                init,
                tuple(segments),
            )
        )
    for sub in plan.subtitles:
        folder = out_dir / sub.name
        folder.mkdir(parents=True, exist_ok=True)
        files = []
        for n, (text, duration) in enumerate(
            zip(segment_webvtt(list(sub.cues), boundaries), boundaries, strict=True)
        ):
            path = folder / f"{n}.vtt"
            path.write_text(text, encoding="utf-8")
            files.append(OutputFile(path.name, path, duration))
        sizes = [f.path.stat().st_size for f in files]
        peak, average = measure_bandwidth(sizes, boundaries)
        outputs.append(
            RenditionOutput(
                Rendition(sub.name, "subtitles", peak, average, "wvtt", language=sub.language),
                None,
                tuple(files),
            )
        )
    images = collect_thumbnails(thumbnails, out_dir, sum(boundaries)) if thumbnails else None
    return outputs + ([images] if images else [])


def render_playlists(outputs: list[RenditionOutput]) -> dict[str, str]:
    playlists: dict[str, str] = {}
    for out in outputs:
        if out.rendition.kind == "images":  # no playlist: the API and pages name them
            continue
        media = MediaPlaylist(
            segments=tuple(Segment(s.name, s.duration_s or 0.0) for s in out.segments),
            init_uri=out.init.name if out.init else None,
        )
        playlists[f"{out.rendition.name}/index.m3u8"] = render_media_playlist(media)
    audio = [o.rendition for o in outputs if o.rendition.kind == "audio"]
    subs = [o.rendition for o in outputs if o.rendition.kind == "subtitles"]
    audio_names = track_names([a.language for a in audio])
    subtitle_names = track_names([s.language for s in subs])
    tracks = [
        MediaTrack(
            type="AUDIO",
            group_id="audio",
            name=name,
            language=a.language,
            uri=f"{a.name}/index.m3u8",
            default=i == 0,
            channels="2",
        )
        for i, (a, name) in enumerate(zip(audio, audio_names, strict=True))
    ] + [
        MediaTrack(
            type="SUBTITLES",
            group_id="subs",
            name=name,
            language=s.language,
            uri=f"{s.name}/index.m3u8",
            default=False,
        )
        for s, name in zip(subs, subtitle_names, strict=True)
    ]
    audio_peak = max((a.bandwidth_bps for a in audio), default=0)
    audio_avg = max((a.average_bandwidth_bps for a in audio), default=0)
    audio_codec = audio[0].codecs if audio else None
    variants = []
    for v in (o.rendition for o in outputs if o.rendition.kind == "video"):
        codecs = ",".join(c for c in (v.codecs, audio_codec) if c)
        variants.append(
            Variant(
                uri=f"{v.name}/index.m3u8",
                # §4.3.4.2: the largest sum of peak rates of any playable combination.
                bandwidth_bps=v.bandwidth_bps + audio_peak,
                average_bandwidth_bps=v.average_bandwidth_bps + audio_avg,
                codecs=codecs or None,
                resolution=v.resolution,
                frame_rate=v.frame_rate,
                audio_group="audio" if audio else None,
                subtitles_group="subs" if subs else None,
            )
        )
    playlists["master.m3u8"] = render_master_playlist(
        MasterPlaylist(variants=tuple(variants), media=tuple(tracks))
    )
    return playlists


def store_outputs(
    video_id: str,
    outputs: list[RenditionOutput],
    storage: Storage,
    on_progress: Callable[[float], None] | None = None,
) -> Publication:
    """Upload every file (each write atomic, sha256 recorded), then describe the publication."""
    files = [(o, f) for o in outputs for f in ((o.init,) if o.init else ()) + o.segments]
    objects: list[StoredObject] = []
    for done, (out, f) in enumerate(files, start=1):
        info = storage.put_file(object_key(video_id, out.rendition.name, f.name), f.path)
        assert info.sha256 is not None
        objects.append(
            StoredObject(
                out.rendition.name, f.name, info.key, info.size_bytes, info.sha256, f.duration_s
            )
        )
        if on_progress is not None:
            on_progress(done / len(files))
    return Publication(
        renditions=tuple(o.rendition for o in outputs),
        objects=tuple(objects),
        playlists=render_playlists(outputs),
    )
