"""The router with real edges on 127.0.0.1: edges join by heartbeat, clients are routed to
the nearest one, and an edge that goes silent leaves rotation within 3 s."""

from __future__ import annotations

import os
import signal
import time
from contextlib import ExitStack
from pathlib import Path

import httpx

from edge.router.topology import DEFAULT_TOPOLOGY
from tests.support.asgi_server import serve_in_thread
from tests.support.edges import keyed_router, pop_key, routed_edge, write_pop_keys
from tests.support.scripted_origin import Route, ScriptedOrigin
from tests.support.servers import free_port, start_mediacdn, stop_process, wait_until

PARIS_CLIENT = "48.85,2.30"


def test_heartbeats_routes_redirects_and_failover() -> None:
    playlist = {"content-type": "application/vnd.apple.mpegurl", "cache-control": "no-store"}
    origin = ScriptedOrigin(
        {
            "/vod/v1/360p/0.m4s": Route(b"seg", headers={"cache-control": "max-age=60"}),
            "/live/v2/360p/index.m3u8?_HLS_msn=3": Route(
                b"#EXTM3U\n#EXTINF:2,\n3.m4s\n", headers=playlist
            ),
        }
    )
    with ExitStack() as stack:
        origin_url = stack.enter_context(serve_in_thread(origin))
        router = keyed_router(["paris", "london"])
        router_url = stack.enter_context(serve_in_thread(router, lifespan="on"))
        edges = {}
        for name, lat, lon in (("paris", 48.86, 2.35), ("london", 51.51, -0.13)):
            edge, port, public = routed_edge(name, lat, lon, origin_url, router_url)
            paris_stack = ExitStack() if name == "paris" else stack
            paris_stack.enter_context(serve_in_thread(edge, port=port, lifespan="on"))
            edges[name] = (public, paris_stack)
        http = stack.enter_context(httpx.Client(base_url=router_url, timeout=10))
        wait_until(lambda: len(http.get("/pops").json()["pops"]) == 2, 10, "heartbeats")

        route = http.get(
            "/route", params={"lat": 48.85, "lon": 2.30, "path": "/vod/v1/360p/0.m4s"}
        ).json()
        assert route["pop"] == "paris"
        assert route["url"] == edges["paris"][0] + "/vod/v1/360p/0.m4s"
        assert [a["pop"] for a in route["alternatives"]] == ["london"]
        assert http.get("/route", params={"lat": 53.48, "lon": -2.24}).json()["pop"] == "london"

        redirect = http.get("/r/vod/v1/360p/0.m4s", headers={"X-Client-Geo": PARIS_CLIENT})
        assert redirect.status_code == 302
        assert redirect.headers["location"] == edges["paris"][0] + "/vod/v1/360p/0.m4s"
        followed = httpx.get(redirect.headers["location"])
        assert followed.content == b"seg"
        # the rest of the query goes to the POP as sent (a blocking reload's, say); the
        # client's location is the router's alone
        query = "lat=48.85&lon=2.30&_HLS_msn=3&note=a%20b&geo"
        redirect = http.get(f"/r/vod/v1/360p/0.m4s?{query}")
        assert redirect.headers["location"] == (
            edges["paris"][0] + "/vod/v1/360p/0.m4s?_HLS_msn=3&note=a%20b"
        )
        blocking = http.get(f"/cdn/live/v2/360p/index.m3u8?{query.replace('&note=a%20b', '')}")
        assert blocking.status_code == 200, blocking.text
        assert edges["paris"][0] + "/live/v2/360p/3.m4s" in blocking.text
        assert origin.hits["/live/v2/360p/index.m3u8?_HLS_msn=3"] == 1
        assert http.get("/route").status_code == 422

        # a player on another origin: preflight, then the redirect and the lookup carry CORS
        page = {"origin": "https://player.example"}
        preflight = http.options(
            "/r/vod/v1/360p/0.m4s",
            headers=page
            | {"access-control-request-method": "GET", "access-control-request-headers": "range"},
        )
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == "*"
        assert "range" in preflight.headers["access-control-allow-headers"].lower()
        for path in ("/r/vod/v1/360p/0.m4s", f"/route?geo={PARIS_CLIENT}&path=/x"):
            answer = http.get(path, headers=page | {"X-Client-Geo": PARIS_CLIENT})
            assert answer.headers["access-control-allow-origin"] == "*", path
        no_beats = http.options(
            "/heartbeat", headers=page | {"access-control-request-method": "POST"}
        )
        assert no_beats.status_code == 400  # POP heartbeats are not for browsers

        edges["paris"][1].close()  # the Paris edge goes away
        gone = time.monotonic()
        wait_until(
            lambda: http.get("/route", params={"geo": PARIS_CLIENT}).json()["pop"] == "london",
            10,
            "failover",
        )
        assert time.monotonic() - gone <= 3.5
        pops = {p["name"]: p for p in http.get("/pops").json()["pops"]}
        assert pops["paris"]["healthy"] is False
        assert pops["london"]["healthy"] is True


def test_cli_edge_joins_the_cli_router_and_leaves_when_killed(tmp_path: Path) -> None:
    router_port, edge_port = free_port(), free_port()
    router_url = f"http://127.0.0.1:{router_port}"
    keys = write_pop_keys(tmp_path / "keys.toml", ["lyon"])
    router = start_mediacdn(
        "router",
        tmp_path,
        {},
        "--port",
        str(router_port),
        "--topology",
        str(DEFAULT_TOPOLOGY),
        "--pop-keys",
        str(keys),
        "--allow-enrollment",
    )
    edge = start_mediacdn(
        "edge",
        tmp_path,
        {"MEDIACDN_ADMIN_KEYS": "k", "MEDIACDN_POP_KEY": pop_key("lyon")},
        "--name",
        "lyon",
        "--lat",
        "45.76",
        "--lon",
        "4.84",
        "--upstream",
        "http://127.0.0.1:9",
        "--port",
        str(edge_port),
        "--router",
        router_url,
    )
    try:
        with httpx.Client(base_url=router_url, timeout=10) as http:
            wait_until(
                lambda: http.get("/route", params={"geo": "45.7,4.8"}).status_code == 200,
                30,
                "edge joined",
            )
            route = http.get("/route", params={"geo": "45.7,4.8"}).json()
            assert route["pop"] == "lyon"  # not in the topology: enrolled by its signed beats
            planned = {p["name"]: p for p in http.get("/pops").json()["pops"]}
            assert planned["paris"]["healthy"] is False  # planned, never heard from
            assert route["url"] == f"http://127.0.0.1:{edge_port}/"
            os.killpg(edge.pid, signal.SIGKILL)
            killed = time.monotonic()
            wait_until(
                lambda: http.get("/route", params={"geo": "45.7,4.8"}).status_code == 503,
                10,
                "out of rotation",
            )
            assert time.monotonic() - killed <= 3.5
    finally:
        stop_process(edge)
        stop_process(router)


def test_a_path_or_method_the_router_has_no_route_for_gets_a_json_error() -> None:
    """Like every answer of the router's API: the JSON error shape, with Allow on a 405."""
    with (
        serve_in_thread(keyed_router(["paris"]), lifespan="on") as router_url,
        httpx.Client(base_url=router_url, timeout=10) as http,
    ):
        for method, path, status, code in (
            ("GET", "/nope", 404, "not_found"),
            ("GET", "/vod/a/master.m3u8", 404, "not_found"),
            ("POST", "/route", 405, "method_not_allowed"),
            ("GET", "/heartbeat", 405, "method_not_allowed"),
        ):
            answer = http.request(method, path)
            assert answer.status_code == status, (method, path)
            assert answer.json()["error"]["code"] == code
        assert http.post("/route").headers["allow"] == "GET, HEAD"  # in one order, always


def test_a_location_that_is_none_is_refused_saying_so() -> None:
    """A latitude past 90, a longitude past 180, NaN or words are no location: a 422 that
    says what a location is (it was 'missing_location', as if none had been given)."""
    with (
        serve_in_thread(keyed_router(["paris"]), lifespan="on") as router_url,
        httpx.Client(base_url=router_url, timeout=10) as http,
    ):
        for params, headers in (
            ({"lat": "91", "lon": "0"}, {}),
            ({"lat": "0", "lon": "-180.5"}, {}),
            ({"geo": "nan,2"}, {}),
            ({"geo": "paris"}, {}),
            ({}, {"x-client-geo": "1,2,3"}),
        ):
            for path in ("/route", "/r/vod/a/master.m3u8", "/steered/vod/a/master.m3u8"):
                refused = http.get(path, params=params, headers=headers)
                assert refused.status_code == 422, (path, params, headers)
                error = refused.json()["error"]
                assert error["code"] == "invalid_location"
                assert "a latitude from -90 to 90" in error["message"]
        assert http.get("/route").json()["error"]["code"] == "missing_location"
