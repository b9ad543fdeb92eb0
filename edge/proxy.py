"""The edge cache node: a shared HTTP cache and reverse proxy (RFC 9111) for any path of its
upstream, with request collapsing, stale serving, purge and push. A raw ASGI app."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from edge.cache_control import (
    UNSAFE_METHODS,
    AgeClock,
    age_clock,
    is_storable,
    judge,
    merge_304,
    vary_names,
    vary_values,
)
from edge.fill import Fill, FillFailed, Reader
from edge.headers import (
    HOP_BY_HOP,
    NOT_FORWARDED_ON_FILL,
    X_CACHE,
    encode,
    end_to_end,
    error_body,
    request_headers,
)
from edge.metrics import EdgeMetrics
from edge.policy import DEFAULT_POLICY, make_policy
from edge.store import Entry, ResponseStore
from mediacdn.asgi import Receive, Scope, Send
from origin.http_rules import Unsatisfiable, not_modified, parse_range

SEGMENT_NUMBER = re.compile(r"^(?P<stem>.*/)(?P<n>\d{1,9})(?P<ext>\.(?:m4s|ts|mp4|vtt))$")


SPILL_MARK = b"cdn-spilled-from="


def strip_spill_mark(query: bytes) -> bytes:
    return b"&".join(p for p in query.split(b"&") if p and not p.startswith(SPILL_MARK))


@dataclass(frozen=True, slots=True)
class EdgeConfig:
    name: str
    upstream: str
    capacity_bytes: int = 512 << 20
    policy: str = DEFAULT_POLICY
    admin_keys: tuple[str, ...] = ()
    upstream_timeout_s: float = 10.0
    prefetch_segments: int = 0
    admin_host: str = "127.0.0.1"
    admin_port: int | None = None  # None: admin under /admin/ on the public listener
    router_url: str | None = None  # send heartbeats here
    public_url: str | None = None  # where clients reach this POP (in heartbeats)
    lat: float = 0.0
    lon: float = 0.0
    tier: str = "edge"
    max_in_flight: int = 1000
    max_mbps: float = 10_000.0
    heartbeat_s: float = 1.0

    @property
    def admin_on_public(self) -> bool:
        return self.admin_port is None


class Edge:
    def __init__(
        self,
        config: EdgeConfig,
        *,
        clock: Callable[[], float] = time.time,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.config = config
        self.clock = clock
        self.store = ResponseStore(make_policy(config.policy, config.capacity_bytes, clock=clock))
        self.metrics = EdgeMetrics()
        self.fills: dict[str, Fill] = {}
        self.via = f"1.1 {config.name}"
        self.neighbours: list[str] = []  # from the router: where to spill when overloaded
        self._background: set[asyncio.Task[None]] = set()
        timeout = httpx.Timeout(config.upstream_timeout_s)
        self.client = httpx.AsyncClient(
            base_url=config.upstream.rstrip("/"),
            timeout=timeout,
            transport=transport,
            limits=httpx.Limits(max_connections=512, max_keepalive_connections=64),
        )

    # -- ASGI entry points -----------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            return await self._lifespan(receive, send)
        if scope["type"] != "http":
            return
        path = scope["path"]
        if path in ("/healthz", "/metrics", "/stats"):
            return await self._own(scope, send, path)
        if self.config.admin_on_public and path.startswith("/admin/"):
            return await self.admin(scope, receive, send)
        query = scope.get("query_string", b"")
        spilled = SPILL_MARK in query
        if spilled:  # sent here by an overloaded neighbour: serve it as the plain URL
            scope = dict(scope, query_string=strip_spill_mark(query))
        elif (
            self.metrics.in_flight >= self.config.max_in_flight
            and self.neighbours
            and scope["method"] in ("GET", "HEAD")
        ):
            return await self._spill(scope, send)
        self.metrics.in_flight += 1
        try:
            await self._proxy(scope, receive, send)
        finally:
            self.metrics.in_flight -= 1

    async def _spill(self, scope: Scope, send: Send) -> None:
        """Overloaded: a 307 to the best neighbour instead of a place in the queue. The mark in
        the query stops the neighbour from spilling it again (and is not part of its key)."""
        self.metrics.spilled += 1
        target = self.neighbours[0]  # the router's best pick, load-aware, every heartbeat
        query = scope.get("query_string", b"").decode("latin-1")
        mark = SPILL_MARK.decode() + self.config.name
        path = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1")
        location = f"{target}{path}?{query + '&' if query else ''}{mark}"
        await self.respond(
            send, 307, {"location": location, "cache-control": "no-store"}, b"", head=True
        )

    async def admin(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Authenticated admin endpoints: purge, push, prefetch."""
        if scope["type"] == "lifespan":
            return await self._lifespan(receive, send)
        from edge.admin import handle_admin

        await handle_admin(self, scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        from edge.admin_listener import AdminListener

        listener: AdminListener | None = None
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                if self.config.admin_port is not None:
                    listener = AdminListener(
                        self.admin, self.config.admin_host, self.config.admin_port
                    )
                    await listener.start()
                if self.config.router_url and self.config.public_url:
                    from edge.heartbeat import send_heartbeats

                    self._spawn(send_heartbeats(self))
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if listener is not None:
                    await listener.stop()
                await self.close()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def close(self) -> None:
        for task in list(self._background):
            task.cancel()
        await self.client.aclose()

    # -- own endpoints -----------------------------------------------------------------------

    def stats(self) -> dict[str, object]:
        return self.metrics.stats(
            name=self.config.name,
            used_bytes=self.store.used_bytes,
            capacity_bytes=self.config.capacity_bytes,
            objects=len(self.store),
            evictions=self.store.evictions,
        ) | {"waiting": sum(f.waiters for f in self.fills.values()), "fills": len(self.fills)}

    async def _own(self, scope: Scope, send: Send, path: str) -> None:
        if path == "/healthz":
            body, ctype = (
                json.dumps({"status": "ok", "name": self.config.name}).encode(),
                "application/json",
            )
        elif path == "/stats":
            body, ctype = json.dumps(self.stats()).encode(), "application/json"
        else:
            body, ctype = (
                self.metrics.prometheus(self.stats()).encode(),
                "text/plain; version=0.0.4",
            )
        await self.respond(send, 200, {"content-type": ctype, "cache-control": "no-store"}, body)

    async def respond(
        self, send: Send, status: int, headers: dict[str, str], body: bytes, *, head: bool = False
    ) -> None:
        headers = {**headers, "content-length": str(len(body))}
        await send({"type": "http.response.start", "status": status, "headers": encode(headers)})
        await send({"type": "http.response.body", "body": b"" if head else body})

    def _via(self, headers: dict[str, str]) -> str:
        """RFC 9110 §7.6.3: each intermediary appends itself to Via."""
        upstream = headers.get("via")
        return f"{upstream}, {self.via}" if upstream else self.via

    async def _error(
        self,
        send: Send,
        status: int,
        code: str,
        message: str,
        result: str,
        extra: dict[str, str] | None = None,
    ) -> None:
        self.metrics.served(result, 0)
        await self.respond(
            send,
            status,
            {
                "content-type": "application/json",
                "cache-control": "no-store",
                "x-cache": result,
                "via": self.via,
                **(extra or {}),
            },
            error_body(code, message),
        )

    # -- proxying ------------------------------------------------------------------------------

    async def _proxy(self, scope: Scope, receive: Receive, send: Send) -> None:
        method = scope["method"]
        url = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1")
        if scope.get("query_string"):
            url += "?" + scope["query_string"].decode("latin-1")
        headers = request_headers(scope)
        if method in ("GET", "HEAD") and "authorization" not in headers:
            await self._cached(send, method, url, headers)
        else:
            await self._pass(scope, receive, send, method, url, headers)

    async def _pass(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        method: str,
        url: str,
        headers: dict[str, str],
    ) -> None:
        """Unsafe and uncacheable requests go straight through (§4.4: unsafe ones invalidate)."""

        async def body() -> Any:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return
                yield message.get("body", b"")
                if not message.get("more_body"):
                    return

        forward = {k: v for k, v in headers.items() if k not in HOP_BY_HOP}
        forward["via"] = f"{headers['via']}, {self.via}" if "via" in headers else self.via
        has_body = method not in ("GET", "HEAD") and (
            "content-length" in headers or "transfer-encoding" in headers
        )
        request = self.client.build_request(
            method, url, headers=forward, content=body() if has_body else None
        )
        self.metrics.upstream_requests += 1
        try:
            response = await self.client.send(request, stream=True)
        except httpx.TimeoutException:
            self.metrics.upstream_errors += 1
            return await self._error(
                send, 504, "upstream_timeout", "the upstream timed out", "BYPASS"
            )
        except httpx.HTTPError as exc:
            self.metrics.upstream_errors += 1
            return await self._error(
                send, 502, "upstream_error", f"upstream failed: {exc}", "BYPASS"
            )
        try:
            out = end_to_end(response.headers)
            out |= {"x-cache": "BYPASS", "via": self._via(out)}
            await send(
                {
                    "type": "http.response.start",
                    "status": response.status_code,
                    "headers": encode(out),
                }
            )
            sent = 0
            async for chunk in response.aiter_raw():
                sent += len(chunk)
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
            self.metrics.served("BYPASS", sent)
        finally:
            await response.aclose()
        if method in UNSAFE_METHODS and response.status_code < 400:
            self.store.purge(url)
            if "location" in out and out["location"].startswith("/"):
                self.store.purge(out["location"])

    async def _cached(self, send: Send, method: str, url: str, headers: dict[str, str]) -> None:
        head = method == "HEAD"
        entry = self.store.lookup(url, headers)
        if entry is not None:
            now = self.clock()
            policy = entry.policy
            if (  # the common case, decided without building a verdict
                not policy.no_cache
                and "cache-control" not in headers
                and entry.clock.current_age_s(now) < policy.lifetime_s
            ):
                return await self._send_entry(send, entry, "HIT", headers, head, now)
            verdict = judge(policy, entry.clock, now, headers.get("cache-control"))
            if verdict.fresh:
                return await self._send_entry(send, entry, "HIT", headers, head)
            if verdict.may_serve_stale_while_revalidating:
                self._spawn(self._refresh(url, headers, entry))
                return await self._send_entry(send, entry, "STALE", headers, head)
            fill = self._join_or_start(url, headers, entry)
            with fill.reader() as reader:
                await fill.headers_ready.wait()
                failed = fill.error is not None or fill.status >= 500
                if failed and verdict.may_serve_stale_on_error:
                    return await self._send_entry(send, entry, "STALE", headers, head)
                if fill.status == 304 and fill.error is None:
                    refreshed = self.store.lookup(url, headers) or entry
                    return await self._send_entry(send, refreshed, "REVALIDATED", headers, head)
                return await self._send_fill(send, fill, reader, "MISS", headers, head)
        fill = self._join_or_start(url, headers, None)
        with fill.reader() as reader:
            self._maybe_prefetch(url, headers)
            await self._send_fill(send, fill, reader, "MISS", headers, head)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _refresh(self, url: str, headers: dict[str, str], entry: Entry) -> None:
        """stale-while-revalidate: bring the entry up to date in the background."""
        await self._drain(self._join_or_start(url, headers, entry))

    def _join_or_start(self, url: str, headers: dict[str, str], stale: Entry | None) -> Fill:
        fill = self.fills.get(url)
        if fill is not None and self._can_share(fill, headers):
            fill.waiters += 1
            self.metrics.collapsed += 1
            return fill
        fill = Fill(headers)
        if url not in self.fills:
            self.fills[url] = fill
        self._spawn(self._run_fill(fill, url, headers, stale))
        return fill

    @staticmethod
    def _can_share(fill: Fill, headers: dict[str, str]) -> bool:
        """A collapsed waiter may use the response only if it would select the same variant."""
        if fill.trimmed:  # a pass-through body already partly let go
            return False
        if not fill.headers_ready.is_set():
            return True
        names = vary_names(fill.headers)
        return fill.storable and vary_values(names, headers) == vary_values(
            names, fill.request_headers
        )

    async def _run_fill(
        self, fill: Fill, url: str, headers: dict[str, str], stale: Entry | None
    ) -> None:
        forward = {
            k: v
            for k, v in headers.items()
            if k not in HOP_BY_HOP and k not in NOT_FORWARDED_ON_FILL
        }
        forward["via"] = f"{headers['via']}, {self.via}" if "via" in headers else self.via
        if stale is not None:  # §4.3.1: validate with the stored validators
            if "etag" in stale.headers:
                forward["if-none-match"] = stale.headers["etag"]
            if "last-modified" in stale.headers:
                forward["if-modified-since"] = stale.headers["last-modified"]
        request_time = self.clock()
        started = time.perf_counter()
        self.metrics.upstream_requests += 1
        response: httpx.Response | None = None
        try:
            try:
                response = await self.client.send(
                    self.client.build_request("GET", url, headers=forward), stream=True
                )
            except httpx.TimeoutException:
                fill.status = 504
                raise FillFailed("the upstream timed out") from None
            except httpx.HTTPError as exc:
                fill.status = 502
                raise FillFailed(f"the upstream failed: {exc}") from None
            self.metrics.upstream_latency_s_sum += time.perf_counter() - started
            response_time = self.clock()
            out = end_to_end(response.headers)
            if response.status_code == 304 and stale is not None:
                merged = merge_304(stale.headers, out)
                stale.refresh(merged, age_clock(merged, request_time, response_time))
                stale.via = self._via(merged).encode("latin-1")
                fill.start(304, merged, True, True)
                fill.finish()
                return
            storable = is_storable("GET", response.status_code, headers, out)
            declared = out.get("content-length")
            too_big = (
                declared is not None
                and declared.isdigit()
                and (int(declared) > self.config.capacity_bytes)
            )
            fill.start(response.status_code, out, storable, keep=storable and not too_big)
            capacity = self.config.capacity_bytes
            async for chunk in response.aiter_raw():
                fill.append(chunk)
                self.metrics.bytes_from_upstream += len(chunk)
                if fill.keep and fill.received > capacity:
                    fill.keep = False  # it cannot be stored: stop keeping what was sent on
            if declared is not None and declared.isdigit() and int(declared) != fill.received:
                raise FillFailed(f"upstream body ended at {fill.received} of {declared} bytes")
            fill.finish()
            if storable and fill.keep:
                entry = Entry(
                    url,
                    response.status_code,
                    out,
                    fill.body,
                    age_clock(out, request_time, response_time),
                )
                entry.via = self._via(out).encode("latin-1")
                self.store.put(entry, headers)
            elif stale is not None and response.status_code < 500:
                self.store.purge(url)
        except FillFailed as exc:
            self.metrics.upstream_errors += 1
            fill.fail(str(exc))
        except httpx.HTTPError as exc:  # the body broke off mid-way
            self.metrics.upstream_errors += 1
            fill.fail(f"upstream body broken: {exc}")
        except BaseException as exc:
            fill.fail(f"fill cancelled: {type(exc).__name__}")
            raise
        finally:
            if response is not None:
                await response.aclose()
            if self.fills.get(url) is fill:
                del self.fills[url]

    def _maybe_prefetch(self, url: str, headers: dict[str, str]) -> None:
        """On a segment miss, fetch the next K segments of the same rendition (off by default)."""
        k = self.config.prefetch_segments
        match = SEGMENT_NUMBER.match(url) if k > 0 else None
        if match is None:
            return
        number = int(match["n"])
        for n in range(number + 1, number + 1 + k):
            next_url = f"{match['stem']}{n}{match['ext']}"
            if next_url not in self.fills and self.store.lookup(next_url, headers) is None:
                fill = self._join_or_start(next_url, headers, None)
                self._spawn(self._drain(fill))

    @staticmethod
    async def _drain(fill: Fill) -> None:
        with contextlib.suppress(FillFailed):
            await fill.wait_complete()

    # -- responses -----------------------------------------------------------------------------

    async def _send_entry(
        self,
        send: Send,
        entry: Entry,
        result: str,
        request: dict[str, str],
        head: bool,
        now: float | None = None,
    ) -> None:
        """A response from the store: precomputed headers plus Age, X-Cache and Via."""
        age = entry.clock.current_age_s(self.clock() if now is None else now)
        dynamic = [
            (b"age", b"%d" % age),
            (b"x-cache", X_CACHE[result]),
            (b"via", entry.via or self._via(entry.headers).encode("latin-1")),
        ]
        status, body = entry.status, entry.body
        if status == 200 and ("if-none-match" in request or "if-modified-since" in request):
            etag = entry.headers.get("etag")
            if (etag or entry.last_modified) and not_modified(
                request.get("if-none-match"),
                request.get("if-modified-since"),
                etag or "",
                entry.last_modified or 0.0,
            ):
                self.metrics.served(result, 0)
                await send(
                    {
                        "type": "http.response.start",
                        "status": 304,
                        "headers": entry.encoded + dynamic,
                    }
                )
                await send({"type": "http.response.body", "body": b""})
                return
        if status == 200 and "range" in request:
            try:
                rng = parse_range(request["range"], len(body))
            except Unsatisfiable:
                return await self._error(
                    send,
                    416,
                    "range_not_satisfiable",
                    "range outside the object",
                    result,
                    extra={"content-range": f"bytes */{len(body)}"},
                )
            if rng is not None:
                status = 206
                dynamic.append(
                    (b"content-range", f"bytes {rng.start}-{rng.end}/{len(body)}".encode())
                )
                body = body[rng.start : rng.end + 1]
        dynamic.append((b"content-length", str(len(body)).encode()))
        self.metrics.served(result, 0 if head else len(body))
        await send(
            {"type": "http.response.start", "status": status, "headers": entry.encoded + dynamic}
        )
        await send({"type": "http.response.body", "body": b"" if head else body})

    async def _send_fill(
        self,
        send: Send,
        fill: Fill,
        reader: Reader,
        result: str,
        request: dict[str, str],
        head: bool,
    ) -> None:
        await fill.headers_ready.wait()
        if fill.error is not None and fill.status in (0, 502, 504) and not fill.chunks:
            status = fill.status or 502
            code = "upstream_timeout" if status == 504 else "upstream_error"
            return await self._error(send, status, code, fill.error, result)
        if "range" in request and fill.status == 200:
            try:
                body = b"".join([chunk async for chunk in reader])
            except FillFailed as exc:
                return await self._error(send, 502, "upstream_error", str(exc), result)
            now = self.clock()
            entry = Entry("", 200, fill.headers, body, AgeClock(now, now, None, 0))
            return await self._send_entry(send, entry, result, request, head)
        headers = {**fill.headers, "age": "0", "x-cache": result, "via": self._via(fill.headers)}
        await send(
            {"type": "http.response.start", "status": fill.status, "headers": encode(headers)}
        )
        if head:
            await send({"type": "http.response.body", "body": b""})
            self.metrics.served(result, 0)
            return
        sent = 0
        async for chunk in reader:  # FillFailed propagates: the response is aborted
            sent += len(chunk)
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
        self.metrics.served(result, sent)
