"""The web pages: a player per video (/watch/ID), an upload page (/upload) and the live CDN
dashboard (/dashboard, fed by Server-Sent Events), with their scripts and the npm packages
they use (hls.js, tus-js-client, topojson-client, world-atlas), all served from here."""

from __future__ import annotations

import html
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


NAV = (("Upload", "/upload"), ("Dashboard", "/dashboard"))
# Each page: its <main> (pages/NAME.html) and the scripts it needs, in order.
SCRIPTS = {
    "watch": ("vendor/hls.min.js", "common.js", "storyboard.js", "watch.js"),
    "upload": ("vendor/tus.min.js", "common.js", "upload.js"),
    "dashboard": ("vendor/topojson-client.min.js", "common.js", "dashboard.js"),
    "missing": (),
}
_SLOT = re.compile(r"\{\{(\w+)\}\}")


def load_templates() -> dict[str, str]:
    """Every page as layout.html around its <main>, read once."""
    layout = (PAGES_DIR / "layout.html").read_text()
    return {
        name: layout.replace("{{main}}", (PAGES_DIR / f"{name}.html").read_text())
        for name in SCRIPTS
    }


def render(template: str, page: str, title: str, config: dict[str, Any]) -> str:
    """A page with its title, navigation, scripts and a JSON config block its script reads;
    one pass, so nothing substituted (a video's title) is read as a slot again."""
    current = ' aria-current="page"'
    nav = "".join(
        f'<a href="{href}"{current if href == "/" + page else ""}>{label}</a>'
        for label, href in NAV
    )
    values = {
        "title": html.escape(title, quote=False),
        "nav": nav,
        "config": json.dumps(config).replace("<", "\\u003c"),  # no "</script>" closes it
        "scripts": "\n".join(f'<script src="/static/{s}"></script>' for s in SCRIPTS[page]),
    }
    return _SLOT.sub(lambda m: values[m.group(1)], template)


class WebPages:
    def __init__(self, ctx: OriginContext) -> None:
        self.ctx = ctx
        self.router_url = ctx.settings.router_url.rstrip("/")
        self.modules = ctx.settings.resolved_web_modules
        self.feed = DashboardFeed(ctx.catalog, ctx.metrics, self.router_url)
        self.templates = load_templates()

    def page(self, page: str, title: str, config: dict[str, Any], status: int = 200) -> Response:
        text = render(self.templates[page], page, title, config)
        return HTMLResponse(text, status_code=status, headers=PAGE_HEADERS)

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
        config = {"video_id": video_id, "router_url": self.router_url or None, "live": False}
        if video is not None:
            return self.page("watch", video.title or f"video {video.id}", config)
        live = await anyio.to_thread.run_sync(self.ctx.catalog.get_live, video_id)
        if live is None:
            return self.page("missing", "No such video", {"video_id": video_id}, 404)
        return self.page("watch", live.title or f"live {live.id}", config | {"live": True})

    async def upload(self, request: Request) -> Response:
        config = {"max_upload_bytes": self.ctx.settings.max_upload_bytes}
        return self.page("upload", "Upload", config)

    async def dashboard(self, request: Request) -> Response:
        config = {"router_url": self.router_url or None}
        return self.page("dashboard", "Dashboard", config)

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
