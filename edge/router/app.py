"""The router: a POP registry fed by signed, bounded, rate-limited heartbeats; a lookup by
client location (`/route`), redirects (`/r/`), playlists through the chosen POP (`/cdn/`),
content steering (`/steered/`, `/steering`, naming peer routers too) and, when given a zone,
DNS answers. Decisions come from edge/router/routing.py, the code the simulator runs; any
number of routers fed by the same POPs decide alike."""

from __future__ import annotations

import asyncio
import contextlib
import time
import zlib
from collections import Counter
from collections.abc import AsyncIterator, Callable, Mapping
from urllib.parse import unquote_plus

import httpx
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from edge.router.coverage import CoverageZones
from edge.router.dns import DnsAnswerer, DnsZone, serve_dns
from edge.router.registry import PopRegistry, Refused, parse_heartbeat
from edge.router.routing import RoutingPolicy, choose_pop, neighbours
from edge.router.steering import absolute_uris, steered_master, steering_manifest
from edge.wire import (
    SIGNATURE_HEADER,
    BeatReply,
    PopUrl,
    RouteDecision,
    SignatureError,
    WireError,
    verify_beat,
)
from httprules.errors import error_document, http_error
from httprules.jsonbody import BodyError, loads_bounded, read_limited
from httprules.observe import HttpMetrics, Observed
from httprules.prometheus import CONTENT_TYPE as PROMETHEUS_TYPE
from httprules.prometheus import Family, process_families, render
from httprules.ratelimit import Rate, RateLimit

ROUTE_TTL_S = 5
PROBE_INTERVAL_S = 1.0
STEERING_PATHWAYS = 3  # POPs listed in a steered master: the chosen one and two alternatives
PLAYLIST_TYPES = ("application/vnd.apple.mpegurl", "application/x-mpegurl", "audio/mpegurl")
MAX_BEAT_BYTES = 4096  # a heartbeat is a flat object of a dozen fields
MAX_BEAT_DEPTH = 2
# per sender address: a POP beats once a second. Per address, not per IPv6 /64 as viewers are
# counted: the POPs of one data centre may share a /64, and their beats are signed anyway.
BEATS_PER_S = 10.0
BEAT_BURST = 20
MAX_PROBES_AT_ONCE = 64


def _error(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(error_document(code, message), status_code=status, headers=headers)


class BadLocation(ValueError):
    """A location given that is none: not two numbers, or out of the globe's range."""


def client_location(
    request: Request, zones: CoverageZones | None = None
) -> tuple[float, float] | None:
    """From `lat`/`lon` or `geo=lat,lon` parameters, or the `X-Client-Geo: lat,lon` header,
    or else the coverage zone of the client's address; `BadLocation` for one given that is
    none."""
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
        raise BadLocation(raw) from None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):  # NaN is in no range
        raise BadLocation(raw)
    return lat, lon


ROUTER_PARAMETERS = frozenset({"lat", "lon", "geo"})  # the client's location, the router's


def passed_query(request: Request) -> str:
    """The request's query (with its "?") without the router's own parameters, as sent: the
    POP is asked with the rest (an LL-HLS blocking reload's `_HLS_msn`, say)."""
    kept = [
        pair
        for pair in request.url.query.split("&")
        if pair and unquote_plus(pair.partition("=")[0]) not in ROUTER_PARAMETERS
    ]
    return "?" + "&".join(kept) if kept else ""


def create_router_app(
    *,
    registry: PopRegistry | None = None,
    policy: RoutingPolicy | None = None,
    pop_keys: Mapping[str, str] | None = None,
    clock: Callable[[], float] = time.monotonic,
    wall_clock: Callable[[], float] = time.time,
    probe_interval_s: float | None = PROBE_INTERVAL_S,
    zones: CoverageZones | None = None,
    beat_limiter: RateLimit | None = None,
    dns_zone: DnsZone | None = None,
    dns_address: tuple[str, int] = ("127.0.0.1", 0),
    peers: tuple[str, ...] = (),
) -> Starlette:
    """`pop_keys`: each POP's heartbeat key (a beat must be signed with its POP's key; with
    none, no POP can join); `probe_interval_s`: how often to GET every POP's /healthz (None:
    no active probes); `zones`: where clients that give no location are, by address;
    `dns_zone`: also answer DNS queries for that zone over UDP and TCP at `dns_address`; `peers`:
    the other routers (as players reach them), probed like POPs and named in steering
    manifests while they answer."""
    registry = registry or PopRegistry()
    policy = policy or RoutingPolicy()
    keys = dict(pop_keys or {})
    limiter = beat_limiter or RateLimit(Rate(BEATS_PER_S, BEAT_BURST), "beats")
    probing = asyncio.Semaphore(MAX_PROBES_AT_ONCE)
    peers = tuple(p.rstrip("/") for p in peers)
    peer_ok: dict[str, bool] = {}
    decisions: Counter[str] = Counter()  # routing decisions by POP
    http_metrics = HttpMetrics("mediacdn_router")

    async def probe_forever(interval_s: float) -> None:
        async with httpx.AsyncClient(timeout=interval_s) as http:

            async def healthy(url: str) -> bool:
                async with probing:
                    try:
                        return (await http.get(url + "/healthz")).status_code == 200
                    except httpx.HTTPError:
                        return False

            async def probe(name: str, url: str) -> None:
                registry.probe_result(name, await healthy(url))

            async def probe_peer(url: str) -> None:
                peer_ok[url] = await healthy(url)

            while True:
                targets = registry.probe_targets(clock())
                await asyncio.gather(
                    *(probe(n, u) for n, u in targets.items()), *(probe_peer(u) for u in peers)
                )
                await asyncio.sleep(interval_s)

    fetcher: list[httpx.AsyncClient] = []  # for playlists fetched through POPs

    dns = DnsAnswerer(dns_zone, registry, policy, zones, clock) if dns_zone else None

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        task = asyncio.create_task(probe_forever(probe_interval_s)) if probe_interval_s else None
        fetcher.append(httpx.AsyncClient(timeout=5))
        dns_server = await serve_dns(dns, *dns_address) if dns is not None else None
        if dns_server is not None:
            app.state.dns_port = dns_server.port
        try:
            yield
        finally:
            if dns_server is not None:
                dns_server.close()
            await fetcher.pop().aclose()
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def heartbeat(request: Request) -> Response:
        """A POP's beat: within limits, well-formed, signed by that POP's key, and acceptable
        to the registry; anything else is refused and changes nothing."""
        sender = request.client.host if request.client else ""
        decision = await limiter.hit(sender)
        if not decision.allowed:
            return _error(429, "too_many_heartbeats", "slow down", decision.headers())
        try:
            body = await read_limited(request.stream(), MAX_BEAT_BYTES)
            beat = parse_heartbeat(loads_bounded(body, MAX_BEAT_DEPTH), clock())
            signature = request.headers.get(SIGNATURE_HEADER)
            signed_at = verify_beat(keys.get(beat.pop.name), body, signature, wall_clock())
            registry.heartbeat(beat, signed_at)
        except BodyError as exc:
            return _error(exc.status, exc.code, str(exc))
        except WireError as exc:
            return _error(422, "invalid_heartbeat", str(exc))
        except SignatureError as exc:
            code = "unauthorized" if exc.status == 401 else "forbidden"
            return _error(exc.status, code, str(exc))
        except Refused as exc:
            return _error(exc.status, exc.code, exc.message)
        known, loads, urls = registry.snapshot(clock())
        pop = next(p for p in known if p.name == beat.pop.name)
        spill_to = tuple(
            PopUrl(n.name, urls[n.name]) for n in neighbours(pop, known, loads, policy)
        )
        return JSONResponse(BeatReply(spill_to).to_json())

    async def pops(request: Request) -> Response:
        return JSONResponse({"pops": registry.describe(clock())})

    def decide(request: Request, path: str, query: str = "") -> RouteDecision | JSONResponse:
        """The routing decision for this client and path (its URLs with `query`), or the
        error to answer with."""
        try:
            where = client_location(request, zones)
        except BadLocation as exc:
            return _error(
                422,
                "invalid_location",
                f"{str(exc)[:100]!r} is no location: give LAT,LON, a latitude from -90 to 90 "
                "and a longitude from -180 to 180",
            )
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
            decisions["none"] += 1
            return _error(503, "no_pop", "no healthy POP")
        decisions[route.pop.name] += 1
        return RouteDecision(
            chosen=PopUrl(route.pop.name, urls[route.pop.name] + path + query),
            alternatives=tuple(
                PopUrl(p.name, urls[p.name] + path + query) for p in route.alternatives
            ),
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
        answer = decide(request, path, passed_query(request))
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
        answer = decide(request, path, passed_query(request))
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
        reload_uri = None
        routers = [str(request.base_url).rstrip("/"), *(u for u in peers if peer_ok.get(u))]
        if len(routers) > 1:  # name another router too, so no one router is the only way
            turn = zlib.crc32(request.url.query.encode()) + int(clock() // ROUTE_TTL_S)
            base = routers[turn % len(routers)]
            reload_uri = f"{base}/steering?{request.url.query}"
        return Response(
            steering_manifest(priority, ROUTE_TTL_S, reload_uri),
            media_type="application/json",
            headers={"cache-control": "no-store", "access-control-allow-origin": "*"},
        )

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        """Ready when it can route someone: at least one healthy POP."""
        known, loads, _ = registry.snapshot(clock())
        healthy = sum(1 for p in known if loads[p.name].healthy)
        ready = healthy > 0
        return JSONResponse(
            {"status": "ok" if ready else "error", "pops": len(known), "healthy_pops": healthy},
            status_code=200 if ready else 503,
            headers={"cache-control": "no-store"},
        )

    async def metrics(request: Request) -> Response:
        known, loads, _ = registry.snapshot(clock())
        routed = Family(
            "mediacdn_router_decisions_total",
            "counter",
            'Routing decisions (/route, /r/, /cdn/, /steered/, /steering), by POP ("none": '
            "no healthy POP).",
        )
        for name, n in sorted(decisions.items()):
            routed.add(n, pop=name)
        families = [
            routed,
            Family("mediacdn_router_pops", "gauge", "POPs heard from.").add(len(known)),
            Family("mediacdn_router_healthy_pops", "gauge", "POPs that may be routed to.").add(
                sum(1 for p in known if loads[p.name].healthy)
            ),
            *http_metrics.families(),
            *process_families(),
        ]
        return Response(render(families), media_type=PROMETHEUS_TYPE)

    routes = [
        Route("/heartbeat", heartbeat, methods=["POST"]),
        Route("/pops", pops, methods=["GET"]),
        Route("/route", route, methods=["GET"]),
        Route("/r/{path:path}", redirect, methods=["GET", "HEAD"]),
        Route("/cdn/{path:path}", cdn_playlist, methods=["GET"]),
        Route("/steered/{path:path}", steered, methods=["GET"]),
        Route("/steering", steering, methods=["GET"], name="steering"),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
    ]
    return Starlette(
        # players on any origin start here (hls.js, Shaka, video.js fetch with CORS): GET and
        # HEAD with any request header (Range), preflights answered; heartbeats are not theirs
        middleware=[
            Middleware(Observed, http_metrics, lambda: routes, "router"),
            Middleware(
                CORSMiddleware,
                allow_origins=["*"],
                allow_methods=["GET", "HEAD"],
                allow_headers=["*"],
                expose_headers=["Location", "Content-Length", "Age"],
                max_age=600,
            ),
        ],
        routes=routes,
        lifespan=lifespan,
        exception_handlers={HTTPException: http_error},
    )


def video_key(path: str) -> str | None:
    """Content affinity key: the first two path segments (`/vod/<id>`), if there are two."""
    parts = [p for p in path.split("/") if p]
    return "/".join(parts[:2]) if len(parts) >= 2 else None
