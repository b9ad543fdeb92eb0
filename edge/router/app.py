"""The router: a POP registry fed by edge heartbeats, a lookup by client location, and a
302 redirect mode. Decisions come from edge/router/routing.py, the code the simulator runs."""

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

from edge.router.coverage import CoverageZones
from edge.router.registry import PopRegistry, parse_heartbeat
from edge.router.routing import RoutingPolicy, choose_pop, neighbours
from edge.router.steering import absolute_uris, steered_master, steering_manifest
from edge.wire import BeatReply, PopUrl, RouteDecision
from httprules.errors import error_document

ROUTE_TTL_S = 5
PROBE_INTERVAL_S = 1.0
STEERING_PATHWAYS = 3  # POPs listed in a steered master: the chosen one and two alternatives
PLAYLIST_TYPES = ("application/vnd.apple.mpegurl", "application/x-mpegurl", "audio/mpegurl")


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse(error_document(code, message), status_code=status)


def client_location(
    request: Request, zones: CoverageZones | None = None
) -> tuple[float, float] | None:
    """From `lat`/`lon` or `geo=lat,lon` parameters, or the `X-Client-Geo: lat,lon` header,
    or else the coverage zone of the client's address."""
    query = request.query_params
    raw = None
    if "lat" in query and "lon" in query:
        raw = f"{query['lat']},{query['lon']}"
    raw = raw or query.get("geo") or request.headers.get("x-client-geo")
    if not raw:
        if zones is None or request.client is None:
            return None
        return zones.locate(request.client.host)
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
    zones: CoverageZones | None = None,
) -> Starlette:
    """`probe_interval_s`: how often to GET every POP's /healthz (None: no active probes);
    `zones`: where clients that give no location are, by address."""
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

    fetcher: list[httpx.AsyncClient] = []  # for playlists fetched through POPs

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        task = asyncio.create_task(probe_forever(probe_interval_s)) if probe_interval_s else None
        fetcher.append(httpx.AsyncClient(timeout=5))
        try:
            yield
        finally:
            await fetcher.pop().aclose()
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def heartbeat(request: Request) -> Response:
        try:
            data = await request.json()
            beat = parse_heartbeat(data, clock())
        except ValueError as exc:  # not JSON, or a WireError
            return _error(422, "invalid_heartbeat", str(exc))
        registry.heartbeat(beat)
        known, loads, urls = registry.snapshot(clock())
        pop = next(p for p in known if p.name == beat.pop.name)
        spill_to = tuple(
            PopUrl(n.name, urls[n.name]) for n in neighbours(pop, known, loads, policy)
        )
        return JSONResponse(BeatReply(spill_to).to_json())

    async def pops(request: Request) -> Response:
        return JSONResponse({"pops": registry.describe(clock())})

    def decide(request: Request, path: str) -> RouteDecision | JSONResponse:
        """The routing decision for this client and path, or the error to answer with."""
        where = client_location(request, zones)
        if where is None:
            return _error(
                422,
                "missing_location",
                "give lat and lon, geo=lat,lon or an X-Client-Geo header (no coverage zone "
                "holds this client's address)",
            )
        known, loads, urls = registry.snapshot(clock())
        route = choose_pop(*where, known, loads, policy, content_key=video_key(path))
        if route is None:
            return _error(503, "no_pop", "no healthy POP")
        return RouteDecision(
            chosen=PopUrl(route.pop.name, urls[route.pop.name] + path),
            alternatives=tuple(PopUrl(p.name, urls[p.name] + path) for p in route.alternatives),
            distance_km=route.distance_km,
            rtt_ms=route.rtt_ms,
            ttl_s=ROUTE_TTL_S,
        )

    async def route(request: Request) -> Response:
        path = request.query_params.get("path", "/")
        if not path.startswith("/"):
            return _error(422, "invalid_path", "path must start with /")
        answer = decide(request, path)
        if not isinstance(answer, RouteDecision):
            return answer
        headers = {"cache-control": f"max-age={ROUTE_TTL_S}"}
        return JSONResponse(answer.to_json(), headers=headers)

    async def redirect(request: Request) -> Response:
        path = "/" + request.path_params["path"]
        answer = decide(request, path)
        if not isinstance(answer, RouteDecision):
            return answer
        return RedirectResponse(
            answer.chosen.url, status_code=302, headers={"cache-control": "no-store"}
        )

    async def fetch_playlist(url: str) -> tuple[str | None, Response | None]:
        """(text, None) for a playlist; (None, response) to send instead."""
        if not fetcher:
            return None, _error(503, "starting", "the router is starting")
        try:
            upstream = await fetcher[0].get(url)
        except httpx.HTTPError as exc:
            return None, _error(502, "pop_unreachable", f"{url}: {exc}")
        if upstream.status_code != 200:
            return None, _error(upstream.status_code, "pop_error", f"{url}: {upstream.status_code}")
        if not upstream.headers.get("content-type", "").lower().startswith(PLAYLIST_TYPES):
            return None, RedirectResponse(url, status_code=302)
        return upstream.text, None

    def playlist_response(text: str) -> Response:
        return Response(
            text,
            media_type="application/vnd.apple.mpegurl",
            headers={"cache-control": "no-store", "access-control-allow-origin": "*"},
        )

    async def cdn_playlist(request: Request) -> Response:
        """A playlist fetched through the client's POP with every URI absolute to that POP;
        anything else is a redirect to the POP."""
        path = "/" + request.path_params["path"]
        answer = decide(request, path)
        if not isinstance(answer, RouteDecision):
            return answer
        url = answer.chosen.url
        text, other = await fetch_playlist(url)
        return other or playlist_response(absolute_uris(text or "", url))

    async def steered(request: Request) -> Response:
        """The master playlist with one pathway per POP (the client's best first) and an
        EXT-X-CONTENT-STEERING tag naming /steering for this client."""
        path = "/" + request.path_params["path"]
        answer = decide(request, path)
        if not isinstance(answer, RouteDecision):
            return answer
        pathways = [(p.pop, p.url) for p in answer.ranked[:STEERING_PATHWAYS]]
        text, other = await fetch_playlist(answer.chosen.url)
        if other is not None:
            return other
        where = client_location(request, zones)
        assert where is not None
        steering_uri = str(
            request.url_for("steering").include_query_params(
                geo=f"{where[0]},{where[1]}", path=path
            )
        )
        try:
            master = steered_master(text or "", pathways, steering_uri)
        except ValueError as exc:
            return _error(422, "not_a_master_playlist", str(exc))
        return playlist_response(master)

    async def steering(request: Request) -> Response:
        """The steering manifest: this client's POPs, best first (hls.js polls it every TTL)."""
        path = request.query_params.get("path", "/")
        answer = decide(request, path)
        if not isinstance(answer, RouteDecision):
            return answer
        priority = [p.pop for p in answer.ranked]
        return Response(
            steering_manifest(priority, ROUTE_TTL_S),
            media_type="application/json",
            headers={"cache-control": "no-store", "access-control-allow-origin": "*"},
        )

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    return Starlette(
        routes=[
            Route("/heartbeat", heartbeat, methods=["POST"]),
            Route("/pops", pops, methods=["GET"]),
            Route("/route", route, methods=["GET"]),
            Route("/r/{path:path}", redirect, methods=["GET", "HEAD"]),
            Route("/cdn/{path:path}", cdn_playlist, methods=["GET"]),
            Route("/steered/{path:path}", steered, methods=["GET"]),
            Route("/steering", steering, methods=["GET"], name="steering"),
            Route("/healthz", healthz, methods=["GET"]),
        ],
        lifespan=lifespan,
    )


def video_key(path: str) -> str | None:
    """Content affinity key: the first two path segments (`/vod/<id>`), if there are two."""
    parts = [p for p in path.split("/") if p]
    return "/".join(parts[:2]) if len(parts) >= 2 else None
