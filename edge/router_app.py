"""The router: a POP registry fed by edge heartbeats, a lookup by client location, and a
302 redirect mode. Decisions come from edge/routing.py, the code the simulator runs."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from edge.registry import HeartbeatError, PopRegistry, parse_heartbeat
from edge.routing import RoutingPolicy, choose_pop

ROUTE_TTL_S = 5
PROBE_INTERVAL_S = 1.0


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


def client_location(request: Request) -> tuple[float, float] | None:
    """From `lat`/`lon` or `geo=lat,lon` parameters, or the `X-Client-Geo: lat,lon` header."""
    query = request.query_params
    raw = None
    if "lat" in query and "lon" in query:
        raw = f"{query['lat']},{query['lon']}"
    raw = raw or query.get("geo") or request.headers.get("x-client-geo")
    if not raw:
        return None
    try:
        lat, lon = (float(x) for x in raw.split(","))
    except ValueError:
        return None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    return lat, lon


def create_router_app(
    *,
    registry: PopRegistry | None = None,
    policy: RoutingPolicy | None = None,
    clock: Callable[[], float] = time.monotonic,
    probe_interval_s: float | None = PROBE_INTERVAL_S,
) -> Starlette:
    """`probe_interval_s`: how often to GET every POP's /healthz (None: no active probes)."""
    registry = registry or PopRegistry()
    policy = policy or RoutingPolicy()

    async def probe_forever(interval_s: float) -> None:
        async with httpx.AsyncClient(timeout=interval_s) as http:

            async def probe(name: str, url: str) -> None:
                try:
                    ok = (await http.get(url + "/healthz")).status_code == 200
                except httpx.HTTPError:
                    ok = False
                registry.probe_result(name, ok)

            while True:
                targets = registry.probe_targets()
                await asyncio.gather(*(probe(n, u) for n, u in targets.items()))
                await asyncio.sleep(interval_s)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        task = asyncio.create_task(probe_forever(probe_interval_s)) if probe_interval_s else None
        try:
            yield
        finally:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def heartbeat(request: Request) -> Response:
        try:
            data = await request.json()
            beat = parse_heartbeat(data, clock())
        except (ValueError, HeartbeatError) as exc:
            return _error(422, "invalid_heartbeat", str(exc))
        registry.heartbeat(beat)
        return Response(status_code=204)

    async def pops(request: Request) -> Response:
        return JSONResponse({"pops": registry.describe(clock())})

    def decide(request: Request, path: str) -> tuple[dict[str, object] | None, JSONResponse | None]:
        where = client_location(request)
        if where is None:
            return None, _error(
                422, "missing_location", "give lat and lon, geo=lat,lon or an X-Client-Geo header"
            )
        known, loads, urls = registry.snapshot(clock())
        route = choose_pop(*where, known, loads, policy, content_key=video_key(path))
        if route is None:
            return None, _error(503, "no_pop", "no healthy POP")
        return {
            "pop": route.pop.name,
            "url": urls[route.pop.name] + path,
            "distance_km": round(route.distance_km, 1),
            "rtt_ms": round(route.rtt_ms, 2),
            "alternatives": [
                {"pop": p.name, "url": urls[p.name] + path} for p in route.alternatives
            ],
            "ttl": ROUTE_TTL_S,
        }, None

    async def route(request: Request) -> Response:
        path = request.query_params.get("path", "/")
        if not path.startswith("/"):
            return _error(422, "invalid_path", "path must start with /")
        answer, error = decide(request, path)
        return error or JSONResponse(answer, headers={"cache-control": f"max-age={ROUTE_TTL_S}"})

    async def redirect(request: Request) -> Response:
        path = "/" + request.path_params["path"]
        answer, error = decide(request, path)
        if error is not None:
            return error
        assert answer is not None
        return RedirectResponse(
            str(answer["url"]), status_code=302, headers={"cache-control": "no-store"}
        )

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    return Starlette(
        routes=[
            Route("/heartbeat", heartbeat, methods=["POST"]),
            Route("/pops", pops, methods=["GET"]),
            Route("/route", route, methods=["GET"]),
            Route("/r/{path:path}", redirect, methods=["GET", "HEAD"]),
            Route("/healthz", healthz, methods=["GET"]),
        ],
        lifespan=lifespan,
    )


def video_key(path: str) -> str | None:
    """Content affinity key: the first two path segments (`/vod/<id>`), if there are two."""
    parts = [p for p in path.split("/") if p]
    return "/".join(parts[:2]) if len(parts) >= 2 else None
