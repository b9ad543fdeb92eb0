"""Several routers: two `mediacdn router` processes fed by the same two `mediacdn edge`
processes decide the same; one is killed with SIGKILL while players play: every player
finishes, new players start through the other, and its steering manifests stop naming it."""

from __future__ import annotations

import json
import os
import signal
import time
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx

from edge.player.player import HeadlessPlayer
from edge.player.routed import RoutedSession, play_via_router
from tests.support.asgi_server import serve_in_thread
from tests.support.edges import pop_key, write_pop_keys
from tests.support.scripted_origin import Route, ScriptedOrigin
from tests.support.servers import free_port, start_mediacdn, stop_process, wait_until

SEGMENTS = 10
MASTER = (
    "#EXTM3U\n#EXT-X-VERSION:7\n"
    '#EXT-X-STREAM-INF:BANDWIDTH=800000,RESOLUTION=640x360,CODECS="avc1.64001e"\n'
    "360p/index.m3u8\n"
)
MEDIA = (
    "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:4\n#EXT-X-PLAYLIST-TYPE:VOD\n"
    + "".join(f"#EXTINF:4.000,\n{n}.m4s\n" for n in range(SEGMENTS))
    + "#EXT-X-ENDLIST\n"
)
PLAYLIST = {"content-type": "application/vnd.apple.mpegurl", "cache-control": "max-age=60"}
SEGMENT = {"content-type": "video/iso.segment", "cache-control": "max-age=3600"}
POPS = {"paris": (48.86, 2.35), "london": (51.51, -0.13)}
PLAYERS = [(48.85, 2.30), (51.50, -0.12), (48.9, 2.4), (51.4, -0.2), (48.8, 2.2), (51.6, 0.0)]
PATH = "/vod/v1/master.m3u8"


def hls_origin() -> ScriptedOrigin:
    routes = {
        PATH: Route(MASTER.encode(), headers=PLAYLIST),
        "/vod/v1/360p/index.m3u8": Route(MEDIA.encode(), headers=PLAYLIST),
    }
    for n in range(SEGMENTS):
        routes[f"/vod/v1/360p/{n}.m4s"] = Route(bytes([n]) * 40_000, headers=SEGMENT)
    return ScriptedOrigin(routes)


def play(routers: list[str], geo: tuple[float, float]) -> RoutedSession:
    with httpx.Client(timeout=10) as http:
        return play_via_router(http, routers, geo, PATH, HeadlessPlayer(http, speed=8.0))


def test_two_routers_one_killed_under_load(tmp_path: Path) -> None:
    with ExitStack() as stack:
        origin = stack.enter_context(serve_in_thread(hls_origin()))
        ports = {name: free_port() for name in POPS}
        router_ports = [free_port(), free_port()]
        routers = [f"http://127.0.0.1:{p}" for p in router_ports]
        topology = tmp_path / "topology.toml"
        topology.write_text(
            'origin = "http://127.0.0.1:9"\n'
            + "".join(
                f'[[pop]]\nname = "{n}"\nlat = {lat}\nlon = {lon}\n'
                f'url = "http://127.0.0.1:{ports[n]}"\n'
                for n, (lat, lon) in POPS.items()
            )
        )
        keys = write_pop_keys(tmp_path / "keys.toml", POPS)
        procs = []
        for i, port in enumerate(router_ports):
            peer = routers[1 - i]
            args = ["--port", str(port), "--topology", str(topology), "--pop-keys", str(keys)]
            procs.append(
                start_mediacdn("router", tmp_path, {}, *args, "--peer", peer, log_name=f"r{i}")
            )
        for name, (lat, lon) in POPS.items():
            env = {"MEDIACDN_ADMIN_KEYS": "admin", "MEDIACDN_POP_KEY": pop_key(name)}
            beats = [arg for r in routers for arg in ("--router", r)]
            args = ["--name", name, "--upstream", origin, "--port", str(ports[name])]
            position = ["--lat", str(lat), "--lon", str(lon)]
            procs.append(
                start_mediacdn("edge", tmp_path, env, *args, *position, *beats, log_name=name)
            )
        for proc in procs:
            stack.callback(stop_process, proc)

        def both_routed() -> bool:
            try:
                return all(
                    {
                        p["name"]
                        for p in httpx.get(r + "/pops", timeout=2).json()["pops"]
                        if p["healthy"]
                    }
                    == set(POPS)
                    for r in routers
                )
            except httpx.HTTPError:
                return False

        wait_until(both_routed, 30, "both POPs in rotation on both routers")

        # Same inputs, same decisions, on either router.
        for lat, lon in PLAYERS:
            params = {"geo": f"{lat},{lon}", "path": PATH}
            answers = [httpx.get(r + "/route", params=params, timeout=5).json() for r in routers]
            assert answers[0] == answers[1]

        # Steering manifests name the other router too, while it answers.
        def reload_hosts(router: str) -> set[str]:
            hosts = set()
            for lat, lon in PLAYERS * 2:
                params = {"geo": f"{lat + 0.001},{lon}", "path": PATH}
                manifest = httpx.get(router + "/steering", params=params, timeout=5).json()
                uri = manifest.get("RELOAD-URI")
                if uri:
                    hosts.add(f"http://{urlsplit(uri).netloc}")
                    assert parse_qs(urlsplit(uri).query)["path"] == [PATH]
            return hosts

        wait_until(lambda: reload_hosts(routers[1]) == set(routers), 10, "peers named")

        with ThreadPoolExecutor(len(PLAYERS)) as pool:
            playing: list[Future[RoutedSession]] = [
                pool.submit(play, routers, geo) for geo in PLAYERS
            ]
            time.sleep(1.0)
            os.killpg(procs[0].pid, signal.SIGKILL)  # router 0 dies mid-play
            procs[0].wait(timeout=10)
            sessions = [f.result(timeout=120) for f in playing]
            started_after = [pool.submit(play, routers, geo) for geo in PLAYERS[:2]]
            later = [f.result(timeout=120) for f in started_after]
        for session in sessions + later:
            assert session.report.playback.chunks == SEGMENTS, session
            assert session.report.failed_fetches == 0
        assert {s.pop for s in sessions} == set(POPS)
        wait_until(lambda: reload_hosts(routers[1]) <= {routers[1]}, 10, "dead peer dropped")
        assert json.loads(httpx.get(routers[1] + "/healthz", timeout=5).text)["status"] == "ok"
