"""Resumable uploads: tus 1.0 (core, creation, creation-with-upload, termination, checksum,
expiration, concatenation). The pieces of an upload live in object storage and its state in
the catalog (origin/tus_parts.py), so any origin can resume any upload."""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import hashlib
import os
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from email.utils import formatdate
from pathlib import Path
from typing import BinaryIO
from urllib.parse import quote, urlsplit

import anyio
import anyio.to_thread
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from httprules.headers import ascii_digits
from manifests.records import SideFile, Upload
from origin.auth import owner_of, require_api_key
from origin.context import OriginContext
from origin.direct_uploads import (
    Grant,
    GrantRefused,
    request_upload_token,
    upload_secret,
    verify,
)
from origin.errors import ApiError
from origin.health import require_room
from origin.ingest import (
    check_language,
    new_video_id,
    parse_options,
    parse_side_field,
)
from origin.tus_parts import drop_parts, join_parts, part_key
from storage.keys import side_key, source_key

TUS_VERSION = "1.0.0"
LOCK_WAIT_S = 10.0
EXTENSIONS = "creation,creation-with-upload,termination,checksum,expiration,concatenation"
MAX_PARTIALS = 1000  # partial uploads one final concatenation may name
CHECKSUMS = {"sha1": hashlib.sha1, "md5": hashlib.md5, "sha256": hashlib.sha256}


def parse_metadata(header: str | None) -> dict[str, str]:
    """tus §Upload-Metadata: comma-separated `key base64value` pairs."""
    metadata: dict[str, str] = {}
    for item in (header or "").split(","):
        item = item.strip()
        if not item:
            continue
        key, _, value = item.partition(" ")
        if not key or " " in value.strip():
            raise ApiError(400, "invalid_metadata", f"bad Upload-Metadata item {item!r}")
        try:
            metadata[key] = base64.b64decode(value.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise ApiError(
                400, "invalid_metadata", f"Upload-Metadata {key!r} is not base64 UTF-8"
            ) from None
    return metadata


def _flush(f: BinaryIO) -> None:
    f.flush()
    os.fsync(f.fileno())


class TusApi:
    def __init__(self, ctx: OriginContext) -> None:
        self.ctx = ctx
        self._locks: dict[str, asyncio.Lock] = {}
        self._lock_users: Counter[str] = Counter()

    def _headers(self, **extra: str) -> dict[str, str]:
        return {"tus-resumable": TUS_VERSION, "cache-control": "no-store", **extra}

    def _check_version(self, request: Request) -> None:
        # tus §Tus-Resumable: a version we do not support → 412 with Tus-Version.
        if request.headers.get("tus-resumable") != TUS_VERSION:
            raise ApiError(412, "tus_version", f"this server speaks tus {TUS_VERSION}")

    def _spool(self, upload_id: str) -> Path:
        """A local file for a piece on its way to storage."""
        return self.ctx.spool_dir / f"tus-{upload_id}-{uuid.uuid4().hex[:8]}"

    def _expiry(self) -> float:
        return time.time() + self.ctx.settings.tus_expiry_s

    def _live(self, upload: Upload) -> Upload:
        """The upload, unless it has expired unfinished (tus expiration: 410, then gone)."""
        expires_at = upload.expires_at
        if upload.video_id is None and expires_at is not None and expires_at < time.time():
            raise ApiError(410, "upload_expired", "this upload has expired; start again")
        return upload

    async def options(self, request: Request) -> Response:
        return Response(
            status_code=204,
            headers=self._headers(
                **{
                    "tus-version": TUS_VERSION,
                    "tus-extension": EXTENSIONS,
                    "tus-max-size": str(self.ctx.settings.max_upload_bytes),
                    "tus-checksum-algorithm": ",".join(CHECKSUMS),
                }
            ),
        )

    def _grant(self, request: Request, upload_id: str | None = None) -> Grant | None:
        """A direct-upload grant if the request carries one (for `upload_id`, its upload),
        else None once the request's API key is checked."""
        token = request_upload_token(
            request.headers.get("authorization", ""), request.query_params.get("token")
        )
        if token is None:
            require_api_key(request, self.ctx.settings.api_keys)
            return None
        try:
            grant = verify(upload_secret(self.ctx.settings), token)
        except GrantRefused as exc:
            raise ApiError(exc.status, exc.code, exc.message) from None
        if upload_id is not None and upload_id != grant.upload_id:
            raise ApiError(403, "forbidden", "this upload URL is for another upload")
        return grant

    async def create(self, request: Request) -> Response:
        grant = self._grant(request)
        self._check_version(request)
        require_room(self.ctx.spool_dir, self.ctx.settings.min_free_mb)
        concat = request.headers.get("upload-concat", "")
        if concat.startswith("final"):
            if grant is not None:
                raise ApiError(403, "forbidden", "an upload URL makes one plain upload")
            return await self._concatenate(request, concat)
        if concat not in ("", "partial"):
            raise ApiError(400, "invalid_concat", "Upload-Concat is partial or final;<urls>")
        if concat and grant is not None:
            raise ApiError(403, "forbidden", "an upload URL makes one plain upload")
        raw_length = request.headers.get("upload-length")
        if request.headers.get("upload-defer-length"):
            raise ApiError(400, "defer_length", "Upload-Defer-Length is not supported")
        if not ascii_digits(raw_length):
            raise ApiError(400, "invalid_length", "Upload-Length must be a non-negative integer")
        length = int(raw_length)
        if length > self.ctx.settings.max_upload_bytes:
            raise ApiError(413, "too_large", "Upload-Length is over the size limit")
        if grant is not None and length > grant.max_bytes:
            raise ApiError(413, "too_large", "Upload-Length is over this upload URL's limit")
        metadata = parse_metadata(request.headers.get("upload-metadata"))
        self._validate_metadata(metadata)
        if grant is not None and (
            metadata.get("role", "video") != "video" or any(parse_side_field(k) for k in metadata)
        ):
            raise ApiError(422, "invalid_metadata", "an upload URL takes one video file")
        await self._side_uploads(metadata)  # refuse before any data arrives
        if length == 0 and metadata.get("role", "video") == "video":
            raise ApiError(422, "empty_upload", "the uploaded file is empty")
        upload = await self._new_upload(length, metadata, grant, concat)
        location = f"/api/uploads/{upload.id}"
        if "token" in request.query_params:  # the URL handed out goes on working
            location += f"?token={quote(request.query_params['token'], safe='.')}"
        headers = self._headers(location=location, **{"upload-offset": "0"}, **_expires(upload))
        if request.headers.get("content-type") == "application/offset+octet-stream":
            owner = grant.owner if grant is not None else owner_of(request)
            offset, extra = await self._append(request, upload, owner)
            headers.update({"upload-offset": str(offset), **extra})
        return Response(status_code=201, headers=headers)

    async def _new_upload(
        self, length: int, metadata: dict[str, str], grant: Grant | None, concat: str
    ) -> Upload:
        catalog = self.ctx.catalog
        expires_at = self._expiry()
        if grant is None:
            return await anyio.to_thread.run_sync(
                lambda: catalog.create_upload(
                    length, metadata, expires_at=expires_at, concat=concat
                )
            )
        used = ApiError(409, "upload_url_used", "this upload URL has already been used")
        if await anyio.to_thread.run_sync(catalog.grant_spent, grant.upload_id):
            raise used
        try:
            return await anyio.to_thread.run_sync(
                lambda: catalog.create_upload(
                    length,
                    metadata,
                    grant.upload_id,
                    expires_at=expires_at,
                    grant_expires_at=grant.expires_at,
                )
            )
        except Exception:  # the same URL used twice at once: the primary key refused one
            if await anyio.to_thread.run_sync(catalog.grant_spent, grant.upload_id):
                raise used from None
            raise

    async def _concatenate(self, request: Request, concat: str) -> Response:
        """tus concatenation: `Upload-Concat: final;<url> <url>...` joins finished partial
        uploads, in that order, into one upload, complete at once."""
        if request.headers.get("upload-length"):
            raise ApiError(400, "invalid_length", "a final upload takes no Upload-Length")
        urls = concat.removeprefix("final").removeprefix(";").split()
        if not urls or len(urls) > MAX_PARTIALS:
            raise ApiError(400, "invalid_concat", "name the partial uploads: final;<url> <url>")
        metadata = parse_metadata(request.headers.get("upload-metadata"))
        self._validate_metadata(metadata)
        if metadata.get("role", "video") != "video":
            raise ApiError(422, "invalid_metadata", "a final upload is a video")
        partials = []
        for url in urls:
            upload_id = urlsplit(url).path.rstrip("/").rpartition("/")[2]
            upload = await anyio.to_thread.run_sync(self.ctx.catalog.get_upload, upload_id)
            if upload is None or upload.concat != "partial":
                raise ApiError(422, "invalid_concat", f"{url} is not a partial upload")
            if upload.offset_bytes != upload.length_bytes:
                raise ApiError(422, "partial_incomplete", f"{url} is not finished")
            partials.append(upload)
        length = sum(p.length_bytes for p in partials)
        if length == 0:
            raise ApiError(422, "empty_upload", "the uploaded file is empty")
        if length > self.ctx.settings.max_upload_bytes:
            raise ApiError(413, "too_large", "the partial uploads add up past the size limit")
        parts = tuple(k for p in partials for k in p.parts)
        upload = await anyio.to_thread.run_sync(
            lambda: self.ctx.catalog.create_upload(length, metadata, concat="final", parts=parts)
        )
        extra = await self._complete(upload, owner_of(request), [p.id for p in partials])
        headers = {"location": f"/api/uploads/{upload.id}", "upload-offset": str(length)}
        return Response(status_code=201, headers=self._headers(**headers, **extra))

    def _validate_metadata(self, metadata: dict[str, str]) -> None:
        role = metadata.get("role", "video")
        if role not in ("video", "side"):
            raise ApiError(422, "invalid_metadata", "role must be 'video' or 'side'")
        if role == "video":
            parse_options(metadata, self.ctx.settings.segment_duration_s)
        for key in metadata:
            side = parse_side_field(key)
            if side is not None:
                check_language(side[1])

    async def _side_uploads(self, metadata: dict[str, str]) -> list[tuple[tuple[str, str], Upload]]:
        """The finished side uploads (audio, subtitles) that a video upload names."""
        found = []
        for key, side_upload_id in metadata.items():
            side = parse_side_field(key)
            if side is None:
                continue
            upload = await anyio.to_thread.run_sync(self.ctx.catalog.get_upload, side_upload_id)
            if upload is None or upload.offset_bytes != upload.length_bytes:
                raise ApiError(422, "side_upload_incomplete", f"{key} names no finished upload")
            found.append((side, upload))
        return found

    async def _load(self, request: Request) -> Upload:
        upload_id = request.path_params["upload_id"]
        upload = await anyio.to_thread.run_sync(self.ctx.catalog.get_upload, upload_id)
        if upload is None:
            raise ApiError(404, "upload_not_found", f"no upload {upload_id!r}")
        return self._live(upload)

    @contextlib.asynccontextmanager
    async def _locked(self, upload_id: str) -> AsyncIterator[None]:
        """One request at a time per upload. HEAD takes the lock too, as tusd does: a client
        that resumes after a dropped connection sees the offset only once the server has
        finished storing what the dropped request delivered."""
        lock = self._locks.setdefault(upload_id, asyncio.Lock())
        self._lock_users[upload_id] += 1
        try:
            try:
                with anyio.fail_after(LOCK_WAIT_S):
                    await lock.acquire()
            except TimeoutError:
                raise ApiError(
                    409, "upload_busy", "another request is writing to this upload"
                ) from None
            try:
                yield
            finally:
                lock.release()
        finally:
            self._lock_users[upload_id] -= 1
            if not self._lock_users[upload_id]:
                del self._lock_users[upload_id]
                del self._locks[upload_id]

    async def head(self, request: Request) -> Response:
        self._grant(request, request.path_params["upload_id"])
        async with self._locked(request.path_params["upload_id"]):
            upload = await self._load(request)
        extra = {"x-video-id": upload.video_id} if upload.video_id else {}
        if upload.concat:
            extra["upload-concat"] = upload.concat  # (a final's partials are not kept)
        return Response(
            status_code=200,
            headers=self._headers(
                **{
                    "upload-offset": str(upload.offset_bytes),
                    "upload-length": str(upload.length_bytes),
                    **extra,
                    **_expires(upload),
                }
            ),
        )

    async def patch(self, request: Request) -> Response:
        upload_id = request.path_params["upload_id"]
        grant = self._grant(request, upload_id)
        self._check_version(request)
        # the lock first, before anything awaits: a client whose connection dropped mid-PATCH
        # asks for the offset at once, and its HEAD must wait for this request to keep what
        # it delivered, from the moment it began (not only once it has looked the upload up)
        async with self._locked(upload_id):
            require_room(self.ctx.spool_dir, self.ctx.settings.min_free_mb)
            if request.headers.get("content-type") != "application/offset+octet-stream":
                raise ApiError(
                    415, "unsupported_media_type", "PATCH needs application/offset+octet-stream"
                )
            upload = await self._load(request)
            if upload.concat == "final":  # tus concatenation: a final upload takes no PATCH
                raise ApiError(403, "forbidden", "a final upload is complete when made")
            offset_header = request.headers.get("upload-offset", "")
            if not ascii_digits(offset_header):
                raise ApiError(
                    400, "invalid_offset", "Upload-Offset must be a non-negative integer"
                )
            if int(offset_header) != upload.offset_bytes:
                raise ApiError(409, "offset_mismatch", f"the upload is at {upload.offset_bytes}")
            owner = grant.owner if grant is not None else owner_of(request)
            with self.ctx.ingest.claim(f"upload-{upload.id}"):
                offset, extra = await self._append(request, upload, owner)
        headers = {"upload-offset": str(offset), **extra, **_expires(upload, self._expiry())}
        return Response(status_code=204, headers=self._headers(**headers))

    async def _append(
        self, request: Request, upload: Upload, owner: str
    ) -> tuple[int, dict[str, str]]:
        """Write the body at the upload's offset; keep what arrived even if the client drops.
        The video made of a finished upload belongs to `owner` (an API key's digest)."""
        if upload.video_id is not None or upload.offset_bytes >= upload.length_bytes:
            raise ApiError(409, "upload_complete", "this upload is already complete")
        checksum = self._checksum(request.headers.get("upload-checksum"))
        room = upload.length_bytes - upload.offset_bytes
        received = 0
        digest = checksum[0]() if checksum else None
        dropped = False
        path = self._spool(upload.id)
        f = await anyio.to_thread.run_sync(lambda: path.open("wb"))
        try:
            try:
                try:
                    async for chunk in request.stream():
                        received += len(chunk)
                        if received > room:
                            raise ApiError(413, "too_large", "the body goes past Upload-Length")
                        if digest is not None:
                            digest.update(chunk)
                        await anyio.to_thread.run_sync(f.write, chunk)
                except ClientDisconnect:
                    dropped = True
                await anyio.to_thread.run_sync(_flush, f)
            finally:
                await anyio.to_thread.run_sync(f.close)
            if checksum and not dropped:
                assert digest is not None
                if digest.digest() != checksum[1]:
                    # tus checksum extension: 460 and the chunk is discarded.
                    raise ApiError(
                        460, "checksum_mismatch", "Upload-Checksum does not match the body"
                    )
            if (checksum and dropped) or received == 0:
                return upload.offset_bytes, {}  # nothing (verifiable) arrived: keep nothing
            await self._keep_piece(upload, path, received)
        finally:
            await anyio.to_thread.run_sync(lambda: path.unlink(missing_ok=True))
        offset = upload.offset_bytes + received
        if offset == upload.length_bytes:
            done = await anyio.to_thread.run_sync(self.ctx.catalog.get_upload, upload.id)
            assert done is not None  # with its last piece now
            return offset, await self._complete(done, owner)
        return offset, {}

    async def _keep_piece(self, upload: Upload, path: Path, size: int) -> None:
        """Store what arrived as the upload's next piece; if another origin appended at this
        offset first, the piece is dropped and the client told to ask for the offset."""
        storage, catalog = self.ctx.storage, self.ctx.catalog
        key = part_key(upload.id, upload.offset_bytes)
        await anyio.to_thread.run_sync(storage.put_file, key, path)
        added = await anyio.to_thread.run_sync(
            catalog.add_upload_part, upload.id, upload.offset_bytes, key, size, self._expiry()
        )
        if not added:
            await anyio.to_thread.run_sync(storage.delete, key)
            raise ApiError(409, "offset_mismatch", "the upload moved on meanwhile; ask its offset")

    @staticmethod
    def _checksum(header: str | None) -> tuple[type, bytes] | None:
        if not header:
            return None
        name, _, value = header.strip().partition(" ")
        algorithm = CHECKSUMS.get(name.lower())
        if algorithm is None:
            raise ApiError(400, "checksum_algorithm", f"unsupported checksum algorithm {name!r}")
        try:
            return algorithm, base64.b64decode(value, validate=True)  # type: ignore[return-value]
        except binascii.Error:
            raise ApiError(400, "invalid_checksum", "Upload-Checksum value is not base64") from None

    async def _complete(
        self, upload: Upload, owner: str, partials: list[str] | None = None
    ) -> dict[str, str]:
        """A finished upload becomes a video (a side file or a partial waits to be named by
        one): its pieces are joined into the source, then dropped. `partials`: the partial
        uploads whose pieces a final upload took."""
        metadata = upload.metadata
        if metadata.get("role", "video") == "side" or upload.concat == "partial":
            return {}
        ctx = self.ctx
        video_id = new_video_id()
        options = parse_options(metadata, ctx.settings.segment_duration_s)
        sides = await self._side_uploads(metadata)
        taken = [*(partials or ()), *(s.id for _, s in sides)]  # their pieces are read now
        with contextlib.ExitStack() as claims:
            claims.enter_context(ctx.ingest.claim(f"video-{video_id}"))  # until it is a video
            for upload_id in taken:
                claims.enter_context(ctx.ingest.claim(f"upload-{upload_id}"))
            try:
                size = await self._store_joined(source_key(video_id), upload, video_id)
                side_files = []
                for (kind, language), side_upload in sides:
                    stored = side_key(video_id, kind, language)
                    await self._store_joined(stored, side_upload, video_id)
                    side_files.append(SideFile(kind, language, stored))  # type: ignore[arg-type]
                video, job = await ctx.ingest.create_video(
                    video_id, size, options, tuple(side_files), "tus", owner
                )
            except BaseException:
                await ctx.ingest.discard(video_id)
                raise
        await anyio.to_thread.run_sync(ctx.catalog.finish_upload, upload.id, video.id)
        await anyio.to_thread.run_sync(drop_parts, ctx.storage, [upload.id, *taken])
        for upload_id in taken:
            await anyio.to_thread.run_sync(ctx.catalog.delete_upload, upload_id)
        return {"x-video-id": video.id, "x-job-id": job.id}

    async def _store_joined(self, key: str, upload: Upload, video_id: str) -> int:
        """The upload's pieces joined, stored under `key` (video `video_id`'s); its size."""
        joined = self.ctx.spool_dir / f"video-{video_id}-{uuid.uuid4().hex[:8]}"
        try:
            await anyio.to_thread.run_sync(join_parts, self.ctx.storage, upload.parts, joined)
            return await self.ctx.ingest.store_file(key, joined)
        finally:
            await anyio.to_thread.run_sync(lambda: joined.unlink(missing_ok=True))

    async def delete(self, request: Request) -> Response:
        self._grant(request, request.path_params["upload_id"])
        self._check_version(request)
        upload = await self._load(request)
        await anyio.to_thread.run_sync(self.ctx.catalog.delete_upload, upload.id)
        await anyio.to_thread.run_sync(drop_parts, self.ctx.storage, [upload.id])
        return Response(status_code=204, headers=self._headers())


def _expires(upload: Upload, expires_at: float | None = None) -> dict[str, str]:
    """tus expiration: Upload-Expires (an HTTP date) while the upload is unfinished."""
    at = expires_at if expires_at is not None else upload.expires_at
    if at is None or upload.video_id is not None:
        return {}
    return {"upload-expires": formatdate(at, usegmt=True)}
