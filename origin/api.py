"""The HTTP API: upload (plain or multipart), list, show, delete videos; show jobs."""

from __future__ import annotations

import base64
import json
import math
from collections.abc import AsyncGenerator
from typing import Any

import anyio.to_thread
from starlette.datastructures import UploadFile
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response

from httprules.headers import ascii_digits
from httprules.times import iso_utc
from manifests.errors import VideoNotFound
from manifests.records import Job, Rendition, SideFile, Video
from origin.auth import owner_of, require_api_key
from origin.context import OriginContext
from origin.errors import ApiError
from origin.health import require_room
from origin.ingest import (
    SizeLimitedStream,
    UploadOptions,
    created_body,
    new_video_id,
    parse_options,
    parse_side_field,
    spool,
)
from storage.keys import side_key, source_key, video_prefixes
from transcoder.thumbnails import POSTER, STORYBOARD
from transcoder.thumbnails import RENDITION as THUMBNAILS

MAX_FORM_FIELD_BYTES = 64 << 10


class _LimitedRequest(Request):
    """A request whose body stream enforces the upload size limit, also inside form parsing."""

    limiter: SizeLimitedStream

    def stream(self) -> AsyncGenerator[bytes, None]:
        return aiter(self.limiter)


def rendition_json(r: Rendition) -> dict[str, Any]:
    return {
        "name": r.name,
        "kind": r.kind,
        "bandwidth": r.bandwidth_bps,
        "average_bandwidth": r.average_bandwidth_bps,
        "codecs": r.codecs,
        "resolution": f"{r.resolution[0]}x{r.resolution[1]}" if r.resolution else None,
        "frame_rate": r.frame_rate,
        "language": r.language,
    }


def make_cursor(video: Video) -> str:
    """Where a page ended: its last video's (created_at, id), opaque to clients."""
    raw = json.dumps([video.created_at, video.id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def parse_cursor(text: str) -> tuple[float, str]:
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        created_at, video_id = json.loads(raw)
        if isinstance(created_at, bool) or not isinstance(created_at, int | float):
            raise ValueError("not a time")
        if not isinstance(video_id, str) or len(video_id) > 64:
            raise ValueError("not an id")
        if not math.isfinite(created_at):
            raise ValueError("not a time")
        return float(created_at), video_id
    except (ValueError, TypeError, UnicodeError, RecursionError):
        raise ApiError(422, "invalid_cursor", "cursor is not one this API gave") from None


def thumbnails_json(video_id: str) -> dict[str, str]:
    base = f"/vod/{video_id}/{THUMBNAILS}"
    return {"poster": f"{base}/{POSTER}", "storyboard": f"{base}/{STORYBOARD}"}


def video_json(
    video: Video, renditions: list[Rendition] | None, *, thumbnails: bool | None = None
) -> dict[str, Any]:
    """A video's public description; the list view leaves renditions out (None) and says
    whether it has thumbnails instead."""
    if thumbnails is None:
        thumbnails = any(r.kind == "images" for r in renditions or ())
    error = (
        {"code": video.error_code, "message": video.error_message or ""}
        if video.error_code
        else None
    )
    return {
        "id": video.id,
        "title": video.title,
        "status": video.status,
        "progress": video.progress,
        "job_id": video.job_id,
        "segment_duration": video.segment_duration_s,
        "size_bytes": video.source_size_bytes,
        "access": video.access,
        "listed": video.listed,
        "playback": {"hls": f"/vod/{video.id}/master.m3u8"},
        "thumbnails": thumbnails_json(video.id) if thumbnails else None,
        "error": error,
        "created_at": iso_utc(video.created_at),
        "updated_at": iso_utc(video.updated_at),
    } | ({} if renditions is None else {"renditions": [rendition_json(r) for r in renditions]})


def job_json(job: Job) -> dict[str, Any]:
    return {
        "id": job.id,
        "video_id": job.video_id,
        "status": job.status,
        "attempts": job.attempts,
        "max_attempts": job.max_attempts,
        "last_error": job.last_error,
        "lease_owner": job.lease_owner,
        "lease_expires": iso_utc(job.lease_expires),
        "created_at": iso_utc(job.created_at),
        "updated_at": iso_utc(job.updated_at),
    }


# a raw body's types besides video/*: animated GIF and PNG are how the web sends short clips
RAW_TYPES = frozenset({"", "application/octet-stream", "image/gif", "image/apng", "image/png"})


class VideoApi:
    def __init__(self, ctx: OriginContext) -> None:
        self.ctx = ctx

    async def create(self, request: Request) -> Response:
        ctx = self.ctx
        require_api_key(request, ctx.settings.api_keys)
        require_room(ctx.spool_dir, ctx.settings.min_free_mb)
        limit = ctx.settings.max_upload_bytes
        declared = request.headers.get("content-length")
        if ascii_digits(declared) and int(declared) > limit:
            raise ApiError(413, "too_large", f"upload is larger than the {limit} byte limit")
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        limited = _LimitedRequest(request.scope, request.receive)
        limited.limiter = SizeLimitedStream(request.stream(), limit)
        video_id = new_video_id()
        with ctx.ingest.claim(f"video-{video_id}"):
            try:
                if content_type == "multipart/form-data":
                    return await self._create_multipart(limited, video_id)
                if content_type in RAW_TYPES or content_type.startswith("video/"):
                    return await self._create_raw(limited, video_id)
            except BaseException:
                await ctx.ingest.discard(video_id)
                raise
        raise ApiError(
            415,
            "unsupported_media_type",
            "send the video as the body (video/*, an animated image/gif or image/apng, or "
            "application/octet-stream) "
            "or as multipart/form-data with a part named 'file'",
        )

    async def _create_raw(self, request: _LimitedRequest, video_id: str) -> Response:
        ctx = self.ctx
        options = parse_options(request.query_params, ctx.settings.segment_duration_s)
        try:
            path, size, _ = await spool(
                aiter(request.limiter), ctx.spool_dir, prefix=f"video-{video_id}-"
            )
        except ClientDisconnect:
            raise ApiError(400, "upload_interrupted", "the client went away mid-upload") from None
        try:
            if size == 0:
                raise ApiError(422, "empty_upload", "the uploaded file is empty")
            await ctx.ingest.store_file(source_key(video_id), path)
        finally:
            path.unlink(missing_ok=True)
        video, job = await ctx.ingest.create_video(
            video_id, size, options, (), "raw", owner_of(request)
        )
        return self._created(video, job)

    async def _create_multipart(self, request: _LimitedRequest, video_id: str) -> Response:
        ctx = self.ctx
        try:
            form = await request.form(
                max_files=32, max_fields=64, max_part_size=MAX_FORM_FIELD_BYTES
            )
        except ClientDisconnect:
            raise ApiError(400, "upload_interrupted", "the client went away mid-upload") from None
        try:
            fields = {k: v for k, v in form.multi_items() if isinstance(v, str)}
            options = parse_options(fields, ctx.settings.segment_duration_s)
            video = form.get("file")
            if not isinstance(video, UploadFile):
                raise ApiError(
                    422, "missing_file", "multipart uploads need a file part named 'file'"
                )
            sides: list[tuple[str, str, UploadFile]] = []
            for name, value in form.multi_items():
                side = parse_side_field(name)
                if side is None:
                    continue
                if not isinstance(value, UploadFile):
                    raise ApiError(422, "invalid_side_file", f"part {name!r} must be a file")
                sides.append((side[0], side[1], value))
            size = await self._store_upload(source_key(video_id), video)
            if size == 0:
                raise ApiError(422, "empty_upload", "the uploaded file is empty")
            side_files = []
            for kind, language, upload in sides:
                key = side_key(video_id, kind, language)
                if await self._store_upload(key, upload) == 0:
                    raise ApiError(422, "empty_upload", f"the {kind} file for {language} is empty")
                side_files.append(SideFile(kind, language, key))  # type: ignore[arg-type]
        finally:
            await form.close()
        created = await ctx.ingest.create_video(
            video_id, size, options, tuple(side_files), "multipart", owner_of(request)
        )
        return self._created(*created)

    async def _store_upload(self, key: str, upload: UploadFile) -> int:
        storage = self.ctx.storage
        await upload.seek(0)
        info = await anyio.to_thread.run_sync(storage.put_stream, key, upload.file, -1)
        return info.size_bytes

    @staticmethod
    def _created(video: Video, job: Job) -> Response:
        body = created_body(video, job)
        return JSONResponse(body, status_code=201, headers={"location": body["status_url"]})

    async def list(self, request: Request) -> Response:
        """Newest first, `limit` at a time (1–1000, default 100); `next_cursor` (null at the
        end) asks for the next page as `cursor`, which stays right however many videos
        arrive meanwhile. `offset` (below 10^9) still works, without that guarantee. With
        an API key, every video; without one, only those flagged `listed`."""
        keyed = "authorization" in request.headers
        if keyed:
            require_api_key(request, self.ctx.settings.api_keys)
        query = request.query_params
        raw_limit, raw_offset = query.get("limit", "100"), query.get("offset", "0")
        if not (ascii_digits(raw_limit) and ascii_digits(raw_offset)) or len(raw_offset) > 9:
            raise ApiError(
                422, "invalid_request", "limit and offset are whole numbers (offset < 10^9)"
            )
        limit = min(1000, max(1, int(raw_limit)))
        offset = int(raw_offset)
        after = None
        if "cursor" in query:
            if offset:
                raise ApiError(422, "invalid_request", "give cursor or offset, not both")
            after = parse_cursor(query["cursor"])
        videos = await anyio.to_thread.run_sync(
            lambda: self.ctx.catalog.list_videos(
                limit=limit + 1, offset=offset, after=after, listed_only=not keyed
            )
        )
        more = len(videos) > limit
        videos = videos[:limit]
        next_cursor = make_cursor(videos[-1]) if more else None
        ready = [v.id for v in videos if v.status == "ready"]
        images = await anyio.to_thread.run_sync(self.ctx.catalog.with_images, ready)
        views = [video_json(v, None, thumbnails=v.id in images) for v in videos]
        return JSONResponse({"videos": views, "next_cursor": next_cursor})

    async def show(self, request: Request) -> Response:
        video_id = request.path_params["video_id"]
        catalog = self.ctx.catalog

        def load() -> tuple[Video | None, list[Rendition]]:
            video = catalog.get_video(video_id)
            return video, catalog.renditions(video_id) if video else []

        video, renditions = await anyio.to_thread.run_sync(load)
        if video is None:
            raise ApiError(404, "video_not_found", f"no video {video_id!r}")
        return JSONResponse(video_json(video, renditions))

    async def delete(self, request: Request) -> Response:
        require_api_key(request, self.ctx.settings.api_keys)
        video_id = request.path_params["video_id"]
        try:
            await anyio.to_thread.run_sync(self.ctx.catalog.delete_video, video_id)
        except VideoNotFound:
            raise ApiError(404, "video_not_found", f"no video {video_id!r}") from None
        self.ctx.assets.invalidate(video_id)
        storage = self.ctx.storage
        for prefix in video_prefixes(video_id):
            await anyio.to_thread.run_sync(storage.delete_prefix, prefix)
        if self.ctx.edges.purge:
            await anyio.to_thread.run_sync(self.ctx.edges.purge_video, video_id)
        return Response(status_code=204)

    async def retry(self, request: Request) -> Response:
        """POST /api/videos/{id}/retry: a failed video is queued again with all its attempts."""
        require_api_key(request, self.ctx.settings.api_keys)
        video_id = request.path_params["video_id"]
        try:
            video = await anyio.to_thread.run_sync(self.ctx.catalog.retry_video, video_id)
        except VideoNotFound:
            raise ApiError(404, "video_not_found", f"no video {video_id!r}") from None
        except ValueError as exc:
            raise ApiError(409, "not_failed", f"only a failed video is retried: {exc}") from None
        return JSONResponse(video_json(video, None), status_code=202)

    async def show_job(self, request: Request) -> Response:
        job_id = request.path_params["job_id"]
        job = await anyio.to_thread.run_sync(self.ctx.catalog.get_job, job_id)
        if job is None:
            raise ApiError(404, "job_not_found", f"no job {job_id!r}")
        return JSONResponse(job_json(job))


__all__ = ["UploadOptions", "VideoApi"]
