"""Catalog records: videos, renditions, stored objects, jobs and uploads."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

VideoStatus = Literal["queued", "probing", "transcoding", "publishing", "ready", "failed"]
JobStatus = Literal["queued", "running", "done", "failed"]
RenditionKind = Literal["video", "audio", "subtitles", "images"]  # images: poster, storyboard
Access = Literal["public", "signed"]  # signed: playback needs a token
ACCESS_VALUES: tuple[Access, ...] = ("public", "signed")


@dataclass(frozen=True, slots=True)
class SideFile:
    """An extra file uploaded with a video: an audio track or WebVTT subtitles for a language."""

    kind: Literal["audio", "subtitles"]
    language: str
    key: str


@dataclass(frozen=True, slots=True)
class NewVideo:
    id: str
    source_key: str
    source_size_bytes: int
    segment_duration_s: float
    title: str = ""
    audio_languages: tuple[str, ...] = ()
    side_files: tuple[SideFile, ...] = ()
    access: Access = "public"
    listed: bool = False  # shown to anyone in GET /api/videos (else only to API keys)
    owner: str = ""  # who uploaded it (a digest of the API key): transcodes are shared fairly


@dataclass(frozen=True, slots=True)
class Video:
    id: str
    status: VideoStatus
    progress: float
    title: str
    source_key: str
    source_size_bytes: int
    segment_duration_s: float
    audio_languages: tuple[str, ...]
    side_files: tuple[SideFile, ...]
    job_id: str
    version: int
    error_code: str | None
    error_message: str | None
    created_at: float
    updated_at: float
    access: Access = "public"
    listed: bool = False


@dataclass(frozen=True, slots=True)
class Rendition:
    name: str
    kind: RenditionKind
    bandwidth_bps: int
    average_bandwidth_bps: int
    codecs: str | None = None
    resolution: tuple[int, int] | None = None
    frame_rate: float | None = None
    language: str | None = None


@dataclass(frozen=True, slots=True)
class StoredObject:
    """One published file of a video: an init segment, a media segment or a subtitle segment."""

    rendition: str
    name: str
    key: str
    size_bytes: int
    sha256: str
    duration_s: float | None = None


@dataclass(frozen=True, slots=True)
class Publication:
    """Everything that becomes visible at once when a video is published."""

    renditions: tuple[Rendition, ...]
    objects: tuple[StoredObject, ...]
    playlists: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Job:
    id: str
    video_id: str
    status: JobStatus
    attempts: int
    max_attempts: int
    run_after: float
    lease_owner: str | None
    lease_expires: float | None
    last_error: str | None
    created_at: float
    updated_at: float
    transient_failures: int = 0  # storage or database outages: retried without an attempt


@dataclass(frozen=True, slots=True)
class Upload:
    """A tus 1.0 resumable upload in progress (or finished, with its video)."""

    id: str
    length_bytes: int
    offset_bytes: int
    metadata: dict[str, str]
    created_at: float
    video_id: str | None = None
    parts: tuple[str, ...] = ()  # the storage keys of its pieces, in order
    expires_at: float | None = None  # unfinished after this: gone (tus expiration)
    concat: str = ""  # tus concatenation: "partial", "final" or "" (a plain upload)
