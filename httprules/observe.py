"""What every HTTP service records of each request: a request id (the client's `X-Request-Id`
when it is a sane token, else a new one; sent back and on to upstreams), an access record, and
Prometheus counts and latency by route template and status."""

from __future__ import annotations

import re
import secrets
import time
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from starlette.routing import BaseRoute, Match, Mount

from httprules.asgi import Message, Receive, Scope, Send
from httprules.logs import log_access
from httprules.prometheus import Family, Histogram

REQUEST_ID_HEADER = "x-request-id"
_SANE_ID = re.compile(rb"[A-Za-z0-9._:-]{1,64}")


def request_id(headers: Sequence[tuple[bytes, bytes]]) -> str:
    """The client's request id if it sent a sane one (a token of at most 64 characters),
    else a new random one."""
    for name, value in headers:
        if name.lower() == b"x-request-id" and _SANE_ID.fullmatch(value):
            return value.decode("ascii")
    return secrets.token_hex(8)


def with_request_id(headers: Sequence[tuple[bytes, bytes]], rid: str) -> list[tuple[bytes, bytes]]:
    """`headers` with `rid` as their one X-Request-Id."""
    kept = [(k, v) for k, v in headers if k.lower() != b"x-request-id"]
    return [*kept, (b"x-request-id", rid.encode())]


def route_template(routes: Sequence[BaseRoute], scope: Scope) -> str:
    """The route a request matched, as written (`/api/videos/{video_id}`): a label of bounded
    cardinality, whatever the paths asked."""
    partial = None
    for route in routes:
        match, _ = route.matches(scope)
        if match is Match.NONE:
            continue
        path = getattr(route, "path", "") or "/"
        name = f"{path}/*" if isinstance(route, Mount) else path
        if match is Match.FULL:
            return name
        partial = partial or name
    return partial or "unmatched"


class HttpMetrics:
    """Responses by (route, method, status), body bytes by route, latency by route."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.responses: Counter[tuple[str, str, str]] = Counter()
        self.sent_bytes: Counter[str] = Counter()
        self.latency = Histogram()

    def record(self, route: str, method: str, status: int, body_bytes: int, took_s: float) -> None:
        self.responses[(route, method, str(status))] += 1
        self.sent_bytes[route] += body_bytes
        self.latency.observe(took_s, route)

    def families(self) -> list[Family]:
        p = self.prefix
        responses = Family(
            f"{p}_http_responses_total", "counter", "HTTP responses, by route, method and status."
        )
        for (route, method, status), n in sorted(self.responses.items()):
            responses.add(n, route=route, method=method, status=status)
        sent = Family(f"{p}_http_sent_bytes_total", "counter", "Response body bytes, by route.")
        for route, n in sorted(self.sent_bytes.items()):
            sent.add(n, route=route)
        latency = self.latency.family(
            f"{p}_http_request_duration_seconds",
            "Time from a request's arrival to its response's last byte, by route.",
            ("route",),
            self.latency.snapshot(),
        )
        return [responses, sent, latency]


class Observed:
    """ASGI middleware: each HTTP request gets an id, an access record (`mediacdn.access`)
    and its place in `metrics`. `routes` name the route templates; `service` labels the log."""

    def __init__(
        self,
        app: Any,
        metrics: HttpMetrics,
        routes: Callable[[], Sequence[BaseRoute]],
        service: str,
    ) -> None:
        self.app, self.metrics, self.routes, self.service = app, metrics, routes, service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        rid = request_id(scope.get("headers", ()))
        scope["headers"] = with_request_id(scope.get("headers", ()), rid)
        status, sent = 500, 0

        async def observing_send(message: Message) -> None:
            nonlocal status, sent
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = with_request_id(message.get("headers", ()), rid)
            elif message["type"] == "http.response.body":
                sent += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, observing_send)
        finally:
            took_s = time.perf_counter() - started
            route = route_template(self.routes(), scope)
            self.metrics.record(route, scope["method"], status, sent, took_s)
            client = scope.get("client")
            path = scope.get("path", "")
            if scope.get("query_string"):
                path += "?<query>"  # queries can carry keys and tokens: not logged
            log_access(
                {
                    "service": self.service,
                    "client": client[0] if client else "",
                    "method": scope["method"],
                    "path": path,
                    "route": route,
                    "status": status,
                    "bytes": sent,
                    "ms": round(took_s * 1000, 3),
                    "id": rid,
                }
            )
