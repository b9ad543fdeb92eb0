"""The whole CDN on 127.0.0.1: router, a shield and four edges as `mediacdn` processes in
front of the real origin, with headless players routed by location.

- Tiered fill: players in three regions watch one video; each object reaches the origin once.
- An edge killed with SIGKILL under load leaves rotation within 3 s, its players finish the
  video with at most one failed fetch each (retried on another POP), and the restarted edge
  comes back into rotation."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import m3u8
import pytest

from edge.player.player import HeadlessPlayer
from edge.player.routed import RoutedSession, play_via_router
from mediacdn.cdn import LocalCdn
from sample_media.generate import SampleMedia
from tests.support.asgi_server import serve_in_thread
from tests.support.counting_proxy import CountingProxy
from tests.support.playback import upload_raw, wait_for_video
from tests.support.servers import OriginServer
from tests.support.topologies import start_test_cdn

pytestmark = pytest.mark.slow

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
    cdn = start_test_cdn(tmp, counted_origin[0])
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
        assert session.report.playback.chunks == 3
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


def test_the_headless_player_plays_the_routers_absolute_cdn_playlists(
    cdn: LocalCdn, origin: OriginServer, sample: SampleMedia
) -> None:
    """`/cdn/` playlists name the POP in absolute URLs; the player fetches them there."""
    path = upload(origin, sample)
    with httpx.Client(timeout=30) as client:
        player = HeadlessPlayer(client, speed=20.0)
        report = player.play(f"{cdn.router_url}/cdn{path}?geo=48.85,2.30")
    assert report.playback.chunks == 3
    assert report.failed_fetches == 0
    assert set(report.served_by) == {"paris"}


def test_cdn_playlists_and_content_steering(
    cdn: LocalCdn, origin: OriginServer, sample: SampleMedia, ffprobe: str
) -> None:
    path = upload(origin, sample)
    paris, london = cdn.pops["paris"].url, cdn.pops["london"].url
    with httpx.Client(timeout=10, headers={"x-client-geo": "48.85,2.30"}) as client:
        # absolute CDN URLs: every URI of the master and of a media playlist names paris
        master = m3u8.loads(client.get(cdn.router_url + "/cdn" + path).text)
        uris = [p.uri for p in master.playlists] + [m.uri for m in master.media if m.uri]
        assert uris
        assert all(u.startswith(paris + "/vod/") for u in uris)
        media_path = master.playlists[0].uri.removeprefix(paris)
        media = m3u8.loads(client.get(cdn.router_url + "/cdn" + media_path).text)
        assert media.segments
        assert all(seg.uri.startswith(paris) for seg in media.segments)
        assert media.segment_map[0].uri.startswith(paris)
        # a segment through /cdn/ is a redirect to the POP
        segment = client.get(cdn.router_url + "/cdn" + media.segments[0].uri.removeprefix(paris))
        assert segment.status_code == 302
        assert segment.headers["location"].startswith(paris)
        # content steering: one pathway per POP (paris first), the steering server named
        steered = m3u8.loads(client.get(cdn.router_url + "/steered" + path).text)
        assert steered.content_steering.pathway_id == "paris"
        pathways = [p.stream_info.pathway_id for p in steered.playlists]
        assert pathways[0] == "paris"
        assert len(set(pathways)) == 3
        assert len(steered.playlists) == 3 * len(master.playlists)
        for variant in steered.playlists:
            base = cdn.pops[variant.stream_info.pathway_id].url
            assert variant.uri.startswith(base + "/vod/")
            group = variant.stream_info.audio
            assert group.endswith("@" + variant.stream_info.pathway_id)
            audio = [m for m in steered.media if m.group_id == group]
            assert audio
            assert all(m.uri.startswith(base) for m in audio)
        manifest = client.get(steered.content_steering.uri).json()
        assert manifest["VERSION"] == 1
        assert manifest["TTL"] > 0
        assert manifest["PATHWAY-PRIORITY"][:2] == ["paris", "london"]
    assert london in {cdn.pops[p].url for p in pathways}
    # a real player opens the CDN master and reads every stream from the POP
    probe = subprocess.run(
        [
            ffprobe,
            "-v",
            "error",
            "-show_entries",
            "stream=codec_type",
            "-of",
            "csv=p=0",
            f"{cdn.router_url}/cdn{path}?geo=48.85,2.30",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert probe.returncode == 0, probe.stderr
    assert "video" in probe.stdout
    assert "audio" in probe.stdout


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
        assert session.report.playback.chunks == 3
        assert session.report.failed_fetches <= 1
    assert any(s.report.failed_fetches == 1 for s in sessions), "no player was mid-video"
    assert out_after <= 3.0
    cdn.restart("paris")
    cdn.wait_in_rotation({"paris"}, timeout_s=5)
    with httpx.Client(timeout=5) as client:
        answer = client.get(cdn.router_url + "/route", params={"geo": "48.85,2.30", "path": path})
    assert answer.json()["pop"] == "paris"
