"""An overloaded POP sends new requests to the neighbour the router named, with a 307, instead
of queueing them; the neighbour serves (and caches) the plain URL and never spills it again."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack

import httpx

from edge.pop.app import Edge
from tests.support.asgi_server import serve_in_thread
from tests.support.edges import keyed_router, routed_edge
from tests.support.scripted_origin import Route, ScriptedOrigin
from tests.support.servers import wait_until

SEGMENT = "/vod/v1/360p/1.m4s"


def test_an_overloaded_edge_spills_to_its_neighbour() -> None:
    hold = threading.Event()
    origin = ScriptedOrigin(
        {
            "/vod/v1/360p/0.m4s": Route(
                b"slow", headers={"cache-control": "max-age=60"}, hold=hold
            ),
            SEGMENT: Route(b"seg1", headers={"cache-control": "max-age=60"}),
            SEGMENT + "?session=7": Route(b"seg1", headers={"cache-control": "max-age=60"}),
        }
    )
    with ExitStack() as stack:
        origin_url = stack.enter_context(serve_in_thread(origin))
        router_url = stack.enter_context(
            serve_in_thread(keyed_router(["paris", "london"], probe_interval_s=None), lifespan="on")
        )
        edges: dict[str, tuple[Edge, str]] = {}
        for name, lat, lon, capacity in (("paris", 48.86, 2.35, 1), ("london", 51.51, -0.13, 100)):
            edge, port, public = routed_edge(
                name, lat, lon, origin_url, router_url, max_in_flight=capacity
            )
            stack.enter_context(serve_in_thread(edge, port=port, lifespan="on"))
            edges[name] = (edge, public)
        paris, paris_url = edges["paris"]
        london, london_url = edges["london"]
        wait_until(lambda: paris.neighbours == [london_url], 10, "the router names neighbours")
        assert london.neighbours == [paris_url]

        with ThreadPoolExecutor(1) as pool, httpx.Client(timeout=10) as http:
            busy = pool.submit(http.get, paris_url + "/vod/v1/360p/0.m4s")
            wait_until(lambda: paris.metrics.in_flight == 1, 10, "paris at capacity")
            spilled = http.get(paris_url + SEGMENT + "?session=7")
            assert spilled.status_code == 307
            location = spilled.headers["location"]
            assert location == f"{london_url}{SEGMENT}?session=7&cdn-spilled-from=paris"
            served = http.get(location)
            assert served.status_code == 200
            assert served.content == b"seg1"
            assert served.headers["x-cache"] == "MISS"
            # the neighbour cached the plain URL: the mark is not part of the key
            again = http.get(london_url + SEGMENT + "?session=7")
            assert again.headers["x-cache"] == "HIT"
            assert origin.hits[SEGMENT + "?session=7"] == 1
            # a spilled request is never spilled again, even by an overloaded neighbour
            kept = http.get(paris_url + SEGMENT + "?cdn-spilled-from=london")
            assert kept.status_code == 200
            assert kept.content == b"seg1"
            assert origin.hits[SEGMENT] == 1  # fetched as the plain URL
            stats = http.get(paris_url + "/stats").json()
            assert stats["spilled"] == 1
            hold.set()
            assert busy.result(timeout=10).content == b"slow"
        wait_until(lambda: paris.metrics.in_flight == 0, 10, "paris idle")
        with httpx.Client(timeout=10) as http:
            direct = http.get(paris_url + SEGMENT + "?session=7")
            assert direct.status_code == 200  # not overloaded any more: served, not spilled
