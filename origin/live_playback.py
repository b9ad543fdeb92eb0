"""Live playback under /live/{stream}/: the multivariant playlist, each rendition's LL-HLS
playlist with blocking reload and delta updates (RFC 8216bis §6.2.5), the same for players
without LL-HLS (classic.m3u8: whole segments only), and init segments, segments and parts
from storage. A request for what is about to exist (the next part, the
segment being made, a playlist that will hold a part) waits for it, at most three target
durations, then gets 503. Everything made is immutable and cached as such; playlists briefly,
blocking ones (whose URL names what they hold) longer."""

from __future__ import annotations

import re
import time
from urllib.parse import parse_qsl

import anyio.to_thread

from httprules.asgi import Message, Receive, Scope, Send
from httprules.errors import error_body
from httprules.playback_tokens import ACCESS_HEADER, KeyFile, TokenRejected, admit_request, refusal
from manifests.blocking import (
    BadPlaylistRequest,
    PlaylistRequest,
    parse_playlist_request,
    refuse_if_too_far,
    satisfied,
)
from manifests.catalog import Catalog
from manifests.live_playlist import (
    BLOCKING_CACHE_TARGETS,
    PlaylistView,
    RenditionReport,
    render_live_playlist,
)
from manifests.live_streams import LiveRendition, render_live_master
from origin.live import LiveHub
from origin.metrics import Metrics
from origin.playback import cors_headers
from storage import ObjectNotFound, Storage
from storage.errors import StorageError
from storage.keys import live_key

_PATH = re.compile(
    r"/live/(?P<stream>[A-Za-z0-9_-]{1,64})/(?:(?P<master>master|classic)\.m3u8|"
    r"(?P<rendition>[A-Za-z0-9_-]{1,64})/(?P<name>index\.m3u8|classic\.m3u8|init\.mp4|"
    r"(?P<msn>\d{1,12})(?:\.(?P<part>\d{1,4}))?\.m4s))"
)
CLASSIC = "classic.m3u8"  # a rendition's playlist for players without LL-HLS: no parts
PLAYLIST = b"application/vnd.apple.mpegurl"
SIGNED = (ACCESS_HEADER.encode(), b"signed")
IMMUTABLE = b"public, max-age=31536000, immutable"


class LivePlayback:
    def __init__(
        self,
        catalog: Catalog,
        storage: Storage,
        hub: LiveHub,
        metrics: Metrics,
        *,
        cors_origins: tuple[str, ...] = ("*",),
        keys: KeyFile | None = None,
    ) -> None:
        self.catalog, self.storage, self.hub, self.metrics = catalog, storage, hub, metrics
        self.cors_origins = cors_origins
        self.keys = keys
        self._signed: dict[str, bool] = {}  # by stream: a stream's access never changes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        method = scope["method"]
        if method == "OPTIONS":
            return await self._respond(
                scope,
                send,
                204,
                b"",
                [
                    (b"access-control-allow-methods", b"GET, HEAD, OPTIONS"),
                    (b"access-control-max-age", b"86400"),
                ],
            )
        if method not in ("GET", "HEAD"):
            return await self._error(
                scope, send, 405, "method_not_allowed", f"{method} is not allowed here"
            )
        try:
            path, granted, _ = admit_request(self.keys, scope, scope["path"], time.time())
        except TokenRejected as exc:
            return await self._error(scope, send, *refusal(exc))
        match = _PATH.fullmatch(path)
        if match is None:
            return await self._error(scope, send, 404, "not_found", "no such file")
        stream_id, rendition = match["stream"], match["rendition"]
        if await self._is_signed(stream_id):
            if not granted:
                return await self._error(scope, send, *refusal(None))
            send = _marked_signed(send)  # POPs send it only to requests a token granted
        query = dict(parse_qsl((scope.get("query_string") or b"").decode("latin-1")))
        try:
            request = (
                parse_playlist_request(query)
                if match["name"] == "index.m3u8"
                else PlaylistRequest()
            )
        except BadPlaylistRequest as exc:
            return await self._error(scope, send, 400, "bad_request", str(exc))
        renditions = await self._renditions(stream_id)
        on_air = all(r.info.get("codecs") and r.track.on_air for r in renditions)
        if not renditions or not on_air:
            return await self._error(
                scope, send, 404, "not_live", "no such live stream, or it has not started"
            )
        if rendition is None:
            media = CLASSIC if match["master"] == "classic" else "index.m3u8"
            body = render_live_master(renditions, media).encode()
            return await self._respond(
                scope,
                send,
                200,
                body,
                [(b"content-type", PLAYLIST), (b"cache-control", b"public, max-age=1")],
            )
        current = next((r for r in renditions if r.name == rendition), None)
        if current is None:
            return await self._error(scope, send, 404, "not_found", "no such rendition")
        deadline = time.monotonic() + 3 * current.track.target_duration_s
        if match["name"] == CLASSIC:
            return await self._classic(scope, send, current)
        if match["name"] == "index.m3u8":
            return await self._playlist(
                scope, send, stream_id, renditions, current, request, deadline
            )
        if match["name"] == "init.mp4":
            return await self._object(
                scope, send, live_key(stream_id, rendition, "init.mp4"), b"video/mp4"
            )
        msn, part = int(match["msn"]), None if match["part"] is None else int(match["part"])
        while not self._made(current, msn, part):
            if not self._coming(current, msn, part) or time.monotonic() >= deadline:
                return await self._error(scope, send, 404, "not_found", "no such part or segment")
            await self.hub.wait(stream_id, deadline - time.monotonic())
            current = next(
                (r for r in await self._renditions(stream_id) if r.name == rendition), current
            )
        return await self._object(
            scope, send, live_key(stream_id, rendition, match["name"]), b"video/iso.segment"
        )

    async def _renditions(self, stream_id: str) -> list[LiveRendition]:
        _, renditions = await anyio.to_thread.run_sync(self.catalog.live_renditions, stream_id)
        return renditions

    @staticmethod
    def _made(r: LiveRendition, msn: int, part: int | None) -> bool:
        track = r.track
        if part is None:
            return any(s.msn == msn for s in track.segments)
        if msn == track.next_msn:
            return part < len(track.pending)
        return any(s.msn == msn and part < len(s.parts) for s in track.segments)

    @staticmethod
    def _coming(r: LiveRendition, msn: int, part: int | None) -> bool:
        """Worth waiting for: the segment being made, or its next parts (the preload hint)."""
        track = r.track
        if track.ended:
            return False
        if part is None:
            return msn == track.next_msn
        return (
            msn == track.next_msn and part <= len(track.pending) + track.advance_part_limit
        ) or (msn == track.next_msn + 1 and part == 0)

    async def _playlist(
        self,
        scope: Scope,
        send: Send,
        stream_id: str,
        renditions: list[LiveRendition],
        current: LiveRendition,
        request: PlaylistRequest,
        deadline: float,
    ) -> None:
        try:
            refuse_if_too_far(current.track, request)
        except BadPlaylistRequest as exc:
            return await self._error(scope, send, 400, "bad_request", str(exc))
        while not satisfied(current.track, request):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return await self._error(
                    scope,
                    send,
                    503,
                    "not_yet",
                    "the stream has not reached that part yet; ask again",
                )
            await self.hub.wait(stream_id, remaining)
            renditions = await self._renditions(stream_id)
            current = next((r for r in renditions if r.name == current.name), current)
        reports = tuple(
            RenditionReport(
                f"../{r.name}/index.m3u8", *(r.track.last_part or (r.track.next_msn, None))
            )
            for r in renditions
            if r.name != current.name and r.track.last_part is not None
        )
        body = render_live_playlist(
            current.track, PlaylistView(skip=request.skip, reports=reports)
        ).encode()
        target = current.track.target_duration_s
        max_age = BLOCKING_CACHE_TARGETS * target if request.blocking else 1
        if current.track.ended:
            max_age = 10
        cache = f"public, max-age={max_age}".encode()
        await self._respond(
            scope, send, 200, body, [(b"content-type", PLAYLIST), (b"cache-control", cache)]
        )

    async def _classic(self, scope: Scope, send: Send, current: LiveRendition) -> None:
        """The rendition's playlist as players without LL-HLS expect it: whole segments only,
        no blocking (they reload on their own, every target duration)."""
        body = render_live_playlist(current.track, PlaylistView(low_latency=False)).encode()
        cache = b"public, max-age=10" if current.track.ended else b"public, max-age=1"
        await self._respond(
            scope, send, 200, body, [(b"content-type", PLAYLIST), (b"cache-control", cache)]
        )

    async def _object(self, scope: Scope, send: Send, key: str, content_type: bytes) -> None:
        try:
            body = await anyio.to_thread.run_sync(self.storage.get_bytes, key)
        except ObjectNotFound:
            return await self._error(scope, send, 404, "not_found", "no such part or segment")
        except StorageError:
            return await self._error(
                scope,
                send,
                503,
                "storage_unavailable",
                "object storage is not answering; try again later",
            )
        await self._respond(
            scope, send, 200, body, [(b"content-type", content_type), (b"cache-control", IMMUTABLE)]
        )

    async def _is_signed(self, stream_id: str) -> bool:
        signed = self._signed.get(stream_id)
        if signed is None:
            stream = await anyio.to_thread.run_sync(self.catalog.get_live, stream_id)
            if stream is None:
                return False  # answered as not found
            signed = self._signed[stream_id] = stream.settings.access == "signed"
        return signed

    async def _respond(
        self, scope: Scope, send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]
    ) -> None:
        out = [
            *headers,
            (b"content-length", str(len(body)).encode()),
            *cors_headers(self.cors_origins, scope),
        ]
        self.metrics.count_response("live", status, len(body))
        await send({"type": "http.response.start", "status": status, "headers": out})
        await send(
            {"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body}
        )

    async def _error(self, scope: Scope, send: Send, status: int, code: str, message: str) -> None:
        await self._respond(
            scope,
            send,
            status,
            error_body(code, message),
            [(b"content-type", b"application/json"), (b"cache-control", b"no-store")],
        )


def _marked_signed(send: Send) -> Send:
    """`send` with every response marked as a signed stream's."""

    async def marked(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message["headers"], SIGNED]}
        await send(message)

    return marked
