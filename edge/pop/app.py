"""The POP server: a shared HTTP cache and reverse proxy (RFC 9111) for any path of its
upstream. A thin raw-ASGI shell: it routes each request to its own endpoints, the admin, a
spill to a neighbour, a pass-through, or the cache (edge/pop/cache.py)."""

from __future__ import annotations

import asyncio
import functools
import json
import os
import socket
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx

from edge.pop.accesslog import AccessLog, Recorder, access_record
from edge.pop.admin import handle_admin
from edge.pop.cache import Answer, EdgeCache
from edge.pop.cluster import Cluster
from edge.pop.config import EdgeConfig
from edge.pop.front import front_protocol
from edge.pop.gate import Admission, PlaybackGate
from edge.pop.heartbeat import say_leaving, send_heartbeats
from edge.pop.listener import LoopListener
from edge.pop.metrics import EdgeMetrics, combine_stats
from edge.pop.quick import QuickAnswers
from edge.pop.responses import FileAnswer, Responses
from edge.pop.sharing import share
from edge.pop.spill import SPILL_MARK, spill_location, strip_spill_mark
from edge.pop.upstream import (
    Upstream,
    UpstreamFailed,
    forward_headers,
    received_by,
    via_after,
)
from httprules.asgi import Receive, Scope, Send
from httprules.caching import CDN_ONLY_FIELDS, RECEIVED_SURROGATE_CONTROL, SAFE_METHODS
from httprules.headers import encode, request_headers, with_forwarded_for
from httprules.listener import host_refusal
from httprules.observe import request_id, with_request_id
from httprules.playback_tokens import TOKEN_HEADER, TokenRejected, refusal
from httprules.prometheus import CONTENT_TYPE as PROMETHEUS_TYPE

__all__ = ["Edge", "EdgeConfig"]

OWN_PATHS = frozenset({"/healthz", "/readyz", "/metrics", "/stats"})
# request header fields a stored response is not simply sent for: the front listener leaves
# requests with any of them to the ASGI path
NOT_AT_ONCE = frozenset(
    {b"authorization", b"range", b"if-range", b"if-match", b"if-none-match", b"cache-control"}
    | {b"if-modified-since", b"if-unmodified-since"}
)


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
        self.metrics = EdgeMetrics()
        self.upstream = Upstream(config.upstream, config.upstream_timeout_s, transport)
        self.cluster: Cluster | None = None
        if config.workers > 1:
            assert config.cache_dir is not None, "several workers share one cache directory"
            self.cluster = Cluster(Path(config.cache_dir) / "workers", config.workers)
        self.cache = EdgeCache(
            config, self.metrics, self.upstream, clock=clock, cluster=self.cluster
        )
        if self.cluster is not None:
            self.cache.follower = share(self.cache)
            self.cluster.handlers |= {"stats": self._stats_asked, "neighbours": self._told}
        self._peer_stats: list[dict[str, Any]] = []  # the other workers', lately
        self.responses = Responses(self.metrics, clock, config.via, config.send_timeout_s)
        self.quick = QuickAnswers(self.cache.store, self.metrics, clock)
        self.neighbours: list[str] = []  # from the router: where to spill when overloaded
        self.access_log = (
            AccessLog(config.access_log, config.name)
            if config.access_log not in (None, "off")
            else None
        )
        self.gate = PlaybackGate.of(config, clock)
        self.cache.fill_headers = self.gate.fill_headers
        # every request goes through ASGI when each must be counted against a rate limit
        self._asgi_only = self.gate.limit is not None
        # set when the POP is told to stop (LEAVE_SIGNAL): it tells the routers at once and
        # answers /healthz with 503 while it finishes what is in flight
        self.leaving = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self.pathsend = False  # whether the server sends files itself (granian does)

    # -- ASGI entry points -----------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            return await self._lifespan(receive, send)
        if scope["type"] != "http":
            return
        if (refused := host_refusal(scope["headers"], scope.get("http_version", ""))) is not None:
            return await self.responses.error(send, 400, "bad_request", refused, "DENIED")
        path = scope["path"]
        if path in OWN_PATHS:
            if scope["method"] not in ("GET", "HEAD"):
                message = f"{path} takes GET or HEAD"
                allow = {"allow": "GET, HEAD"}
                return await self.responses.error(
                    send, 405, "method_not_allowed", message, "DENIED", allow
                )
            return await self._own(send, path)
        if self.config.admin_on_public and path.startswith("/admin/"):
            return await self.admin(scope, receive, send)
        if self.access_log is None:
            return await self._serve(scope, receive, send)
        rid = request_id(scope["headers"])  # sent upstream with a fill, and back
        scope["headers"] = with_request_id(scope["headers"], rid)
        recorder = Recorder(scope, send, request_id=rid)
        try:
            await self._serve(scope, receive, recorder.send)
        finally:
            self.access_log.write(recorder.record())

    async def _serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        query = scope.get("query_string", b"")
        if SPILL_MARK in query:  # sent here by an overloaded neighbour: serve the plain URL
            scope = dict(scope, query_string=strip_spill_mark(query))
        elif self._overloaded() and scope["method"] in ("GET", "HEAD"):
            return await self._spill(scope, send)
        self.metrics.in_flight += 1
        started = time.perf_counter()
        try:
            await self._proxy(scope, receive, send)
        finally:
            self.metrics.in_flight -= 1
            self.metrics.latency.observe(time.perf_counter() - started)

    def _overloaded(self) -> bool:
        """Too many requests in flight, with neighbours to spill to."""
        return self.metrics.in_flight >= self.config.max_in_flight and bool(self.neighbours)

    def answer_again(self, head: bytes) -> list[bytes] | None:
        """The answer kept for a request head `answer_now` answered before, if it still
        holds (edge/pop/quick.py); else None."""
        if self._overloaded():
            return None
        started = time.perf_counter()
        response = self.quick.answer(head)
        if response is not None:
            self.metrics.answered_at_once += 1
            self.metrics.latency.observe(time.perf_counter() - started)
        return response

    def answer_now(self, scope: Scope, head: bytes = b"") -> list[bytes] | FileAnswer | None:
        """A fresh hit as a whole HTTP/1.1 response, decided as the ASGI path decides it (the
        same gate, lookup, headers and access record); None for every request that path must
        answer: misses, stale entries, conditionals, ranges, the POP's own endpoints, spills,
        and every request when rate limits are kept (the front listener's shortcut,
        edge/pop/front.py, which never asks about a request with a `NOT_AT_ONCE` field).
        `head`: the request's head as it came, under which the answer is kept when nothing
        but the head decided it (no token, no access record)."""
        path = scope["path"]
        if (
            self._asgi_only
            or path in OWN_PATHS
            or (self.config.admin_on_public and path.startswith("/admin/"))
            or self._overloaded()
            or SPILL_MARK in scope["query_string"]
        ):
            return None
        started = time.perf_counter()
        try:
            admission = self.gate.admit(scope)
        except TokenRejected:
            return None
        url = admission.url
        # the request's header values only matter to a response that varies on some of them
        headers = {} if self.cache.store.plainly_stored(url) else request_headers(scope)
        hit = self.cache.fresh_hit(url, headers)
        if hit is None:
            return None
        entry, age = hit
        if self.gate.withheld(entry.headers, admission):
            return None
        if RECEIVED_SURROGATE_CONTROL in entry.headers and _from_surrogate(scope):
            return None  # a POP of a lower tier is sent Surrogate-Control too
        head_only = scope["method"] == "HEAD"
        rid = None if self.access_log is None else request_id(scope["headers"])
        keep = None
        # kept when the head alone decided it: admitted by its path alone (no token checked
        # against the clock or the client's address), no access record per request
        if head and rid is None and admission.plain:
            keep = functools.partial(self.quick.keep, head, entry)
        response = self.responses.wire(entry, age, head_only, rid, keep)
        if response is None:
            return None
        if self.access_log is not None and rid is not None:
            sent = 0 if head_only else entry.length
            record = access_record(
                scope,
                status=entry.status,
                sent_bytes=sent,
                object_bytes=entry.length,
                cache="HIT",
                started=started,
                request_id=rid,
            )
            self.access_log.write(record)
        self.metrics.answered_at_once += 1
        self.metrics.latency.observe(time.perf_counter() - started)
        return response

    async def admin(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Authenticated admin endpoints: purge, push, prefetch."""
        if scope["type"] == "lifespan":
            return await self._lifespan(receive, send)
        await handle_admin(self.cache, self.config.admin_keys, self.responses, scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        listeners: list[LoopListener] = []
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self._start(listeners)
                except Exception as exc:  # the worker must not run half started: it exits
                    failed = f"the POP could not start: {exc}"
                    await send({"type": "lifespan.startup.failed", "message": failed})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self.beats_routers:
                    await say_leaving(self.config, self.pop_stats())
                for listener in reversed(listeners):
                    await listener.stop()
                await self.cache.finish_fills(self.config.grace_s)
                await self.close()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _start(self, listeners: list[LoopListener]) -> None:
        """Open this worker's listeners (into `listeners`), then its cluster and heartbeats."""
        if self.config.admin_port is not None:
            listeners.append(
                LoopListener(self.admin, self.config.admin_host, self.config.admin_port)
            )
        if self.config.front_fd >= 0:
            protocol = front_protocol(
                self.answer_now,
                self.config.send_timeout_s,
                self.metrics.count_stalled,
                left_to_app=NOT_AT_ONCE,
                answer_again=self.answer_again,
                head_timeout_s=self.config.head_timeout_s,
            )
            sock = socket.socket(fileno=os.dup(self.config.front_fd))
            grace_s = self.config.grace_s
            listeners.append(LoopListener(self, sock=sock, protocol=protocol, grace_s=grace_s))
        for listener in listeners:
            await listener.start()
        self._loop = asyncio.get_running_loop()
        if self.cluster is not None:
            self.cluster.start()
        if self.beats_routers:
            if self.cluster is not None:
                self.cache.spawn(self._follow_peers())
            beats = send_heartbeats(
                self.config, self.pop_stats, self._set_neighbours, leaving=self.leaving
            )
            self.cache.spawn(beats)

    def leave(self) -> None:
        """Start leaving; safe to call from a signal handler."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self.leaving.set)

    @property
    def beats_routers(self) -> bool:
        """Whether this worker beats for the POP (the first worker does, for all of them)."""
        first = self.cluster is None or self.cluster.slot == 0
        return bool(self.config.router_urls and self.config.public_url and first)

    def _set_neighbours(self, urls: list[str]) -> None:
        self.neighbours = urls
        if self.cluster is not None:
            self.cluster.tell_all({"op": "neighbours", "urls": urls})

    async def _told(self, message: dict[str, Any], fds: list[int]) -> None:
        self.neighbours = [str(u) for u in message.get("urls", ())]

    async def _stats_asked(self, message: dict[str, Any], fds: list[int]) -> dict[str, Any]:
        return {"stats": self.stats()}

    async def _follow_peers(self) -> None:
        """Keep the other workers' stats at hand for the heartbeats (which are sync)."""
        assert self.cluster is not None
        while True:
            replies = await self.cluster.gather({"op": "stats"}, self.config.heartbeat_s)
            self._peer_stats = [r["stats"] for r in replies if isinstance(r.get("stats"), dict)]
            await asyncio.sleep(self.config.heartbeat_s)

    def pop_stats(self) -> dict[str, object]:
        """The whole POP's figures: this worker's and the other workers' latest."""
        return combine_stats([self.stats(), *self._peer_stats])

    async def close(self) -> None:
        await self.cache.close()
        if self.cluster is not None:
            self.cluster.close()
        await self.gate.aclose()
        if self.access_log is not None:
            self.access_log.close()

    # -- own endpoints -----------------------------------------------------------------------

    def stats(self) -> dict[str, object]:
        cache = self.cache
        stats = self.metrics.stats(
            name=self.config.name,
            used_bytes=cache.store.used_bytes,
            capacity_bytes=cache.store.policy.capacity_bytes,  # this worker's share
            objects=len(cache.store),
            evictions=cache.store.evictions,
        ) | {"waiting": sum(f.waiters for f in cache.fills.values()), "fills": len(cache.fills)}
        if cache.disk is not None:
            disk = cache.disk
            stats |= {
                "disk_used_bytes": disk.used_bytes,
                "disk_capacity_bytes": disk.capacity_bytes,
                "disk_objects": len(disk),
                "disk_evictions": disk.evictions,
                "disk_shed_bytes": disk.shed_bytes,
                "disk_rebuild_s": round(disk.rebuilt.seconds, 3),
            }
        return stats

    async def _all_stats(self) -> dict[str, object]:
        if self.cluster is None:
            return self.stats()
        replies = await self.cluster.gather({"op": "stats"})
        return combine_stats([self.stats(), *(r["stats"] for r in replies if "stats" in r)])

    async def _own(self, send: Send, path: str) -> None:
        status = 200
        if path == "/healthz":
            state = "leaving" if self.leaving.is_set() else "ok"
            status = 503 if self.leaving.is_set() else 200
            body = json.dumps({"status": state, "name": self.config.name}).encode()
            ctype = "application/json"
        elif path == "/readyz":  # can it fill misses? (hits need nothing but this process)
            upstream = "ok" if await self.upstream.ready() else "unavailable"
            ready = upstream == "ok" and not self.leaving.is_set()
            status = 200 if ready else 503
            parts = {"status": "ok" if ready else "error", "upstream": upstream}
            if self.leaving.is_set():
                parts["leaving"] = "yes"
            body, ctype = json.dumps(parts).encode(), "application/json"
        elif path == "/stats":
            body, ctype = json.dumps(await self._all_stats()).encode(), "application/json"
        else:
            body = self.metrics.prometheus(await self._all_stats()).encode()
            ctype = PROMETHEUS_TYPE
        headers = {"content-type": ctype, "cache-control": "no-store"}
        await self.responses.respond(send, status, headers, body)

    async def _spill(self, scope: Scope, send: Send) -> None:
        """Overloaded: a 307 to the best neighbour instead of a place in the queue."""
        self.metrics.spilled += 1
        path = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1")
        query = scope.get("query_string", b"").decode("latin-1")
        # The router's best pick, load-aware, renewed every heartbeat.
        location = spill_location(self.neighbours[0], path, query, self.config.name)
        headers = {"location": location, "cache-control": "no-store"}
        await self.responses.respond(send, 307, headers, b"", head=True)

    # -- proxying ------------------------------------------------------------------------------

    async def _proxy(self, scope: Scope, receive: Receive, send: Send) -> None:
        method = scope["method"]
        if not scope["path"].startswith("/"):  # "*" (OPTIONS' server-wide form): no object
            message = "the request target must be a path"
            return await self.responses.error(send, 400, "invalid_target", message, "DENIED")
        self.pathsend = "http.response.pathsend" in (scope.get("extensions") or ())
        try:
            admission = self.gate.admit(scope)
        except TokenRejected as exc:
            return await self.responses.error(send, *refusal(exc), "DENIED")
        refused = await self.gate.over_limit(scope, admission)
        if refused is not None:
            message = "too many requests from this address"
            extra = refused.headers()
            return await self.responses.error(send, 429, "rate_limited", message, "DENIED", extra)
        client = scope.get("client")
        headers = with_forwarded_for(
            request_headers(scope), client[0] if client else None, scope.get("scheme")
        )
        if self.config.name in received_by(headers.get("via")):  # an upstream leads back here
            message = f"this request has been through {self.config.name} already: a loop"
            return await self.responses.error(send, 508, "loop_detected", message, "DENIED")
        version = scope.get("http_version", "1.1")  # "1.0", "1.1", "2": what it came in
        headers["via"] = via_after(headers.get("via"), f"{version} {self.config.name}")
        headers.pop(TOKEN_HEADER, None)  # a viewer's token goes no further than this POP
        if method in ("GET", "HEAD") and "authorization" not in headers:
            await self._cached(send, method, admission, headers)
        else:
            await self._pass(receive, send, method, admission, headers)

    async def _cached(
        self, send: Send, method: str, admission: Admission, headers: dict[str, str]
    ) -> None:
        head = method == "HEAD"
        url = admission.url
        answer = self.cache.lookup(url, headers)
        if answer.result in ("HIT", "STALE"):
            return await self._answer(send, answer, admission, headers, head)
        if answer.result == "VALIDATE":
            async with self.cache.validate(url, headers, answer) as validated:
                return await self._answer(send, validated, admission, headers, head)
        async with self.cache.miss(url, headers) as filled:
            await self._answer(send, filled, admission, headers, head)

    async def _answer(
        self, send: Send, answer: Answer, admission: Admission, headers: dict[str, str], head: bool
    ) -> None:
        """Send the answer, unless it is a signed video's and no token granted this request."""
        if answer.entry is not None:
            response_headers = answer.entry.headers
        else:
            assert answer.fill is not None
            await answer.fill.headers_ready.wait()
            response_headers = answer.fill.headers
        if self.gate.withheld(response_headers, admission):
            return await self.responses.error(send, *refusal(None), "DENIED")
        await self.responses.answer(send, answer, headers, head, self.pathsend)

    async def _pass(
        self,
        receive: Receive,
        send: Send,
        method: str,
        admission: Admission,
        headers: dict[str, str],
    ) -> None:
        """Unsafe and uncacheable requests go straight through (§4.4: unsafe ones invalidate)."""

        async def body() -> AsyncIterator[bytes]:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return
                yield message.get("body", b"")
                if not message.get("more_body"):
                    return

        has_body = method not in ("GET", "HEAD") and (
            "content-length" in headers or "transfer-encoding" in headers
        )
        url = admission.url
        forward = forward_headers(headers, self.config.via, fill=False)
        if admission.granted:
            forward |= self.gate.fill_headers()
        self.metrics.upstream_requests += 1
        try:
            response = await self.upstream.open(method, url, forward, body() if has_body else None)
        except UpstreamFailed as exc:
            self.metrics.upstream_errors += 1
            return await self.responses.error(send, exc.status, exc.code, str(exc), "BYPASS")
        try:
            out = self.upstream.response_headers(response)
            out |= {"x-cache": "BYPASS", "via": via_after(out.get("via"), self.config.via)}
            for name in CDN_ONLY_FIELDS:
                out.pop(name, None)
            if method not in SAFE_METHODS and response.status_code < 400:
                # before the client hears back: its next request must not find what it changed
                await self.cache.invalidate(url, out)
            start = {"type": "http.response.start", "status": response.status_code}
            await send(start | {"headers": encode(out)})
            sent = 0
            async for chunk in response.aiter_raw():
                sent += len(chunk)
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
            self.metrics.served("BYPASS", response.status_code, sent)
        finally:
            await response.aclose()


def _from_surrogate(scope: Scope) -> bool:
    """Does a POP of a lower tier send it (it names itself in Surrogate-Capability)?"""
    return any(name == b"surrogate-capability" for name, _ in scope["headers"])
