"""The headless player against the real origin: every segment played, QoE reported, and a dead
POP skipped by failing over to the next one."""

from __future__ import annotations

import json

import httpx
import pytest

from edge.player.player import HeadlessPlayer, PlaybackFailed
from sample_media.generate import SampleMedia
from tests.support.playback import upload_raw, wait_for_video
from tests.support.servers import OriginServer, free_port, run_cli

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def master_url(origin: OriginServer, http: httpx.Client, sample: SampleMedia) -> str:
    video_id = upload_raw(http, origin.headers(), sample.video.read_bytes())
    assert wait_for_video(http, video_id)["status"] == "ready"
    return f"{origin.url}/vod/{video_id}/master.m3u8"


@pytest.mark.parametrize("rule", ["mpc", "throughput", "bola"])
def test_plays_every_segment_and_reports_qoe(master_url: str, rule: str) -> None:
    with httpx.Client(timeout=30) as client:
        report = HeadlessPlayer(client, rule=rule, speed=50).play(master_url)
    assert report.playback.chunks == 3  # 9 s in 4 s segments
    assert report.playback.startup_s > 0
    assert report.failed_fetches == 0
    assert report.playback.bitrate_bps > 0
    assert sum(report.served_by.values()) == 3
    assert report.as_dict()["qoe_mean"] == pytest.approx(report.playback.qoe, abs=1e-4)


def test_fails_over_from_a_dead_pop(master_url: str, origin: OriginServer) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    path = master_url.removeprefix(origin.url)
    with httpx.Client(timeout=30) as client:
        report = HeadlessPlayer(client, speed=50).play(dead + path, [origin.url])
    assert report.failed_fetches == 1
    assert report.playback.chunks == 3


def test_a_failure_says_why() -> None:
    """What the last attempt got (a refused connection, a server error), and with POPs to
    fail over to that none could serve."""
    dead = f"http://127.0.0.1:{free_port()}"
    refused = r"^http://127\.0\.0\.1:\d+/a\.m3u8: .*refused"
    with httpx.Client(timeout=5) as client, pytest.raises(PlaybackFailed, match=refused):
        HeadlessPlayer(client).play(f"{dead}/a.m3u8")

    def timed_out(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("", request=request)  # an exception that says nothing

    quiet, said = httpx.MockTransport(timed_out), r"^http://a\.test/m\.m3u8: ReadTimeout$"
    with httpx.Client(transport=quiet) as client, pytest.raises(PlaybackFailed, match=said):
        HeadlessPlayer(client).play("http://a.test/m.m3u8")
    failing = httpx.MockTransport(lambda request: httpx.Response(503))
    with httpx.Client(transport=failing) as client:
        with pytest.raises(PlaybackFailed, match=r"^http://a\.test/m\.m3u8: 503$"):
            HeadlessPlayer(client).play("http://a.test/m.m3u8")
        none = r"^no POP could serve http://a\.test/m\.m3u8 \(the last: http://b\.test/m\.m3u8: 503"
        with pytest.raises(PlaybackFailed, match=none):
            HeadlessPlayer(client).play("http://a.test/m.m3u8", ["http://b.test"])


def test_cli_prints_the_report(master_url: str) -> None:
    done = run_cli("play", master_url, "--speed", "50")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["segments"] == 3
    assert report["rule"] == "mpc"
    assert report["live"] is False
    assert report["low_latency"] is False
    assert report["live_latency_s"] is None  # a VOD plays behind no wall clock
