"""`mediacdn play` on a live stream: the LL-HLS playlist part by part from PART-HOLD-BACK
behind its newest part, each asked for with a blocking reload; the classic one segment by
segment from three segments behind, with plain reloads; both in real time as the playlists
grow, until the broadcast ends, and each says how far behind the encoder it played."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import m3u8
import pytest

from edge.player.player import HeadlessPlayer, SessionReport
from tests.support.live import live_env, push, stop_encoder
from tests.support.playback import wait_for_video
from tests.support.servers import OriginServer, origin_server, wait_until

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def origin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OriginServer]:
    with origin_server(tmp_path_factory.mktemp("player") / "origin", live_env()) as origin:
        yield origin


def play(url: str) -> SessionReport:
    with httpx.Client(timeout=30) as client:
        return HeadlessPlayer(client, speed=8).play(url)  # a live stream plays in real time


@pytest.mark.alone  # how far behind it plays is timed
def test_a_live_stream_plays_as_it_grows_until_it_ends(origin: OriginServer, ffmpeg: str) -> None:
    with httpx.Client(base_url=origin.url, timeout=30) as http:
        created = http.post("/api/live", json={"title": "watched"}, headers=origin.headers())
        stream = created.json()
        encoder = push(ffmpeg, f"{stream['ingest']['http']}stream.mp4", 14)
        try:
            status = f"/api/live/{stream['id']}"
            wait_until(lambda: http.get(status).json()["status"] == "live", 30, "on air")
            live = f"{origin.url}/live/{stream['id']}"
            with ThreadPoolExecutor(2) as pool:
                ll, classic = pool.map(play, [f"{live}/master.m3u8", f"{live}/classic.m3u8"])
            assert http.get(status).json()["status"] == "ended"  # they played to its end
        finally:
            stop_encoder(encoder)
        recording = wait_for_video(http, str(stream["id"]))
        assert recording["status"] == "ready"
        recorded = m3u8.loads(http.get(f"/vod/{stream['id']}/360p/index.m3u8").text)
    # the LL-HLS playlist was loaded again with blocking reloads (the access log keeps no
    # query, only that there was one)
    reloads = (origin.data_dir / "serve.log").read_text()
    assert reloads.count(f"/live/{stream['id']}/360p/index.m3u8?<query>") >= 3
    print("LL-HLS:", ll.as_dict(), "classic:", classic.as_dict())
    recorded_s = sum(s.duration for s in recorded.segments)
    for report in (ll, classic):
        assert report.live
        assert report.failed_fetches == 0
    # the classic playlist is played segment by segment from three segments behind (2 s each)
    assert not classic.low_latency
    assert classic.playback.startup_s > 2
    # from the first segments (they joined as it went on air) to the last
    assert len(recorded.segments) - 1 <= classic.playback.chunks <= len(recorded.segments)
    # the LL-HLS playlist part by part (0.5 s each), from PART-HOLD-BACK (1.5 s) behind
    assert ll.low_latency
    assert ll.playback.chunks >= 3 * len(recorded.segments)
    assert recorded_s - 2.5 <= ll.playback.played_s <= recorded_s + 0.01
    # how far behind the encoder each played, by the playlists' program dates
    ll_behind, classic_behind = ll.as_dict()["live_latency_s"], classic.as_dict()["live_latency_s"]
    assert isinstance(ll_behind, float)
    assert isinstance(classic_behind, float)
    assert ll_behind <= 3.0  # LL-HLS's target on loopback
    assert classic_behind <= 10.0  # a classic player's
    assert ll_behind + 2 <= classic_behind
