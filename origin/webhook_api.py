"""The webhook endpoints of the API: register an endpoint for events, list and remove them,
and see each one's recent deliveries (status, attempts, last answer)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import anyio.to_thread
import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from httprules.times import iso_utc
from manifests.webhooks import EVENTS, Delivery, Webhook
from origin.access import json_object
from origin.auth import require_api_key
from origin.context import OriginContext
from origin.errors import ApiError

MAX_URL_CHARS = 2000


def webhook_json(hook: Webhook, *, with_secret: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": hook.id,
        "url": hook.url,
        "events": list(hook.events),
        "created_at": iso_utc(hook.created_at),
    }
    return out | ({"secret": hook.secret} if with_secret else {})


def delivery_json(delivery: Delivery) -> dict[str, Any]:
    return {
        "id": delivery.id,
        "event": delivery.event,
        "status": delivery.status,
        "attempts": delivery.attempts,
        "next_attempt_at": iso_utc(delivery.next_attempt_at)
        if delivery.status == "pending"
        else None,
        "last_status": delivery.last_status,
        "last_error": delivery.last_error,
        "created_at": iso_utc(delivery.created_at),
        "delivered_at": iso_utc(delivery.delivered_at),
    }


def check_url(raw: object) -> str:
    """An http(s) URL with a host that the sender's HTTP client can send to: no spaces or
    control characters, a port in range, brackets that close (else each delivery would fail,
    or never be tried, long after the endpoint was accepted)."""
    refused = ApiError(422, "invalid_url", "url must be an http or https URL")
    if not isinstance(raw, str) or len(raw) > MAX_URL_CHARS:
        raise refused
    if any(c.isspace() or not c.isprintable() for c in raw):
        raise refused
    try:
        parts = urlsplit(raw)
        _ = parts.port  # ValueError when out of range or not a number
        httpx.URL(raw)
    except (ValueError, httpx.InvalidURL):
        raise refused from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise refused
    return raw


def check_events(raw: object) -> tuple[str, ...]:
    if raw is None:
        return EVENTS
    if (
        not isinstance(raw, list)
        or not raw
        or not all(isinstance(e, str) and e in EVENTS for e in raw)
    ):
        raise ApiError(422, "invalid_events", f"events: a list drawn from {', '.join(EVENTS)}")
    return tuple(dict.fromkeys(raw))


class WebhookApi:
    def __init__(self, ctx: OriginContext) -> None:
        self.ctx = ctx

    async def create(self, request: Request) -> Response:
        """POST /api/webhooks {"url", "events"?}: the secret is shown this once."""
        require_api_key(request, self.ctx.settings.api_keys)
        data = await json_object(request)
        unknown = set(data) - {"url", "events"}
        if unknown:
            raise ApiError(422, "invalid_field", f"unknown field {sorted(unknown)[0]!r}")
        url, events = check_url(data.get("url")), check_events(data.get("events"))
        hook = await anyio.to_thread.run_sync(self.ctx.catalog.create_webhook, url, events)
        return JSONResponse(webhook_json(hook, with_secret=True), status_code=201)

    async def list(self, request: Request) -> Response:
        require_api_key(request, self.ctx.settings.api_keys)
        hooks = await anyio.to_thread.run_sync(self.ctx.catalog.webhooks)
        return JSONResponse({"webhooks": [webhook_json(h) for h in hooks]})

    async def _hook(self, request: Request) -> Webhook:
        require_api_key(request, self.ctx.settings.api_keys)
        webhook_id = request.path_params["webhook_id"]
        hook = await anyio.to_thread.run_sync(self.ctx.catalog.get_webhook, webhook_id)
        if hook is None:
            raise ApiError(404, "webhook_not_found", f"no webhook {webhook_id!r}")
        return hook

    async def delete(self, request: Request) -> Response:
        hook = await self._hook(request)
        await anyio.to_thread.run_sync(self.ctx.catalog.delete_webhook, hook.id)
        return Response(status_code=204)

    async def deliveries(self, request: Request) -> Response:
        hook = await self._hook(request)
        found = await anyio.to_thread.run_sync(self.ctx.catalog.deliveries, hook.id)
        return JSONResponse({"deliveries": [delivery_json(d) for d in found]})
