"""The live endpoints of the API: create a live stream (its SRT and RTMP ingest URLs and its
key), read its status, end it. Its playback is under /live/{id}/; once ended, its recording
is the video with the same id."""

from __future__ import annotations

import time
from typing import Any

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from httprules.playback_tokens import KeyFile, mint
from httprules.times import iso_utc
from manifests.live_streams import LiveSettings, LiveStream
from origin.access import json_object, token_terms
from origin.auth import owner_of, require_api_key
from origin.context import OriginContext
from origin.errors import ApiError
from origin.ingest import parse_access
from origin.live import LiveHub
from transcoder.live_command import RTMP_APP, rtmp_url, srt_push_url

MAX_TITLE_CHARS = 200


def live_json(
    stream: LiveStream, host: str, *, with_key: bool, origin_url: str = ""
) -> dict[str, Any]:
    """A stream as the API shows it; `with_key`: its key and ingest URLs too (`origin_url`:
    this origin's, where HTTP pushes go)."""
    out: dict[str, Any] = {
        "id": stream.id,
        "title": stream.title,
        "status": stream.status,
        "access": stream.settings.access,
        "playback": {
            "hls": f"/live/{stream.id}/master.m3u8",
            "classic": f"/live/{stream.id}/classic.m3u8",  # without LL-HLS parts
        },
        "video_id": stream.video_id,
        "segment_duration": stream.settings.segment_s,
        "part_duration": stream.settings.part_s,
        "dvr_window": stream.settings.window_s,
        "created_at": iso_utc(stream.created_at),
        "started_at": iso_utc(stream.started_at),
        "ended_at": iso_utc(stream.ended_at),
    }
    if with_key:
        error = stream.ingest_error
        out["ingest_error"] = (
            None
            if error is None
            else {"at": iso_utc(error.at), "protocol": error.protocol, "message": error.message}
        )
        out["stream_key"] = stream.stream_key
        out["ingest_url"] = srt_push_url(host, stream.ingest_port, stream.stream_key)
        out["ingest"] = {
            "srt": out["ingest_url"],
            "rtmp": rtmp_url(host, stream.ingest_port, stream.stream_key),
            "rtmp_server": f"rtmp://{host}:{stream.ingest_port}/{RTMP_APP}",
            "http": f"{origin_url}/ingest/{stream.stream_key}/",
        }
    return out


def _origin(request: Request) -> str:
    """This origin's URL as the client named it."""
    return str(request.base_url).rstrip("/")


class LiveApi:
    def __init__(self, ctx: OriginContext, hub: LiveHub, keys: KeyFile | None = None) -> None:
        self.ctx = ctx
        self.hub = hub
        self.keys = keys

    def _host(self, request: Request) -> str:
        return self.ctx.settings.live_host or request.url.hostname or "127.0.0.1"

    async def create(self, request: Request) -> Response:
        """POST /api/live {"title"?}: 201 with the ingest URL and the stream key."""
        require_api_key(request, self.ctx.settings.api_keys)
        data = await json_object(request)
        unknown = set(data) - {"title", "access"}
        if unknown:
            raise ApiError(422, "invalid_field", f"unknown field {sorted(unknown)[0]!r}")
        title = data.get("title", "")
        if not isinstance(title, str) or len(title) > MAX_TITLE_CHARS:
            raise ApiError(
                422, "invalid_title", f"title: text of at most {MAX_TITLE_CHARS} characters"
            )
        access = parse_access(data.get("access", "public"))
        if access == "signed" and self.keys is None:
            raise ApiError(409, "signing_not_configured", "the origin has no playback keys")
        s = self.ctx.settings
        settings = LiveSettings(s.live_segment_s, s.live_part_s, s.live_window_s, access)

        def create() -> LiveStream:
            return self.ctx.catalog.create_live(
                title, settings, s.live_port_range, owner=owner_of(request)
            )

        try:
            stream = await anyio.to_thread.run_sync(create)
        except LookupError:
            raise ApiError(
                503,
                "no_ingest_port",
                "every live ingest port is in use; end a stream or widen MEDIACDN_LIVE_PORTS",
            ) from None
        self.hub.watch(stream)
        body = live_json(stream, self._host(request), with_key=True, origin_url=_origin(request))
        return JSONResponse(body, status_code=201, headers={"location": f"/api/live/{stream.id}"})

    async def _stream(self, request: Request) -> LiveStream:
        stream_id = request.path_params["stream_id"]
        stream = await anyio.to_thread.run_sync(self.ctx.catalog.get_live, stream_id)
        if stream is None:
            raise ApiError(404, "live_not_found", f"no live stream {stream_id!r}")
        return stream

    async def show(self, request: Request) -> Response:
        """GET /api/live/{id}: with an API key, the ingest URL and key too."""
        keyed = "authorization" in request.headers
        if keyed:
            require_api_key(request, self.ctx.settings.api_keys)
        stream = await self._stream(request)
        body = live_json(stream, self._host(request), with_key=keyed, origin_url=_origin(request))
        return JSONResponse(body)

    async def reset_key(self, request: Request) -> Response:
        """POST /api/live/{id}/reset-stream-key: a new key; the old one stops working at once
        (an encoder on air with it is cut, and the broadcast waits for one with the new key,
        as for a dropped connection). 409 for an ended stream."""
        require_api_key(request, self.ctx.settings.api_keys)
        stream = await self._stream(request)
        reset = await anyio.to_thread.run_sync(self.ctx.catalog.reset_live_key, stream.id)
        if reset is None:
            raise ApiError(409, "live_ended", "this stream has ended: it has no key to reset")
        self.hub.rekey(reset.id, reset.stream_key)
        body = live_json(reset, self._host(request), with_key=True, origin_url=_origin(request))
        return JSONResponse(body)

    async def delete(self, request: Request) -> Response:
        """DELETE /api/live/{id}: the key stops working at once; a broadcast in progress ends
        and is recorded."""
        require_api_key(request, self.ctx.settings.api_keys)
        stream = await self._stream(request)
        await anyio.to_thread.run_sync(self.hub.end, stream.id)
        ended = await anyio.to_thread.run_sync(self.ctx.catalog.set_live_status, stream.id, "ended")
        assert ended is not None
        return JSONResponse(live_json(ended, self._host(request), with_key=False))

    async def token(self, request: Request) -> Response:
        """POST /api/live/{id}/playback-tokens {"ttl_s", "client_ip"?} → 201: a token for the
        stream's playback (its recording, a video with the same id, takes the video's)."""
        require_api_key(request, self.ctx.settings.api_keys)
        ttl, client_ip = token_terms(await json_object(request), self.ctx.settings.max_token_ttl_s)
        if self.keys is None:
            raise ApiError(409, "signing_not_configured", "the origin has no playback keys")
        stream = await self._stream(request)
        expires_at = int(time.time()) + ttl
        token = mint(self.keys.current(), f"/live/{stream.id}/", expires_at, client_ip)
        body = {
            "token": token,
            "expires_at": iso_utc(expires_at),
            "hls": f"/live/{stream.id}/~{token}/master.m3u8",
            "classic": f"/live/{stream.id}/~{token}/classic.m3u8",
            "stream_id": stream.id,
            "access": stream.settings.access,
        }
        return JSONResponse(body, status_code=201, headers={"cache-control": "no-store"})
