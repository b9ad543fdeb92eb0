"""The router against hostile senders, with real router processes: beats without or with a
wrong credential, a stolen name, out-of-range or non-finite values, an injecting name or a body
too large or too deep are refused and change nothing players see; a flood of refused beats
does not slow routing; a silent POP is forgotten."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest

from edge.wire import SIGNATURE_HEADER, sign_beat
from tests.support.asgi_server import serve_in_thread
from tests.support.edges import beating, pop_key, post_beat, router_process, write_pop_keys
from tests.support.scripted_origin import Route, ScriptedOrigin
from tests.support.servers import wait_until

MASTER = (
    "#EXTM3U\n#EXT-X-VERSION:7\n"
    '#EXT-X-STREAM-INF:BANDWIDTH=800000,RESOLUTION=640x360,CODECS="avc1.64001e"\n'
    "360p/index.m3u8\n"
)
PLAYLIST = {"content-type": "application/vnd.apple.mpegurl", "cache-control": "max-age=1"}
PARIS = {"name": "paris", "lat": 48.86, "lon": 2.35, "in_flight": 0}
LONDON = {"name": "london", "lat": 51.51, "lon": -0.13, "in_flight": 0}
GEO = {"geo": "48.85,2.30"}


def write_topology(path: Path, urls: dict[str, str]) -> Path:
    pops = "".join(
        f'[[pop]]\nname = "{b["name"]}"\nlat = {b["lat"]}\nlon = {b["lon"]}\n'
        f'url = "{urls[str(b["name"])]}"\n'
        for b in (PARIS, LONDON)
    )
    path.write_text(f'origin = "http://127.0.0.1:9"\n{pops}')
    return path


def seen_by_players(http: httpx.Client) -> dict[str, Any]:
    """Everything a player (or the dashboard) gets from the router, minus what ages."""
    pops = [
        {k: v for k, v in p.items() if k != "last_heartbeat_s"}
        for p in http.get("/pops").json()["pops"]
    ]
    redirect = http.get("/r/vod/v1/master.m3u8", params=GEO)
    return {
        "pops": sorted(pops, key=lambda p: p["name"]),
        "route": http.get("/route", params={**GEO, "path": "/vod/v1/master.m3u8"}).json(),
        "redirect": (redirect.status_code, redirect.headers.get("location")),
        "cdn": http.get("/cdn/vod/v1/master.m3u8", params=GEO).text,
        "steered": http.get("/steered/vod/v1/master.m3u8", params=GEO).text,
    }


def signed_body(beat: dict[str, Any], key: str, at_s: float | None = None) -> dict[str, str]:
    body = json.dumps(beat).encode()
    return {SIGNATURE_HEADER: sign_beat(key, body, time.time() if at_s is None else at_s)}


def hostile_beats(urls: dict[str, str]) -> list[tuple[str, bytes, dict[str, str], int]]:
    """(what, body, headers, the status it must get)."""
    paris = {**PARIS, "url": urls["paris"], "in_flight": 0}

    def beat(what: str, fields: dict[str, Any], key: str | None, status: int) -> Any:
        body = json.dumps(fields).encode()
        return what, body, signed_body(fields, key) if key else {}, status

    inject = {**paris, "name": 'paris",PATHWAY-ID="x"\n#EXT-X-ENDLIST'}
    return [
        beat("no credential", paris, None, 401),
        beat("wrong key", paris, "not-the-paris-key-at-all", 403),
        beat("stolen name", paris, pop_key("mallory"), 403),
        beat("unknown pop", {**paris, "name": "mallory"}, pop_key("mallory"), 403),
        beat("keyed but not planned", {**paris, "name": "lyon"}, pop_key("lyon"), 403),
        beat("negative load", {**paris, "in_flight": -1000}, pop_key("paris"), 422),
        beat("huge capacity", {**paris, "max_in_flight": 10**30}, pop_key("paris"), 422),
        beat("far latitude", {**paris, "lat": 1e308}, pop_key("paris"), 422),
        beat("NaN", {**paris, "lat": float("nan")}, pop_key("paris"), 422),
        beat("injecting name", inject, pop_key("paris"), 422),
        ("deep body", b"[" * 2000 + b"]" * 2000, {}, 422),
        ("huge body", json.dumps({**paris, "pad": "x" * 100_000}).encode(), {}, 413),
        ("not json", b"\x00\xff", {}, 422),
    ]


def test_refused_beats_change_nothing_players_see(tmp_path: Path) -> None:
    with ExitStack() as stack:
        urls = {}
        for name in ("paris", "london"):
            pop = ScriptedOrigin({"/vod/v1/master.m3u8": Route(MASTER.encode(), headers=PLAYLIST)})
            urls[name] = stack.enter_context(serve_in_thread(pop))
        topology = write_topology(tmp_path / "topology.toml", urls)
        keys = write_pop_keys(tmp_path / "keys.toml", ["paris", "london", "lyon"])
        router = stack.enter_context(
            router_process(
                tmp_path,
                "--topology",
                str(topology),
                "--pop-keys",
                str(keys),
                "--beat-rate",
                "1000",
                "--forget-after",
                "3600",
            )
        )
        http = stack.enter_context(httpx.Client(base_url=router, timeout=10))
        # Planned POPs: the topology's URL wins over the one their beats give.
        good = [{**beat, "url": "http://ignored.example"} for beat in (PARIS, LONDON)]
        for beat in good:
            answer = post_beat(http, beat)
            assert answer.status_code == 200, answer.text
        stack.enter_context(beating(router, *good))
        before = seen_by_players(http)
        assert before["route"]["pop"] == "paris"
        assert before["redirect"] == (302, urls["paris"] + "/vod/v1/master.m3u8")
        assert 'PATHWAY-ID="paris"' in before["steered"]
        for what, body, headers, status in hostile_beats(urls):
            answer = http.post(
                "/heartbeat", content=body, headers={"content-type": "application/json", **headers}
            )
            assert answer.status_code == status, (what, answer.text)
            assert answer.json()["error"]["code"], what
            assert seen_by_players(http) == before, what
        # A captured beat sent again is a replay.
        beat = good[0]
        body = json.dumps(beat).encode()
        # Signed a little ahead, so that it is the latest beat the router has seen.
        signature = signed_body(beat, pop_key("paris"), time.time() + 2)
        headers = {"content-type": "application/json", **signature}
        assert http.post("/heartbeat", content=body, headers=headers).status_code == 200
        after_good = seen_by_players(http)
        replay = http.post("/heartbeat", content=body, headers=headers)
        assert replay.status_code == 403
        assert replay.json()["error"]["code"] == "replayed"
        assert seen_by_players(http) == after_good


def route_latencies_ms(http: httpx.Client, n: int) -> list[float]:
    out = []
    for _ in range(n):
        started = time.perf_counter()
        assert http.get("/route", params={**GEO, "path": "/vod/v1/master.m3u8"}).status_code == 200
        out.append((time.perf_counter() - started) * 1000)
        time.sleep(0.01)
    return out


def p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[98]


@pytest.mark.alone
def test_routing_keeps_its_latency_during_a_flood_of_refused_beats(tmp_path: Path) -> None:
    urls = {"paris": "http://127.0.0.1:1", "london": "http://127.0.0.1:2"}
    topology = write_topology(tmp_path / "topology.toml", urls)
    keys = write_pop_keys(tmp_path / "keys.toml", ["paris", "london"])
    with ExitStack() as stack:
        router = stack.enter_context(
            router_process(tmp_path, "--topology", str(topology), "--pop-keys", str(keys))
        )
        http = stack.enter_context(httpx.Client(base_url=router, timeout=10))
        stack.enter_context(beating(router, {**PARIS, "url": urls["paris"]}))
        wait_until(lambda: http.get("/route", params=GEO).status_code == 200, 10, "paris")
        quiet = route_latencies_ms(http, 200)
        flood = subprocess.Popen(
            [sys.executable, "-m", "tests.support.beatflood", router + "/heartbeat", "1000", "6"],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            time.sleep(1.0)
            loaded = route_latencies_ms(http, 200)
            out, _ = flood.communicate(timeout=60)
        finally:
            if flood.poll() is None:
                flood.kill()
        sent, refused, _ = out.split()
        assert int(sent) >= 3000  # about 1,000 a second for 6 s
        assert int(refused) == int(sent)
        assert (
            post_beat(http, {**PARIS, "url": urls["paris"]}).status_code == 200
        )  # POPs still beat
    print(f"/route p99 quiet {p99(quiet):.1f} ms, during the flood {p99(loaded):.1f} ms")
    assert p99(loaded) <= 4 * p99(quiet) + 25, (p99(quiet), p99(loaded))


def test_a_silent_pop_is_forgotten(tmp_path: Path) -> None:
    keys = write_pop_keys(tmp_path / "keys.toml", ["lyon"])
    with (
        router_process(
            tmp_path, "--pop-keys", str(keys), "--allow-enrollment", "--forget-after", "2"
        ) as router,
        httpx.Client(base_url=router, timeout=10) as http,
    ):
        lyon = {"name": "lyon", "url": "http://127.0.0.1:3", "lat": 45.76, "lon": 4.84}
        assert post_beat(http, lyon).status_code == 200
        assert [p["name"] for p in http.get("/pops").json()["pops"]] == ["lyon"]
        wait_until(lambda: http.get("/pops").json()["pops"] == [], 10, "lyon forgotten")


@pytest.mark.parametrize("keys", [False, True], ids=["no-key-file", "key-file"])
def test_without_keys_no_pop_can_join(tmp_path: Path, keys: bool) -> None:
    extra = ("--pop-keys", str(write_pop_keys(tmp_path / "k.toml", ["paris"]))) if keys else ()
    with (
        router_process(tmp_path, "--allow-enrollment", *extra) as router,
        httpx.Client(base_url=router, timeout=10) as http,
    ):
        answer = post_beat(http, {**PARIS, "url": "http://127.0.0.1:4"})
        assert answer.status_code == (200 if keys else 403)
