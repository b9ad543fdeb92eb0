"""The edge's authenticated admin endpoints: purge by URL or prefix, push objects, prefetch.

POST /admin/purge      {"urls": ["/vod/a/master.m3u8"], "prefixes": ["/vod/a/"]}
PUT  /admin/objects/…  the body is the object; Content-Type, Cache-Control, ETag and
                       Last-Modified of the request become the stored response's
POST /admin/prefetch   {"urls": [...]}: fetch from upstream into the cache now
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from edge.pop.accesslog import logged_path
from edge.pop.cache import EdgeCache
from edge.pop.fill import FillFailed
from edge.pop.responses import Responses
from httprules.asgi import Receive, Scope, Send
from httprules.bearer import bearer_refusal
from httprules.errors import error_body
from httprules.headers import request_headers
from httprules.jsonbody import BodyError, loads_bounded

MAX_PUSH_BYTES = 256 << 20
OBJECTS = "/admin/objects/"
MAX_DEPTH = 4  # {"urls": [...]} nests 2 deep; a deeper body is refused before it is parsed
PUSHED_HEADERS = ("content-type", "cache-control", "etag", "last-modified", "expires", "vary")


class AdminError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _authorize(keys: Sequence[str], headers: dict[str, str]) -> None:
    refusal = bearer_refusal(headers.get("authorization", ""), keys, "admin key")
    if refusal is not None:
        raise AdminError(*refusal)


async def _read_body(receive: Receive, limit: int) -> bytes:
    parts: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise AdminError(400, "interrupted", "the client went away")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise AdminError(413, "too_large", f"body over {limit} bytes")
        parts.append(chunk)
        if not message.get("more_body"):
            return b"".join(parts)


def _json(body: bytes) -> dict[str, Any]:
    try:
        data = loads_bounded(body or b"{}", MAX_DEPTH)
    except BodyError as exc:
        raise AdminError(400, "invalid_json", str(exc)) from None
    if not isinstance(data, dict):
        raise AdminError(400, "invalid_json", "the body must be a JSON object")
    return data


# what a client sends of a path and query as it is (RFC 3986 pchar, "/", "?", and "%" of an
# encoding already made); everything else it percent-encodes
AS_SENT = "/?%:@!$&'()*+,;=-._~"


def _urls(data: dict[str, Any], key: str, *, as_given: bool = True) -> list[str]:
    values = data.get(key, [])
    if not isinstance(values, list) or not all(
        isinstance(v, str) and v.startswith("/") for v in values
    ):
        raise AdminError(422, "invalid_request", f"{key!r} must be a list of paths starting /")
    # as clients' requests for them are keyed, dot segments resolved: percent-encoded as
    # clients send it (a space, a letter outside ASCII), and (`as_given`) as given, where a
    # client sent a character raw that others encode
    sent = [quote(v, safe=AS_SENT) for v in values]
    return sorted({logged_path(v) for v in (sent + values if as_given else sent)})


async def handle_admin(
    cache: EdgeCache,
    keys: Sequence[str],
    responses: Responses,
    scope: Scope,
    receive: Receive,
    send: Send,
) -> None:
    headers = request_headers(scope)
    method, path = scope["method"], scope["path"]
    json_type = {"content-type": "application/json"}
    try:
        _authorize(keys, headers)
        if method == "POST" and path == "/admin/purge":
            data = _json(await _read_body(receive, 1 << 20))
            urls, prefixes = _urls(data, "urls"), _urls(data, "prefixes")
            result: dict[str, Any] = {"purged": await _purge(cache, urls, prefixes)}
        elif method == "PUT" and path.startswith(OBJECTS):
            url = _pushed_url(scope)
            body = await _read_body(receive, MAX_PUSH_BYTES)
            stored = {k: headers[k] for k in PUSHED_HEADERS if k in headers}
            stored["content-length"] = str(len(body))
            await _purge(cache, [url], [])  # every worker's copy, before the new one is stored
            result = {"stored": cache.push(url, stored, body), "url": url}
        elif method == "POST" and path == "/admin/prefetch":
            urls = _urls(_json(await _read_body(receive, 1 << 20)), "urls", as_given=False)
            result = {"prefetched": await _prefetch(cache, urls)}
        else:
            raise AdminError(404, "not_found", f"no admin endpoint {method} {path}")
    except AdminError as exc:
        body = error_body(exc.code, exc.message)
        return await responses.respond(send, exc.status, json_type, body)
    await responses.respond(send, 200, json_type, json.dumps(result).encode())


def _pushed_url(scope: Scope) -> str:
    """The URL a push names (after /admin/objects), keyed as a client's request for it is:
    as sent (percent-encodings kept), dot segments resolved."""
    raw = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1")
    url = raw[len(OBJECTS) - 1 :] if raw.startswith(OBJECTS) else scope["path"][len(OBJECTS) - 1 :]
    if scope.get("query_string"):
        url += "?" + scope["query_string"].decode("latin-1")
    return logged_path(url)


async def _purge(cache: EdgeCache, urls: list[str], prefixes: list[str]) -> int:
    """Purge from every worker's tiers; how many stored responses went (a response held by
    several workers counts once)."""
    purged = sum(cache.purge(u) for u in urls) + sum(cache.purge_prefix(p) for p in prefixes)
    if cache.cluster is not None:
        replies = await cache.cluster.gather({"op": "purge", "urls": urls, "prefixes": prefixes})
        purged = max([purged, *(int(r.get("purged") or 0) for r in replies)])
    return purged


async def _prefetch(cache: EdgeCache, urls: list[str]) -> dict[str, str]:
    async def one(url: str) -> tuple[str, str]:
        if cache.stored(url, {}):
            return url, "cached"
        fill = cache.fetch(url, {})
        try:
            await fill.wait_complete()
        except FillFailed as exc:
            return url, f"failed: {exc}"
        return url, "stored" if fill.storable else f"not cacheable ({fill.status})"

    started = time.monotonic()
    results = dict(await asyncio.gather(*(one(u) for u in urls)))
    results["_elapsed_s"] = f"{time.monotonic() - started:.3f}"
    return results
