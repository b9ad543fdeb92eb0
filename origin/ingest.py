"""Ingest shared by the plain, multipart and tus uploads: options, spooling, video creation."""

from __future__ import annotations

import hashlib
import os
import tempfile
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

import anyio.to_thread

from manifests.catalog import Catalog
from manifests.records import ACCESS_VALUES, Access, Job, NewVideo, SideFile, Video
from origin.errors import ApiError
from origin.in_use import hold
from origin.metrics import Metrics
from storage import Storage
from storage.keys import source_key, upload_prefix
from transcoder.languages import is_language_code

SIDE_KINDS = {"audio": "audio", "subtitles": "subtitles"}
WRITE_BUFFER_BYTES = 1 << 20


@dataclass(frozen=True, slots=True)
class UploadOptions:
    title: str
    segment_duration_s: float
    audio_languages: tuple[str, ...]
    access: Access = "public"
    listed: bool = False


def check_language(value: str) -> str:
    if not is_language_code(value):
        raise ApiError(
            422, "invalid_language", f"{value!r} is not a language code (e.g. eng, spa, pt-BR)"
        )
    return value


def parse_options(fields: Mapping[str, str], default_segment_s: float) -> UploadOptions:
    raw_segment = fields.get("segment_duration") or fields.get("segment_duration_s")
    segment = default_segment_s
    if raw_segment:
        try:
            segment = float(raw_segment)
        except ValueError:
            raise ApiError(
                422, "invalid_segment_duration", "segment_duration must be a number"
            ) from None
    if not 2 <= segment <= 10:
        raise ApiError(
            422,
            "invalid_segment_duration",
            f"segment_duration must be between 2 and 10 seconds, got {segment:g}",
        )
    languages = tuple(
        check_language(x.strip()) for x in fields.get("audio_languages", "").split(",") if x.strip()
    )
    title = fields.get("title", "")[:300]
    return UploadOptions(
        title=title,
        segment_duration_s=segment,
        audio_languages=languages,
        access=parse_access(fields.get("access") or "public"),
        listed=parse_listed(fields.get("listed") or "false"),
    )


def parse_listed(value: object) -> bool:
    """Whether anyone may see the video in GET /api/videos (a JSON bool, or true/false)."""
    if isinstance(value, bool):
        return value
    if value in ("true", "1", "yes"):
        return True
    if value in ("false", "0", "no"):
        return False
    raise ApiError(422, "invalid_listed", "listed must be true or false")


def parse_access(value: object) -> Access:
    """'public' (anyone with the URL plays it) or 'signed' (playback needs a token)."""
    for access in ACCESS_VALUES:
        if value == access:
            return access
    raise ApiError(422, "invalid_access", "access must be 'public' or 'signed'")


def parse_side_field(name: str) -> tuple[str, str] | None:
    """`audio:spa` → ("audio", "spa"); other names → None."""
    kind, sep, language = name.partition(":")
    if not sep or kind not in SIDE_KINDS:
        return None
    return SIDE_KINDS[kind], check_language(language)


def new_video_id() -> str:
    return uuid.uuid4().hex[:16]


class SizeLimitedStream:
    """Counts body bytes and stops the upload the moment it passes the limit (413)."""

    def __init__(self, chunks: AsyncIterator[bytes], limit_bytes: int) -> None:
        self._chunks = chunks
        self.limit_bytes = limit_bytes
        self.received = 0

    def __aiter__(self) -> AsyncGenerator[bytes, None]:
        return self._iterate()

    async def _iterate(self) -> AsyncGenerator[bytes, None]:
        async for chunk in self._chunks:
            self.received += len(chunk)
            if self.received > self.limit_bytes:
                raise ApiError(
                    413, "too_large", f"upload is larger than the {self.limit_bytes} byte limit"
                )
            yield chunk


async def spool(
    chunks: AsyncIterator[bytes], directory: Path, prefix: str = "upload-"
) -> tuple[Path, int, str]:
    """Write a body to a local file as it arrives (never whole in memory)."""
    fd, name = await anyio.to_thread.run_sync(
        lambda: tempfile.mkstemp(dir=directory, prefix=prefix)
    )
    path = Path(name)
    digest = hashlib.sha256()
    size = 0
    buffer = bytearray()
    try:
        with os.fdopen(fd, "wb") as out:
            async for chunk in chunks:
                digest.update(chunk)
                size += len(chunk)
                buffer += chunk
                if len(buffer) >= WRITE_BUFFER_BYTES:
                    data = bytes(buffer)
                    buffer.clear()
                    await anyio.to_thread.run_sync(out.write, data)
            if buffer:
                await anyio.to_thread.run_sync(out.write, bytes(buffer))
    except BaseException:
        os.unlink(path)
        raise
    return path, size, digest.hexdigest()


class Ingest:
    def __init__(
        self,
        catalog: Catalog,
        storage: Storage,
        metrics: Metrics,
        *,
        spool_dir: Path,
        max_attempts: int,
        in_use_dir: Path,
    ) -> None:
        self.catalog = catalog
        self.storage = storage
        self.metrics = metrics
        self.spool_dir = spool_dir
        self.max_attempts = max_attempts
        self.in_use_dir = in_use_dir

    def claim(self, name: str) -> AbstractContextManager[None]:
        """Mark `name` (`video-<id>`, `upload-<id>`) in use for the janitor, for a block."""
        return hold(self.in_use_dir, name)

    async def store_file(self, key: str, path: Path) -> int:
        info = await anyio.to_thread.run_sync(self.storage.put_file, key, path)
        return info.size_bytes

    async def create_video(
        self,
        video_id: str,
        size_bytes: int,
        options: UploadOptions,
        side_files: tuple[SideFile, ...],
        kind: str,
        owner: str,
    ) -> tuple[Video, Job]:
        new = NewVideo(
            id=video_id,
            source_key=source_key(video_id),
            source_size_bytes=size_bytes,
            segment_duration_s=options.segment_duration_s,
            title=options.title,
            audio_languages=options.audio_languages,
            side_files=side_files,
            access=options.access,
            listed=options.listed,
            owner=owner,
        )
        created = await anyio.to_thread.run_sync(
            lambda: self.catalog.create_video(new, max_attempts=self.max_attempts)
        )
        self.metrics.count_upload(kind, size_bytes)
        return created

    async def discard(self, video_id: str) -> None:
        """Remove whatever an upload that failed half-way stored."""
        await anyio.to_thread.run_sync(self.storage.delete_prefix, upload_prefix(video_id))


def created_body(video: Video, job: Job) -> dict[str, str]:
    return {"id": video.id, "job_id": job.id, "status_url": f"/api/videos/{video.id}"}
