"""A scripted upstream for edge tests: per-path responses, request counts, holds, truncation."""

from __future__ import annotations

import email.utils
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

import anyio.to_thread

Message = MutableMapping[str, Any]


@dataclass
class Route:
    body: bytes = b"hello"
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    etag: str | None = None
    truncate_at: int | None = None  # send this many bytes of a longer declared body, then drop
    hold: threading.Event | None = None  # answer only once this is set
    vary_body: str | None = None  # the body is this request header's value
    pause_at: int | None = None  # send this many bytes, then the rest once `resume` is set
    resume: threading.Event | None = None
    chunked: bool = False  # no Content-Length: the body in two pieces, chunked


@dataclass
class ScriptedOrigin:
    routes: dict[str, Route] = field(default_factory=dict)
    hits: Counter[str] = field(default_factory=Counter)
    seen_headers: list[dict[str, str]] = field(default_factory=list)
    clock: Callable[[], float] = time.time  # for Date headers: share the edge's fake clock

    async def __call__(
        self,
        scope: MutableMapping[str, Any],
        receive: Callable[[], Awaitable[Message]],
        send: Callable[[Message], Awaitable[None]],
    ) -> None:
        if scope["type"] != "http":
            return
        path = scope["path"] + (
            "?" + scope["query_string"].decode() if scope["query_string"] else ""
        )
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        self.hits[path] += 1
        self.seen_headers.append(headers)
        if scope["method"] not in ("GET", "HEAD"):
            while (await receive()).get("more_body"):
                pass
        route = self.routes.get(path)
        if route is None:
            await self._send(send, 404, {"content-type": "text/plain"}, b"no such path")
            return
        if route.hold is not None:
            await anyio.to_thread.run_sync(route.hold.wait, 60)
        body = route.body
        if route.vary_body is not None:
            body = headers.get(route.vary_body, "none").encode()
        out = {"date": email.utils.formatdate(self.clock(), usegmt=True), **route.headers}
        if route.etag:
            out["etag"] = route.etag
            if headers.get("if-none-match") == route.etag:
                await self._send(send, 304, out, b"")
                return
        if route.chunked:
            start = {"type": "http.response.start", "status": route.status}
            await send(start | {"headers": [(k.encode(), v.encode()) for k, v in out.items()]})
            half = len(body) // 2
            await send({"type": "http.response.body", "body": body[:half], "more_body": True})
            await send({"type": "http.response.body", "body": body[half:]})
            return
        if route.pause_at is not None and route.resume is not None:
            out["content-length"] = str(len(body))
            start = {"type": "http.response.start", "status": route.status}
            await send(start | {"headers": [(k.encode(), v.encode()) for k, v in out.items()]})
            first = {"type": "http.response.body", "body": body[: route.pause_at]}
            await send(first | {"more_body": True})
            await anyio.to_thread.run_sync(route.resume.wait, 60)
            await send({"type": "http.response.body", "body": body[route.pause_at :]})
            return
        if route.truncate_at is not None:
            out["content-length"] = str(len(body))
            await send(
                {
                    "type": "http.response.start",
                    "status": route.status,
                    "headers": [(k.encode(), v.encode()) for k, v in out.items()],
                }
            )
            await send(
                {"type": "http.response.body", "body": body[: route.truncate_at], "more_body": True}
            )
            raise ConnectionAbortedError("scripted truncation")
        await self._send(send, route.status, out, b"" if scope["method"] == "HEAD" else body)

    @staticmethod
    async def _send(
        send: Callable[[Message], Awaitable[None]],
        status: int,
        headers: dict[str, str],
        body: bytes,
    ) -> None:
        headers = {**headers, "content-length": str(len(body))} if status != 304 else headers
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(k.encode(), v.encode()) for k, v in headers.items()],
            }
        )
        await send({"type": "http.response.body", "body": body})
