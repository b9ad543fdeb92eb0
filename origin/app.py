"""Build the origin's ASGI app: API, tus, playback, health and metrics, in-process workers."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio.to_thread
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route

from httprules.addresses import client_key
from httprules.asgi import Receive, Scope, Send
from httprules.errors import error_document, http_error
from httprules.observe import Observed
from httprules.playback_tokens import KeyFile
from httprules.prometheus import CONTENT_TYPE as PROMETHEUS_TYPE
from httprules.ratelimit import RateLimit, open_limit
from manifests.catalog import Catalog
from manifests.db import database_unavailable, open_database
from manifests.records import Publication
from origin.access import AccessApi
from origin.api import VideoApi
from origin.assets import AssetCache
from origin.auth import key_digest
from origin.context import OriginContext
from origin.direct_uploads import DirectUploadApi
from origin.errors import ApiError
from origin.health import readiness
from origin.in_use import IN_USE_DIR
from origin.ingest import Ingest
from origin.janitor import Janitor
from origin.live import LiveHub, ingest_config
from origin.live_api import LiveApi
from origin.live_playback import LivePlayback
from origin.live_push import LivePush
from origin.metrics import Metrics
from origin.openapi import openapi_document
from origin.playback import PlaybackApp
from origin.settings import Settings
from origin.tus import TusApi
from origin.web import WebPages
from origin.webhook_api import WebhookApi
from origin.webhook_sender import RetryPolicy, WebhookSender
from storage import Storage, open_storage
from storage.errors import StorageError
from transcoder.tools import ffmpeg_path, ffprobe_path
from transcoder.worker import TranscodeWorker, WorkerConfig

log = logging.getLogger("mediacdn.origin")


def open_catalog(settings: Settings) -> Catalog:
    """The catalog, its schema made; a database that is not up yet is waited for (up to
    `database_wait_s`), so servers and the database can start in any order."""
    catalog = Catalog(open_database(settings.resolved_database_url))
    deadline = time.monotonic() + settings.database_wait_s
    while True:
        try:
            catalog.create_schema()
            return catalog
        except Exception as exc:
            if not database_unavailable(exc) or time.monotonic() > deadline:
                raise
            log.warning("waiting for the database: %s", exc)
            time.sleep(2)


def open_settings_storage(settings: Settings) -> Storage:
    return open_storage(
        settings.resolved_storage_url,
        access_key=settings.s3_access_key,
        secret_key=settings.s3_secret_key,
    )


def worker_config(settings: Settings, storage: Storage, catalog: Catalog) -> WorkerConfig:
    """The transcode workers' configuration; published videos are pushed to the push edges,
    except signed ones (a pushed copy would not carry the mark that keeps it from viewers
    without a token; they fill on first request instead)."""
    edges = settings.edge_targets()

    def push(video_id: str, publication: Publication) -> None:
        video = catalog.get_video(video_id) if edges.push else None
        if video is not None and video.access == "public":
            sent = edges.push_video(video_id, publication, storage)
            log.info("pushed %d objects of %s to %d edges", sent, video_id, len(edges.push))

    return WorkerConfig(
        ffmpeg=ffmpeg_path(),
        ffprobe=ffprobe_path(),
        work_dir=(settings.data_dir / "work").resolve(),
        ladder=settings.ladder_policy,
        x264_preset=settings.x264_preset,
        lease_s=settings.job_lease_s,
        retry_base_s=settings.job_retry_base_s,
        retry_max_s=settings.job_retry_max_s,
        limits=settings.media_limits,
        on_published=push,
    )


def sweep(janitor: Janitor, interval_s: float, stop: threading.Event) -> None:
    """Run the janitor every `interval_s` until `stop`."""
    while not stop.wait(interval_s):
        janitor.run()


def open_keys(path: Path) -> KeyFile | None:
    """The playback key ring (None: signed playback is off)."""
    if path == Path(""):
        return None
    try:
        return KeyFile(path)
    except (OSError, ValueError) as exc:
        raise ValueError(f"playback keys {path}: {exc}") from None


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    headers = {"cache-control": "no-store"} | ({"connection": "close"} if exc.close else {})
    return JSONResponse(
        error_document(exc.code, exc.message), status_code=exc.status, headers=headers
    )


async def _storage_error(request: Request, exc: Exception) -> Response:
    """Object storage is away: nothing was kept, try again later (503, no endpoint shown)."""
    log.error("object storage failed on %s %s: %s", request.method, request.url.path, exc)
    return JSONResponse(
        error_document("storage_unavailable", "object storage is not answering; try again later"),
        status_code=503,
        headers={"retry-after": "30"},
    )


async def _os_error(request: Request, exc: Exception) -> Response:
    """Out of disk space is the client's answer to hear (507); anything else is ours (500)."""
    assert isinstance(exc, OSError)
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        log.error("out of disk space on %s %s: %s", request.method, request.url.path, exc)
        return JSONResponse(
            error_document("insufficient_storage", "the server is out of disk space"),
            status_code=507,
        )
    return await _internal_error(request, exc)


async def _internal_error(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return JSONResponse(
        error_document("internal_error", "internal server error"),
        status_code=500,
    )


WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def api_sender(scope: Scope) -> str:
    """Who a write counts against: its API key (hashed: no secret goes to Redis) or, with
    none, its address."""
    for name, value in scope["headers"]:
        if name == b"authorization":
            return "key:" + key_digest(value)
    client = scope.get("client")
    return "addr:" + client_key(client[0] if client else None)


# What a page on another origin may send to the API and read back: the API key or an upload
# URL's token, JSON, and tus 1.0's headers (the core protocol and its extensions).
API_REQUEST_HEADERS = (
    "authorization",
    "content-type",
    "x-request-id",
    "tus-resumable",
    "upload-length",
    "upload-offset",
    "upload-metadata",
    "upload-checksum",
    "upload-concat",
    "upload-defer-length",
    "x-http-method-override",
)
API_EXPOSED_HEADERS = (
    "location",
    "x-request-id",
    "x-video-id",
    "x-job-id",
    "tus-resumable",
    "tus-version",
    "tus-extension",
    "tus-max-size",
    "tus-checksum-algorithm",
    "upload-offset",
    "upload-length",
    "upload-metadata",
    "upload-expires",
    "retry-after",
    "ratelimit-limit",
    "ratelimit-remaining",
    "ratelimit-reset",
)


class WriteLimit:
    """ASGI middleware: writes to the API are counted against their key's rate limit before
    anything of them is read. It sits inside the CORS middleware, so a page on another origin
    can read the 429 too."""

    def __init__(self, app: Any, limit: RateLimit | None) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            self.limit is not None
            and scope["type"] == "http"
            and scope["method"] in WRITE_METHODS
            and scope["path"].startswith("/api/")
        ):
            decision = await self.limit.hit(api_sender(scope))
            if not decision.allowed:
                response = JSONResponse(
                    error_document("rate_limited", "too many requests for this API key"),
                    status_code=429,
                    headers=decision.headers() | {"cache-control": "no-store"},
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


class OriginApp:
    """Sends /vod/ and /live/ straight to their playback handlers; everything else to
    Starlette; every HTTP request is observed (request id, access record, metrics)."""

    def __init__(
        self, api: Starlette, playback: PlaybackApp, live: LivePlayback, ctx: OriginContext
    ) -> None:
        self.api = api
        self.playback = playback
        self.live = live
        self.ctx = ctx
        routes = [Mount("/vod", app=playback), Mount("/live", app=live), *api.routes]
        self.observed = Observed(self._dispatch, ctx.metrics.http, lambda: routes, "origin")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self.observed(scope, receive, send)
        else:
            await self.api(scope, receive, send)

    async def _dispatch(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["path"].startswith("/vod/"):
            await self.playback(scope, receive, send)
        elif scope["path"].startswith("/live/"):
            await self.live(scope, receive, send)
        else:
            await self.api(scope, receive, send)


def create_app(
    settings: Settings,
    *,
    catalog: Catalog | None = None,
    storage: Storage | None = None,
    workers: int | None = None,
) -> OriginApp:
    catalog = catalog or open_catalog(settings)
    storage = storage or open_settings_storage(settings)
    metrics = Metrics()
    data_dir = settings.data_dir.resolve()
    spool_dir = data_dir / "spool"
    spool_dir.mkdir(parents=True, exist_ok=True)
    ctx = OriginContext(
        settings=settings,
        catalog=catalog,
        storage=storage,
        ingest=Ingest(
            catalog,
            storage,
            metrics,
            spool_dir=spool_dir,
            max_attempts=settings.job_max_attempts,
            in_use_dir=data_dir / IN_USE_DIR,
        ),
        assets=AssetCache(catalog),
        metrics=metrics,
        spool_dir=spool_dir,
        edges=settings.edge_targets(),
    )
    videos = VideoApi(ctx)
    tus = TusApi(ctx)
    direct = DirectUploadApi(settings)
    webhooks = WebhookApi(ctx)
    pages = WebPages(ctx)
    keys = open_keys(settings.playback_keys)
    write_limit = open_limit(settings.api_limit(), "origin-api", settings.redis_url or None)
    play_limit = open_limit(
        settings.playback_limit(), "origin-playback", settings.redis_url or None
    )
    access = AccessApi(ctx, keys)
    playback = PlaybackApp(
        ctx.assets,
        storage,
        metrics,
        playlist_max_age_s=settings.playlist_max_age_s,
        segment_max_age_s=settings.segment_max_age_s,
        cors_origins=settings.cors_origins,
        keys=keys,
        limit=play_limit,
        exempt=settings.playback_exempt(),
    )
    worker_count = settings.workers if workers is None else workers
    hub = LiveHub(catalog, storage, ingest_config(settings))
    live = LiveApi(ctx, hub, keys)
    push = LivePush(ctx, hub)
    live_playback = LivePlayback(
        catalog, storage, hub, metrics, cors_origins=settings.cors_origins, keys=keys
    )

    async def healthz(request: Request) -> Response:
        ready, parts = await readiness(catalog, storage, data_dir, settings.min_free_mb)
        return JSONResponse(
            {"status": "ok" if ready else "error", **parts},
            status_code=200 if ready else 503,
            headers={"cache-control": "no-store"},
        )

    async def metrics_page(request: Request) -> Response:
        return PlainTextResponse(
            metrics.render(
                {"mediacdn_origin_workers": (worker_count, "In-process transcode workers.")}
            ),
            media_type=PROMETHEUS_TYPE,
        )

    async def openapi(request: Request) -> Response:
        return JSONResponse(openapi_document())

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
        stop = threading.Event()
        threads = []
        if worker_count > 0:
            config = worker_config(settings, storage, catalog)
            for i in range(worker_count):
                worker = TranscodeWorker(catalog, storage, config)
                thread = threading.Thread(
                    target=worker.run, args=(stop,), name=f"worker-{i}", daemon=True
                )
                thread.start()
                threads.append(thread)
        if settings.webhook_interval_s > 0:
            retry = RetryPolicy(
                settings.webhook_retry_base_s,
                settings.webhook_retry_max_s,
                settings.webhook_max_attempts,
            )
            sender = threading.Thread(
                target=WebhookSender(catalog, retry).run,
                args=(stop, settings.webhook_interval_s),
                name="webhooks",
                daemon=True,
            )
            sender.start()
            threads.append(sender)
        if settings.janitor_interval_s > 0:
            janitor = Janitor(
                catalog,
                storage,
                data_dir,
                settings.janitor_stale_s,
                tus_expiry_s=settings.tus_expiry_s,
            )
            sweeper = threading.Thread(
                target=sweep, args=(janitor, settings.janitor_interval_s, stop), daemon=True
            )
            sweeper.start()
            threads.append(sweeper)
        if settings.live_ingest:
            await anyio.to_thread.run_sync(hub.start, asyncio.get_running_loop())
        try:
            yield {}
        finally:
            stop.set()
            await anyio.to_thread.run_sync(hub.close)
            for thread in threads:
                await anyio.to_thread.run_sync(thread.join, 15)
            await pages.feed.aclose()
            for limit in (write_limit, play_limit):
                if limit is not None:
                    await limit.aclose()

    routes = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/metrics", metrics_page, methods=["GET"]),
        Route("/api/openapi.json", openapi, methods=["GET"]),
        Route("/api/videos", videos.list, methods=["GET"]),
        Route("/api/videos", videos.create, methods=["POST"]),
        Route("/api/videos/{video_id}", videos.show, methods=["GET"]),
        Route("/api/videos/{video_id}", videos.delete, methods=["DELETE"]),
        Route("/api/videos/{video_id}", access.update, methods=["PATCH"]),
        Route("/api/videos/{video_id}/playback-tokens", access.token, methods=["POST"]),
        Route("/api/videos/{video_id}/retry", videos.retry, methods=["POST"]),
        Route("/api/jobs/{job_id}", videos.show_job, methods=["GET"]),
        Route("/api/live", live.create, methods=["POST"]),
        Route("/api/live/{stream_id}", live.show, methods=["GET"]),
        Route("/api/live/{stream_id}", live.delete, methods=["DELETE"]),
        Route("/api/live/{stream_id}/playback-tokens", live.token, methods=["POST"]),
        Route("/api/live/{stream_id}/reset-stream-key", live.reset_key, methods=["POST"]),
        Route("/ingest/{stream_key}/{name:path}", push.push, methods=["PUT", "POST"]),
        Route("/ingest/{stream_key}/{name:path}", push.delete, methods=["DELETE"]),
        Route("/api/direct-uploads", direct.create, methods=["POST"]),
        Route("/api/webhooks", webhooks.create, methods=["POST"]),
        Route("/api/webhooks", webhooks.list, methods=["GET"]),
        Route("/api/webhooks/{webhook_id}", webhooks.delete, methods=["DELETE"]),
        Route("/api/webhooks/{webhook_id}/deliveries", webhooks.deliveries, methods=["GET"]),
        Route("/api/uploads/", tus.options, methods=["OPTIONS"]),
        Route("/api/uploads/", tus.create, methods=["POST"]),
        Route("/api/uploads/{upload_id}", tus.head, methods=["HEAD"]),
        Route("/api/uploads/{upload_id}", tus.patch, methods=["PATCH"]),
        Route("/api/uploads/{upload_id}", tus.delete, methods=["DELETE"]),
        Route("/api/uploads/{upload_id}", tus.options, methods=["OPTIONS"]),
        *pages.routes(),
    ]
    api = Starlette(
        middleware=[
            Middleware(
                CORSMiddleware,
                allow_origins=list(settings.api_cors_origins),
                allow_methods=["GET", "HEAD", "POST", "PATCH", "DELETE", "OPTIONS"],
                allow_headers=list(API_REQUEST_HEADERS),
                expose_headers=list(API_EXPOSED_HEADERS),
                max_age=600,
            ),
            Middleware(WriteLimit, limit=write_limit),
        ],
        routes=routes,
        lifespan=lifespan,
        exception_handlers={
            ApiError: _api_error,
            HTTPException: http_error,
            StorageError: _storage_error,
            OSError: _os_error,
            Exception: _internal_error,
        },
    )
    return OriginApp(api, playback, live_playback, ctx)
