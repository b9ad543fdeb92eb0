"""Playback serving under /vod/{video}/: a raw ASGI handler for the hot path.

Playlists come from memory; segments from storage (a single read for local files, or the
server's zero-copy `http.response.pathsend` when it offers it). Paths are matched against a
closed grammar, so nothing a client sends is ever used as a storage path.
"""

from __future__ import annotations

import logging
import re
import time

import anyio.to_thread

from httprules.addresses import Network, client_key, within
from httprules.asgi import Message, Receive, Scope, Send
from httprules.errors import error_body
from httprules.playback_tokens import (
    ACCESS_HEADER,
    KeyFile,
    TokenRejected,
    admit_request,
    grants_site,
    refusal,
)
from httprules.ratelimit import RateLimit
from httprules.serving import (
    ByteRange,
    Unsatisfiable,
    http_date,
    if_range_allows,
    not_modified,
    parse_range,
    precondition_failed,
)
from origin.assets import AssetCache, Entry, VideoAssets
from origin.metrics import Metrics
from storage import ObjectNotFound, Storage
from storage.errors import StorageError

log = logging.getLogger("mediacdn.origin")

_PATH = re.compile(
    r"/vod/(?P<video>[A-Za-z0-9_-]{1,64})/"
    r"(?P<file>master\.m3u8|[A-Za-z0-9_-]{1,64}/"
    r"(?:index\.m3u8|init\.mp4|\d{1,9}\.(?:m4s|vtt|jpg)|poster\.jpg|storyboard\.vtt))"
)
_FORBIDDEN_RAW = (b"%2e", b"%2E", b"%2f", b"%2F", b"%00", b"%5c", b"%5C", b"..", b"\\", b"//")
SINGLE_READ_BYTES = 8 << 20
STREAM_CHUNK_BYTES = 1 << 20


def cors_headers(origins: tuple[str, ...], scope: Scope) -> list[tuple[bytes, bytes]]:
    """CORS for a playback response: any origin (`*`) or the request's if it is listed."""
    if not origins:
        return []
    if "*" in origins:
        allow = b"*"
    else:
        origin = next((v for k, v in scope["headers"] if k == b"origin"), b"")
        if origin.decode("latin-1") not in origins:
            return []
        allow = origin
    headers = [
        (b"access-control-allow-origin", allow),
        (
            b"access-control-expose-headers",
            b"Content-Length, Content-Range, ETag, Age, Via, X-Cache",
        ),
    ]
    if allow != b"*":  # the answer depends on the request's Origin: caches must key on it
        headers.append((b"vary", b"Origin"))
    return headers


class PlaybackApp:
    def __init__(
        self,
        assets: AssetCache,
        storage: Storage,
        metrics: Metrics,
        *,
        playlist_max_age_s: int = 10,
        segment_max_age_s: int = 31_536_000,
        cors_origins: tuple[str, ...] = ("*",),
        keys: KeyFile | None = None,
        limit: RateLimit | None = None,
        exempt: tuple[Network, ...] = (),
    ) -> None:
        self.keys = keys
        self.limit = limit
        self.exempt = exempt  # addresses never counted against `limit` (the CDN's POPs)
        self.assets = assets
        self.storage = storage
        self.metrics = metrics
        self.playlist_cache = f"public, max-age={playlist_max_age_s}".encode()
        self.segment_cache = f"public, max-age={segment_max_age_s}, immutable".encode()
        self.cors_origins = cors_origins

    def _cors(self, scope: Scope) -> list[tuple[bytes, bytes]]:
        return cors_headers(self.cors_origins, scope)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        method = scope["method"]
        raw = scope.get("raw_path") or scope["path"].encode()
        if any(bad in raw for bad in _FORBIDDEN_RAW) or "\x00" in scope["path"]:
            return await self._error(scope, send, 400, "bad_path", "invalid path")
        client = scope.get("client")
        address = client[0] if client else None
        try:
            path, granted, header_token = admit_request(
                self.keys, scope, scope["path"], time.time()
            )
        except TokenRejected as exc:
            return await self._error(scope, send, *refusal(exc))
        match = _PATH.fullmatch(path)
        if match is None:
            return await self._error(scope, send, 404, "not_found", "no such file")
        # CDN fills carry a header token for the whole site, or come from an address the
        # limit exempts: only viewers count against a limit
        if (
            self.limit is not None
            and not within(address, self.exempt)
            and not (
                granted
                and header_token is not None
                and self.keys is not None
                and grants_site(self.keys.current(), header_token, time.time())
            )
        ):
            decision = await self.limit.hit(client_key(address))
            if not decision.allowed:
                extra = [(k.encode(), v.encode()) for k, v in decision.headers().items()]
                message = "too many requests from this address"
                return await self._error(scope, send, 429, "rate_limited", message, extra)
        if method == "OPTIONS":
            return await self._preflight(scope, send)
        if method not in ("GET", "HEAD"):
            return await self._error(
                scope,
                send,
                405,
                "method_not_allowed",
                f"{method} is not allowed here",
                extra=[(b"allow", b"GET, HEAD, OPTIONS")],
            )
        assets = await self.assets.get(match["video"])
        entry = assets.entries.get(match["file"]) if assets else None
        if assets is None or entry is None:
            return await self._error(scope, send, 404, "not_found", "no such video or file")
        if assets.signed and not granted:
            return await self._error(scope, send, *refusal(None))
        await self._serve(scope, send, assets, entry, head=method == "HEAD")

    async def _serve(
        self, scope: Scope, send: Send, assets: VideoAssets, entry: Entry, *, head: bool
    ) -> None:
        headers = {k: v for k, v in scope["headers"]}
        # Requests relayed by a CDN node carry Via: counted apart, for the origin offload.
        route = "vod_cdn" if b"via" in headers else "vod"
        last_modified = http_date(assets.modified_at)
        base = [
            (b"etag", entry.etag.encode()),
            (b"last-modified", last_modified.encode()),
            (b"cache-control", self.segment_cache if entry.immutable else self.playlist_cache),
            (b"accept-ranges", b"bytes"),
            *self._cors(scope),
        ]
        if assets.signed:
            base.append((ACCESS_HEADER.encode(), b"signed"))
        if precondition_failed(
            (headers.get(b"if-match") or b"").decode("latin-1") or None,
            (headers.get(b"if-unmodified-since") or b"").decode("latin-1") or None,
            entry.etag,
            assets.modified_at,
        ):
            message = "If-Match or If-Unmodified-Since does not hold for this representation"
            return await self._error(scope, send, 412, "precondition_failed", message)
        inm = headers.get(b"if-none-match")
        ims = headers.get(b"if-modified-since")
        if (inm or ims) and not_modified(
            inm.decode("latin-1") if inm else None,
            ims.decode("latin-1") if ims else None,
            entry.etag,
            assets.modified_at,
        ):
            self.metrics.count_response(route, 304, 0)
            await send({"type": "http.response.start", "status": 304, "headers": base})
            await send({"type": "http.response.body", "body": b""})
            return
        rng: ByteRange | None = None
        range_header = headers.get(b"range")
        if range_header and if_range_allows(
            (headers.get(b"if-range") or b"").decode("latin-1") or None,
            entry.etag,
            last_modified,
        ):
            try:
                rng = parse_range(range_header.decode("latin-1"), entry.size_bytes)
            except Unsatisfiable:
                return await self._error(
                    scope,
                    send,
                    416,
                    "range_not_satisfiable",
                    "range outside the file",
                    extra=[(b"content-range", f"bytes */{entry.size_bytes}".encode())],
                )
        start, length = (rng.start, rng.length) if rng else (0, entry.size_bytes)
        status = 206 if rng else 200
        out = [
            (b"content-type", entry.content_type.encode()),
            (b"content-length", str(length).encode()),
            *base,
        ]
        if rng:
            out.append(
                (b"content-range", f"bytes {rng.start}-{rng.end}/{entry.size_bytes}".encode())
            )
        if head:
            await send({"type": "http.response.start", "status": status, "headers": out})
            await send({"type": "http.response.body", "body": b""})
            self.metrics.count_response(route, status, 0)
            return
        if entry.body is not None:
            await send({"type": "http.response.start", "status": status, "headers": out})
            await send({"type": "http.response.body", "body": entry.body[start : start + length]})
            self.metrics.count_response(route, status, length)
            return
        assert entry.key is not None
        await self._send_object(
            scope, send, entry.key, status, out, start, length, rng is None, route
        )

    async def _send_object(
        self,
        scope: Scope,
        send: Send,
        key: str,
        status: int,
        headers: list[tuple[bytes, bytes]],
        start: int,
        length: int,
        whole: bool,
        route: str,
    ) -> None:
        path = self.storage.local_path(key)
        extensions = scope.get("extensions") or {}
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            if path is not None and whole and "http.response.pathsend" in extensions:
                await send({"type": "http.response.start", "status": status, "headers": headers})
                await send({"type": "http.response.pathsend", "path": str(path)})
            elif length <= SINGLE_READ_BYTES:
                data = await anyio.to_thread.run_sync(self.storage.read_range, key, start, length)
                if len(data) != length:
                    raise ObjectNotFound(key)
                await send({"type": "http.response.start", "status": status, "headers": headers})
                await send({"type": "http.response.body", "body": data})
            else:
                await self._stream(tracked, key, status, headers, start, length)
        except ObjectNotFound:
            # The catalog names an object that storage does not have: never send a short body.
            await self._error(scope, send, 503, "object_missing", "the file is unavailable")
            return
        except StorageError:
            if started:  # broken mid-body: the connection is cut, never a short body sent whole
                raise
            log.warning("object storage failed serving %s", key)
            message = "object storage is not answering; try again later"
            extra = [(b"retry-after", b"5")]
            await self._error(scope, send, 503, "storage_unavailable", message, extra)
            return
        self.metrics.count_response(route, status, length)

    async def _stream(
        self,
        send: Send,
        key: str,
        status: int,
        headers: list[tuple[bytes, bytes]],
        start: int,
        length: int,
    ) -> None:
        chunks = self.storage.iter_range(key, start, length, STREAM_CHUNK_BYTES)
        sentinel = b""

        def next_chunk() -> bytes:
            return next(chunks, sentinel)

        first = await anyio.to_thread.run_sync(next_chunk)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        chunk = first
        while chunk:
            following = await anyio.to_thread.run_sync(next_chunk)
            await send({"type": "http.response.body", "body": chunk, "more_body": bool(following)})
            chunk = following

    async def _preflight(self, scope: Scope, send: Send) -> None:
        headers = [
            *self._cors(scope),
            (b"access-control-allow-methods", b"GET, HEAD, OPTIONS"),
            (b"access-control-allow-headers", b"Range, If-None-Match, If-Modified-Since, If-Range"),
            (b"access-control-max-age", b"86400"),
            (b"content-length", b"0"),
        ]
        await send({"type": "http.response.start", "status": 204, "headers": headers})
        await send({"type": "http.response.body", "body": b""})

    async def _error(
        self,
        scope: Scope,
        send: Send,
        status: int,
        code: str,
        message: str,
        extra: list[tuple[bytes, bytes]] | None = None,
    ) -> None:
        body = error_body(code, message)
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"cache-control", b"no-store"),
            *self._cors(scope),
            *(extra or []),
        ]
        self.metrics.count_response("vod", status, 0)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send(
            {"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body}
        )
