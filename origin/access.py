"""Who may watch: a video's access (public or signed), changed with PATCH, and the playback
tokens a signed video is watched with (httprules/playback_tokens.py)."""

from __future__ import annotations

import ipaddress
import time
from typing import Any

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from httprules.jsonbody import BodyError, loads_bounded, read_limited
from httprules.playback_tokens import KeyFile, mint
from httprules.times import iso_utc
from manifests.errors import VideoNotFound
from manifests.records import Video
from origin.api import video_json
from origin.auth import require_api_key
from origin.context import OriginContext
from origin.errors import ApiError
from origin.ingest import parse_access

MAX_BODY_BYTES = 4096
MIN_TTL_S = 10


async def json_object(request: Request) -> dict[str, Any]:
    """The request's JSON object body (an empty body is `{}`)."""
    try:
        body = await read_limited(request.stream(), MAX_BODY_BYTES)
        data = loads_bounded(body, 4) if body.strip() else {}
    except BodyError as exc:
        raise ApiError(exc.status, exc.code, str(exc)) from None
    if not isinstance(data, dict):
        raise ApiError(422, "invalid_json", "the body must be a JSON object")
    return data


def signed_hls(video_id: str, token: str) -> str:
    """The master playlist's path with the token right after the video's directory."""
    return f"/vod/{video_id}/~{token}/master.m3u8"


class AccessApi:
    def __init__(self, ctx: OriginContext, keys: KeyFile | None) -> None:
        self.ctx = ctx
        self.keys = keys

    async def update(self, request: Request) -> Response:
        """PATCH /api/videos/{id} {"access": "public" | "signed", "listed": bool}: after an
        access change, cached copies are purged from the origin's memory and the CDN, so the
        new rule holds at once."""
        require_api_key(request, self.ctx.settings.api_keys)
        video_id = request.path_params["video_id"]
        data = await json_object(request)
        unknown = set(data) - {"access", "listed"}
        if unknown:
            raise ApiError(422, "invalid_field", f"cannot change {sorted(unknown)[0]!r}")
        if not data:
            raise ApiError(422, "missing_field", "send the fields to change: access, listed")
        access = parse_access(data["access"]) if "access" in data else None
        listed = data.get("listed")
        if listed is not None and not isinstance(listed, bool):
            raise ApiError(422, "invalid_listed", "listed must be true or false")
        if access == "signed" and self.keys is None:
            raise ApiError(409, "signing_not_configured", "the origin has no playback keys")
        try:
            video = await anyio.to_thread.run_sync(
                lambda: self.ctx.catalog.set_access(video_id, access, listed=listed)
            )
        except VideoNotFound:
            raise ApiError(404, "video_not_found", f"no video {video_id!r}") from None
        if access is not None:
            self.ctx.assets.invalidate(video_id)
            if self.ctx.edges.purge:
                await anyio.to_thread.run_sync(self.ctx.edges.purge_video, video_id)
        return JSONResponse(video_json(video, None))

    async def token(self, request: Request) -> Response:
        """POST /api/videos/{id}/playback-tokens {"ttl_s": 3600, "client_ip": "…"} → 201."""
        require_api_key(request, self.ctx.settings.api_keys)
        video_id = request.path_params["video_id"]
        ttl, client_ip = token_terms(await json_object(request), self.ctx.settings.max_token_ttl_s)
        if self.keys is None:
            raise ApiError(409, "signing_not_configured", "the origin has no playback keys")
        video = await anyio.to_thread.run_sync(self.ctx.catalog.get_video, video_id)
        if video is None:
            raise ApiError(404, "video_not_found", f"no video {video_id!r}")
        expires_at = int(time.time()) + ttl
        token = mint(self.keys.current(), f"/vod/{video_id}/", expires_at, client_ip)
        return JSONResponse(
            token_json(video, token, expires_at),
            status_code=201,
            headers={"cache-control": "no-store"},
        )


def token_terms(data: dict[str, Any], max_ttl_s: int) -> tuple[int, str | None]:
    """A token request's lifetime (`ttl_s`, default an hour) and the address it may bind."""
    ttl = data.get("ttl_s", 3600)
    if isinstance(ttl, bool) or not isinstance(ttl, int) or not MIN_TTL_S <= ttl <= max_ttl_s:
        raise ApiError(422, "invalid_ttl", f"ttl_s must be whole seconds, {MIN_TTL_S}–{max_ttl_s}")
    client_ip = data.get("client_ip")
    if client_ip is not None and (not isinstance(client_ip, str) or not _is_ip(client_ip)):
        raise ApiError(422, "invalid_client_ip", "client_ip must be an IP address")
    return ttl, client_ip


def token_json(video: Video, token: str, expires_at: int) -> dict[str, Any]:
    return {
        "token": token,
        "expires_at": iso_utc(expires_at),
        "hls": signed_hls(video.id, token),
        "video_id": video.id,
        "access": video.access,
    }


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value.strip())
    except ValueError:
        return False
    return True
