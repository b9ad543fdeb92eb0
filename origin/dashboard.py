"""The dashboard's data: the CDN's POPs (router registry + each POP's /stats), the origin
offload and the latest videos, as one JSON snapshot and as a Server-Sent Events stream."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio.to_thread
import httpx

from manifests.catalog import Catalog
from origin.metrics import Metrics

POP_TIMEOUT_S = 1.0
VIDEOS_SHOWN = 20


def _number(value: object) -> float:
    return float(value) if isinstance(value, int | float) else 0.0


def pop_row(described: dict[str, Any], stats: dict[str, Any] | None) -> dict[str, Any]:
    """One POP as the dashboard shows it: where, how healthy, how busy, how well it caches."""
    s = stats or {}
    max_in_flight = _number(described.get("max_in_flight"))
    in_flight = _number(s.get("in_flight", described.get("in_flight")))
    return {
        "name": described["name"],
        "tier": described.get("tier", "edge"),
        "lat": described["lat"],
        "lon": described["lon"],
        "url": described.get("url"),
        "healthy": bool(described.get("healthy")) and stats is not None,
        "requests": int(_number(s.get("requests"))),
        "hit_ratio": _number(s.get("hit_ratio")),
        "requests_per_s": _number(s.get("requests_per_s")),
        "bytes_per_s": _number(s.get("bytes_per_s")),
        "in_flight": int(in_flight),
        "load": in_flight / max_in_flight if max_in_flight else 0.0,
        "bytes_served": int(_number(s.get("bytes_from_cache")))
        + int(_number(s.get("bytes_from_upstream"))),
        "cache_fill": _number(s.get("cache_fill")),
    }


def offload(pops: list[dict[str, Any]], origin_requests: int, origin_bytes: int) -> dict[str, Any]:
    """Share of what players asked the edges for that never reached the origin."""
    requests = sum(p["requests"] for p in pops if p["tier"] == "edge")
    served = sum(p["bytes_served"] for p in pops if p["tier"] == "edge")
    return {
        "edge_requests": requests,
        "edge_bytes": served,
        "origin_requests": origin_requests,
        "origin_bytes": origin_bytes,
        "requests": 1 - origin_requests / requests if requests else None,
        "bytes": 1 - origin_bytes / served if served else None,
    }


class DashboardFeed:
    """Builds snapshots, at most one per `min_interval_s` however many dashboards watch."""

    def __init__(
        self,
        catalog: Catalog,
        metrics: Metrics,
        router_url: str,
        *,
        min_interval_s: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.catalog = catalog
        self.metrics = metrics
        self.router_url = router_url.rstrip("/")
        self.min_interval_s = min_interval_s
        self.clock = clock
        self._http: httpx.AsyncClient | None = None
        self._last: tuple[float, dict[str, Any]] | None = None
        self._lock = asyncio.Lock()

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    async def snapshot(self) -> dict[str, Any]:
        async with self._lock:
            now = self.clock()
            if self._last is None or now - self._last[0] >= self.min_interval_s:
                self._last = (now, await self._build())
            return self._last[1]

    async def _build(self) -> dict[str, Any]:
        router, pops = await self._cdn()
        requests, sent = self.metrics.totals("vod_cdn")
        videos = await anyio.to_thread.run_sync(
            # the dashboard is public: it shows what anyone may list
            lambda: self.catalog.list_videos(limit=VIDEOS_SHOWN, listed_only=True)
        )
        return {
            "time": time.time(),
            "router": router,
            "pops": pops,
            "offload": offload(pops, requests, sent),
            "videos": [
                {"id": v.id, "title": v.title, "status": v.status, "progress": v.progress}
                for v in videos
            ],
        }

    async def _cdn(self) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """({"url", "status", "message"} of the router, the POP rows)."""
        if not self.router_url:
            message = "no router configured: start the origin with --router URL"
            return {"url": None, "status": "none", "message": message}, []
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=POP_TIMEOUT_S)
        http = self._http
        try:
            described = (await http.get(self.router_url + "/pops")).raise_for_status().json()
            listed: list[dict[str, Any]] = described["pops"]
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
            message = f"router {self.router_url} did not answer: {exc}"
            return {"url": self.router_url, "status": "unreachable", "message": message}, []

        async def stats(pop: dict[str, Any]) -> dict[str, Any] | None:
            if not pop.get("url"):
                return None
            try:
                answer = await http.get(str(pop["url"]).rstrip("/") + "/stats")
                body: dict[str, Any] = answer.json()
            except (httpx.HTTPError, ValueError):
                return None
            return body if answer.status_code == 200 else None

        all_stats = await asyncio.gather(*(stats(p) for p in listed))
        rows = sorted(
            (pop_row(p, s) for p, s in zip(listed, all_stats, strict=True)),
            key=lambda r: (r["tier"] != "edge", r["name"]),
        )
        return {"url": self.router_url, "status": "ok", "message": ""}, rows

    async def events(self, interval_s: float = 1.0) -> AsyncIterator[str]:
        """The SSE stream: a `snapshot` event every `interval_s` until the client goes."""
        yield f"retry: {int(interval_s * 2000)}\n\n"
        while True:
            data = json.dumps(await self.snapshot(), separators=(",", ":"))
            yield f"event: snapshot\ndata: {data}\n\n"
            await asyncio.sleep(interval_s)
