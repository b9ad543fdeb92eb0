"""The web pages: a player per video (/watch/ID), an upload page (/upload) and the live CDN
dashboard (/dashboard, fed by Server-Sent Events), with their scripts and the npm packages
they use (hls.js, tus-js-client, topojson-client, world-atlas), all served from here."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Route

from origin.context import OriginContext
from origin.dashboard import DashboardFeed
from origin.errors import ApiError

PAGES_DIR = Path(__file__).resolve().parent / "pages"
OWN_ASSET = re.compile(r"[a-z][a-z0-9-]*\.(?:js|css)")
# What the pages may load from web/node_modules (installed by `make` with `npm ci`).
VENDOR = {
    "hls.min.js": "hls.js/dist/hls.min.js",
    "tus.min.js": "tus-js-client/dist/tus.min.js",
    "topojson-client.min.js": "topojson-client/dist/topojson-client.min.js",
    "land-110m.json": "world-atlas/land-110m.json",
}
PAGE_HEADERS = {"cache-control": "no-cache", "x-content-type-options": "nosniff"}


def render(page: str, title: str, config: dict[str, Any]) -> str:
    """The page's HTML with its title and a JSON config block the page's script reads."""
    html = (PAGES_DIR / page).read_text()
    data = json.dumps(config).replace("<", "\\u003c")  # no "</script>" can close the block
    escaped = title.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return html.replace("{{title}}", escaped).replace("{{config}}", data)


class WebPages:
    def __init__(self, ctx: OriginContext) -> None:
        self.ctx = ctx
        self.router_url = ctx.settings.router_url.rstrip("/")
        self.modules = ctx.settings.resolved_web_modules
        self.feed = DashboardFeed(ctx.catalog, ctx.metrics, self.router_url)

    def routes(self) -> list[Route]:
        return [
            Route("/", self.home, methods=["GET"]),
            Route("/watch/{video_id}", self.watch, methods=["GET"]),
            Route("/upload", self.upload, methods=["GET"]),
            Route("/dashboard", self.dashboard, methods=["GET"]),
            Route("/api/dashboard", self.snapshot, methods=["GET"]),
            Route("/api/dashboard/events", self.events, methods=["GET"]),
            Route("/static/vendor/{name}", self.vendor, methods=["GET"]),
            Route("/static/{name}", self.static, methods=["GET"]),
        ]

    async def home(self, request: Request) -> Response:
        return RedirectResponse("/dashboard", status_code=302)

    async def watch(self, request: Request) -> Response:
        video_id = request.path_params["video_id"]
        video = await anyio.to_thread.run_sync(self.ctx.catalog.get_video, video_id)
        if video is None:
            return HTMLResponse(
                render("missing.html", "No such video", {"video_id": video_id}),
                status_code=404,
                headers=PAGE_HEADERS,
            )
        config = {"video_id": video.id, "router_url": self.router_url or None}
        title = video.title or f"video {video.id}"
        return HTMLResponse(render("watch.html", title, config), headers=PAGE_HEADERS)

    async def upload(self, request: Request) -> Response:
        config = {"max_upload_bytes": self.ctx.settings.max_upload_bytes}
        return HTMLResponse(render("upload.html", "Upload", config), headers=PAGE_HEADERS)

    async def dashboard(self, request: Request) -> Response:
        config = {"router_url": self.router_url or None}
        return HTMLResponse(render("dashboard.html", "Dashboard", config), headers=PAGE_HEADERS)

    async def snapshot(self, request: Request) -> Response:
        return JSONResponse(await self.feed.snapshot(), headers={"cache-control": "no-store"})

    async def events(self, request: Request) -> Response:
        return StreamingResponse(
            self.feed.events(),
            media_type="text/event-stream",
            headers={"cache-control": "no-store", "x-accel-buffering": "no"},
        )

    async def static(self, request: Request) -> Response:
        name = request.path_params["name"]
        if not OWN_ASSET.fullmatch(name) or not (PAGES_DIR / name).is_file():
            raise ApiError(404, "not_found", f"no static file {name!r}")
        return FileResponse(PAGES_DIR / name, headers={"cache-control": "no-cache"})

    async def vendor(self, request: Request) -> Response:
        name = request.path_params["name"]
        relative = VENDOR.get(name)
        if relative is None:
            raise ApiError(404, "not_found", f"no vendor file {name!r}")
        path = self.modules / relative
        if not path.is_file():
            raise ApiError(
                503,
                "web_modules_missing",
                f"{path} is missing: install the pages' npm packages with `make` (npm ci in "
                "web/) or point MEDIACDN_WEB_MODULES at a node_modules that has them",
            )
        return FileResponse(path, headers={"cache-control": "public, max-age=3600"})
