"""The whole CDN on 127.0.0.1: router, a shield and four edges as `mediacdn` processes in
front of the real origin, with headless players routed by location.

- Tiered fill: players in three regions watch one video; each object reaches the origin once.
- An edge killed with SIGKILL under load leaves rotation within 3 s, its players finish the
  video with at most one failed fetch each (retried on another POP), and the restarted edge
  comes back into rotation."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from edge.player import HeadlessPlayer, RoutedSession, play_via_router
from edge.topology import load_topology
from mediacdn.cdn import LocalCdn, start_cdn
from sample_media.generate import SampleMedia
from tests.support.asgi_server import serve_in_thread
from tests.support.counting_proxy import CountingProxy
from tests.support.playback import upload_raw, wait_for_video
from tests.support.servers import OriginServer

pytestmark = pytest.mark.slow

TOPOLOGY = """
origin = "http://127.0.0.1:1"

[[pop]]
name = "shield"
tier = "shield"
lat = 50.11
lon = 8.68

[[pop]]
name = "paris"
lat = 48.86
lon = 2.35
parent = "shield"

[[pop]]
name = "london"
lat = 51.51
lon = -0.13
parent = "shield"

[[pop]]
name = "new-york"
lat = 40.71
lon = -74.01
parent = "shield"

[[pop]]
name = "tokyo"
lat = 35.68
lon = 139.69
parent = "shield"
"""
PARIS, NEW_YORK, TOKYO = (48.85, 2.30), (40.7, -74.0), (35.7, 139.7)


@pytest.fixture(scope="module")
def counted_origin(origin: OriginServer) -> Iterator[tuple[str, CountingProxy]]:
    proxy = CountingProxy(origin.url)
    with serve_in_thread(proxy, lifespan="on") as url:
        yield url, proxy


@pytest.fixture(scope="module")
def cdn(
    tmp_path_factory: pytest.TempPathFactory, counted_origin: tuple[str, CountingProxy]
) -> Iterator[LocalCdn]:
    tmp = tmp_path_factory.mktemp("cdn")
    topology_file = tmp / "topology.toml"
    topology_file.write_text(TOPOLOGY)
    cdn = start_cdn(
        load_topology(topology_file),
        topology_file,
        counted_origin[0],
        admin_key="edge-admin",
        log_dir=tmp / "logs",
        capacity="64MiB",
    )
    try:
        yield cdn
    finally:
        cdn.stop()


def upload(origin: OriginServer, sample: SampleMedia) -> str:
    with httpx.Client(base_url=origin.url, timeout=30) as http:
        video_id = upload_raw(http, origin.headers(), sample.video.read_bytes())
        assert wait_for_video(http, video_id)["status"] == "ready"
    return f"/vod/{video_id}/master.m3u8"


def play(
    cdn: LocalCdn, geo: tuple[float, float], path: str, speed: float, max_buffer_s: float = 30.0
) -> RoutedSession:
    with httpx.Client(timeout=30) as client:
        player = HeadlessPlayer(client, speed=speed, max_buffer_s=max_buffer_s)
        return play_via_router(client, cdn.router_url, geo, path, player)


def test_tiered_fill_one_origin_request_per_object(
    cdn: LocalCdn,
    counted_origin: tuple[str, CountingProxy],
    origin: OriginServer,
    sample: SampleMedia,
) -> None:
    path = upload(origin, sample)
    video_dir = path.rsplit("/", 1)[0] + "/"
    with ThreadPoolExecutor(3) as pool:
        sessions = list(pool.map(lambda g: play(cdn, g, path, 20.0), (PARIS, NEW_YORK, TOKYO)))
    assert [s.pop for s in sessions] == ["paris", "new-york", "tokyo"]
    for session in sessions:
        assert len(session.report.chunks) == 3
        assert session.report.failed_fetches == 0
    reached = {p: n for p, n in counted_origin[1].counts.items() if p.startswith(video_dir)}
    assert reached, "nothing reached the origin"
    assert set(reached.values()) == {1}, reached
    # the three edges each filled the video through the shield, which alone met the origin
    stats = cdn.stats()
    from_edges = sum(
        int(str(stats[name]["upstream_requests"])) for name in ("paris", "new-york", "tokyo")
    )
    assert from_edges >= 3 * len(reached)
    assert stats["shield"]["requests"] == from_edges
    assert stats["shield"]["upstream_requests"] == len(reached)


def test_an_edge_killed_under_load_leaves_rotation_and_its_players_finish(
    cdn: LocalCdn, origin: OriginServer, sample: SampleMedia
) -> None:
    path = upload(origin, sample)
    with ThreadPoolExecutor(6) as pool:
        # real time with a 4 s buffer: each session takes about 8 s, so all are mid-video
        # when their POP dies
        futures = [pool.submit(play, cdn, PARIS, path, 1.0, 4.0) for _ in range(6)]
        time.sleep(1.5)
        cdn.kill("paris")
        killed_at = time.monotonic()
        while "paris" in cdn.routed_pops():
            assert time.monotonic() - killed_at <= 3.0, "still routed 3 s after the kill"
            time.sleep(0.05)
        out_after = time.monotonic() - killed_at
        with httpx.Client(timeout=5) as client:
            answer = client.get(
                cdn.router_url + "/route", params={"geo": "48.85,2.30", "path": path}
            ).json()
        assert answer["pop"] != "paris"
        sessions = [f.result(timeout=60) for f in futures]
    for session in sessions:
        assert session.pop == "paris"
        assert len(session.report.chunks) == 3
        assert session.report.failed_fetches <= 1
    assert any(s.report.failed_fetches == 1 for s in sessions), "no player was mid-video"
    assert out_after <= 3.0
    cdn.restart("paris")
    cdn.wait_in_rotation({"paris"}, timeout_s=5)
    with httpx.Client(timeout=5) as client:
        answer = client.get(cdn.router_url + "/route", params={"geo": "48.85,2.30", "path": path})
    assert answer.json()["pop"] == "paris"
