"""A live broadcast's recording: every segment of every rendition, published as a video with
the stream's id, playable like an upload.

When the broadcast ends normally, the packagers hand over what they stored. When it was cut
short (the origin running it stopped or crashed), the recording is rebuilt from storage: each
rendition's init segment and whole segments (their durations read from the fragments), and
the segment that was being made, joined from its parts. Nothing the viewers saw is lost."""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from manifests.catalog import Catalog
from manifests.live_playlist import part_uri, segment_uri
from manifests.live_streams import LiveRendition, LiveStream
from manifests.records import NewVideo, Publication, Rendition, StoredObject
from storage import ObjectNotFound, Storage
from storage.keys import live_key
from transcoder.fragments import Fragment, FragmentError, FragmentReader
from transcoder.publish import OutputFile, RenditionOutput, measure_bandwidth, render_playlists

log = logging.getLogger("mediacdn.live")
SEGMENT = re.compile(r"(\d{1,12})\.m4s")


@dataclass(frozen=True, slots=True)
class RecordedTrack:
    name: str
    kind: str  # "video" or "audio"
    info: dict[str, Any]  # codecs, resolution
    init: StoredObject | None
    segments: tuple[StoredObject, ...]


def _publication(tracks: list[RecordedTrack]) -> Publication | None:
    outputs: list[RenditionOutput] = []
    objects: list[StoredObject] = []
    for t in tracks:
        if t.init is None or not t.segments:
            continue
        sizes = [o.size_bytes for o in t.segments]
        durations = [o.duration_s or 0.0 for o in t.segments]
        peak, average = measure_bandwidth(sizes, durations)
        resolution = t.info.get("resolution")
        size = tuple(int(n) for n in resolution.split("x")) if resolution else None
        rendition = Rendition(
            t.name,
            "audio" if t.kind == "audio" else "video",
            peak,
            average,
            t.info.get("codecs"),
            (size[0], size[1]) if size else None,
            language=str(t.info.get("language") or "und") if t.kind == "audio" else None,
        )
        init = OutputFile("init.mp4", Path(t.init.key), None)
        segments = tuple(OutputFile(o.name, Path(o.key), o.duration_s) for o in t.segments)
        outputs.append(RenditionOutput(rendition, init, segments))
        objects += [t.init, *t.segments]
    if not any(o.rendition.kind == "video" for o in outputs):
        return None
    return Publication(
        renditions=tuple(o.rendition for o in outputs),
        objects=tuple(objects),
        playlists=render_playlists(outputs),
    )


def publish_recording(stream: LiveStream, catalog: Catalog, tracks: list[RecordedTrack]) -> None:
    """End the stream, with its recording as the video with its id (none if no video was
    recorded)."""
    publication = _publication(tracks)
    video_id = None
    if publication is not None:
        new = NewVideo(
            id=stream.id,
            source_key="",
            source_size_bytes=0,
            segment_duration_s=stream.settings.segment_s,
            title=stream.title,
            owner=stream.owner,
            access=stream.settings.access,  # a signed stream's recording is signed too
        )
        video_id = catalog.publish_recording(new, publication).id
    catalog.set_live_status(stream.id, "ended", video_id=video_id)
    log.info("live stream %s ended; recording %s", stream.id, video_id or "none")


def _stored(
    rendition: str, name: str, key: str, data: bytes, duration_s: float | None
) -> StoredObject:
    return StoredObject(
        rendition, name, key, len(data), hashlib.sha256(data).hexdigest(), duration_s
    )


def _duration(init: bytes, segment: bytes) -> float:
    reader = FragmentReader()
    items = reader.feed(init + segment)
    return round(sum(i.duration_s for i in items if isinstance(i, Fragment)), 6)


def _rebuilt(stream_id: str, storage: Storage, rendition: LiveRendition) -> RecordedTrack:
    """One rendition's recording, from what storage holds."""
    prefix = live_key(stream_id, rendition.name, "")
    names = {key[len(prefix) :] for key in storage.list_keys(prefix)}
    if "init.mp4" not in names:
        return RecordedTrack(rendition.name, rendition.kind, rendition.info, None, ())
    init_bytes = storage.get_bytes(prefix + "init.mp4")
    init = _stored(rendition.name, "init.mp4", prefix + "init.mp4", init_bytes, None)
    segments = []
    msns = sorted(int(m[1]) for n in names if (m := SEGMENT.fullmatch(n)))
    for msn in msns:
        name = segment_uri(msn)
        data = storage.get_bytes(prefix + name)
        segments.append(
            _stored(rendition.name, name, prefix + name, data, _duration(init_bytes, data))
        )
    track = rendition.track
    if track.pending and track.next_msn not in msns:  # the segment being made: its parts
        try:
            data = b"".join(
                storage.get_bytes(prefix + part_uri(track.next_msn, n))
                for n in range(len(track.pending))
            )
        except ObjectNotFound:
            data = b""
        if data:
            name = segment_uri(track.next_msn)
            storage.put_bytes(prefix + name, data)
            segments.append(
                _stored(rendition.name, name, prefix + name, data, _duration(init_bytes, data))
            )
    return RecordedTrack(rendition.name, rendition.kind, rendition.info, init, tuple(segments))


def recover_recording(stream: LiveStream, catalog: Catalog, storage: Storage) -> None:
    """End a broadcast that was cut short, publishing what it recorded; its playlists end."""
    _, renditions = catalog.live_renditions(stream.id)
    tracks = []
    for position, rendition in enumerate(renditions):
        try:
            tracks.append(_rebuilt(stream.id, storage, rendition))
        except FragmentError:
            log.exception("live stream %s/%s: unreadable; not recorded", stream.id, rendition.name)
        ended = LiveRendition(rendition.name, rendition.kind, rendition.info, rendition.track.end())
        catalog.put_live_rendition(stream.id, position, ended)
    publish_recording(stream, catalog, tracks)
