"""Live through a real origin: the API makes a stream; ffmpeg pushes a test pattern by SRT to
the ingest URL it gave; the LL-HLS playlists, blocking reloads, preload-hinted parts and the
spec's 400s answer as RFC 8216bis says; a wrong key is refused; DELETE ends the broadcast and
its recording plays as a video; a broadcast cut short by a crash of its origin is recorded
too."""

from __future__ import annotations

import concurrent.futures
import os
import signal
import statistics
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import m3u8
import pytest

from edge.player.live_edge import made_at, next_position
from manifests.parse import parse_media_playlist
from tests.support.asgi_server import serve_in_thread
from tests.support.counting_proxy import CountingProxy
from tests.support.edges import edge_process
from tests.support.live import media_duration, push, stop_encoder
from tests.support.playback import wait_for_video
from tests.support.servers import OriginServer, free_port, origin_server, wait_until
from transcoder.tools import tool_env

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def live_origin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OriginServer]:
    port = free_port()
    env = {
        "MEDIACDN_WORKERS": "0",
        "MEDIACDN_LIVE_PORTS": str(port),
        "MEDIACDN_LIVE_LADDER": "360:800,180:250",
        "MEDIACDN_X264_PRESET": "ultrafast",
    }
    with origin_server(tmp_path_factory.mktemp("live") / "origin", env) as origin:
        yield origin


def at_once(url: str, params: dict[str, str] | None = None, n: int = 100) -> list[httpx.Response]:
    """`n` viewers asking for `url` at the same moment."""
    with concurrent.futures.ThreadPoolExecutor(n) as pool:
        return list(pool.map(lambda _: httpx.get(url, params=params, timeout=30), range(n)))


def newest(playlist: m3u8.M3U8) -> tuple[int, int]:
    """(msn, part) of the newest part a playlist lists."""
    last = playlist.segments[-1]
    msn = playlist.media_sequence + len(playlist.segments) - 1
    return msn, len(last.parts) - 1


@pytest.fixture
def http(live_origin: OriginServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_origin.url, timeout=30) as client:
        yield client


def test_a_live_stream_plays_with_ll_hls_and_is_recorded(
    live_origin: OriginServer, http: httpx.Client, ffmpeg: str, ffprobe: str
) -> None:
    probe_args = [ffprobe, "-v", "error", "-show_entries"]
    refused = http.post("/api/live", json={"title": "x"})
    assert refused.status_code == 401
    created = http.post("/api/live", json={"title": "Test pattern"}, headers=live_origin.headers())
    assert created.status_code == 201, created.text
    stream = created.json()
    assert stream["status"] == "idle"
    assert stream["ingest_url"].startswith("srt://127.0.0.1:")
    assert stream["stream_key"] in stream["ingest_url"]
    port = stream["ingest_url"].split(":")[2].split("?")[0]
    assert stream["ingest"]["rtmp"] == f"rtmp://127.0.0.1:{port}/live/{stream['stream_key']}"
    assert stream["ingest"]["rtmp_server"] == f"rtmp://127.0.0.1:{port}/live"
    public = http.get(f"/api/live/{stream['id']}").json()
    assert "stream_key" not in public
    assert "ingest_url" not in public
    assert "ingest" not in public
    hls = stream["playback"]["hls"]
    early = http.get(hls)
    assert early.status_code == 404
    assert early.json()["error"]["code"] == "not_live"

    wrong = push(ffmpeg, stream["ingest_url"].replace(stream["stream_key"], "0" * 32), 2)
    assert wrong.wait(30) != 0
    encoder = push(ffmpeg, stream["ingest_url"], 40)
    try:
        wait_until(lambda: http.get(hls).status_code == 200, 30, "the stream on air")
        assert http.get(f"/api/live/{stream['id']}").json()["status"] == "live"
        master = m3u8.loads(http.get(hls).text)
        assert len(master.playlists) == 2
        assert master.playlists[0].stream_info.resolution == (640, 360)
        assert "avc1." in master.playlists[0].stream_info.codecs
        base = hls.rsplit("/", 1)[0]
        media_url = f"{base}/360p/index.m3u8"
        wait_until(lambda: len(m3u8.loads(http.get(media_url).text).segments) >= 3, 30, "segments")
        response = http.get(media_url)
        assert response.headers["content-type"] == "application/vnd.apple.mpegurl"
        assert response.headers["cache-control"] == "public, max-age=1"
        playlist = m3u8.loads(response.text)
        assert playlist.server_control.can_block_reload == "YES"
        assert playlist.preload_hint is not None
        assert len(playlist.rendition_reports) == 2

        # A blocking reload for the next part returns once it exists: within a part or two.
        msn, part = newest(playlist)
        started = time.monotonic()
        blocked = http.get(media_url, params={"_HLS_msn": msn, "_HLS_part": part + 1})
        waited = time.monotonic() - started
        assert blocked.status_code == 200
        assert waited < 2.0, waited
        assert blocked.headers["cache-control"] == "public, max-age=12"
        after = m3u8.loads(blocked.text)
        assert newest(after) >= (msn, part + 1) or after.segments[-1].uri is not None

        # The program dates say when the media was made, at the latest: not after its parts
        # arrive. Anchored on the first part alone (made late, out of what the receiver read
        # to probe the encoder) they ran 0.6 s ahead of every part's arrival.
        ahead = []
        current = parse_media_playlist(blocked.text)
        for _ in range(6):
            msn_, part_ = next_position(current)
            text = http.get(media_url, params={"_HLS_msn": msn_, "_HLS_part": part_}).text
            arrived = time.time()
            current = parse_media_playlist(text)
            made = made_at(current, msn_, part_)
            assert made is not None
            ahead.append(round(made - arrived, 3))
        assert statistics.median(ahead) < 0.15, ahead

        # The preload-hinted part is answered as soon as it is made.
        hint = m3u8.loads(http.get(media_url).text).preload_hint.uri
        started = time.monotonic()
        hinted = http.get(f"{base}/360p/{hint}")
        assert hinted.status_code == 200
        assert hinted.headers["content-type"] == "video/iso.segment"
        assert "immutable" in hinted.headers["cache-control"]
        assert hinted.content[4:8] == b"moof"
        assert time.monotonic() - started < 2.0

        # The spec's refusals.
        for params in (
            {"_HLS_part": "1"},
            {"_HLS_msn": "x"},
            {"_HLS_msn": str(msn + 30)},
            {"_HLS_msn": str(msn), "_HLS_part": "99"},
            {"_HLS_skip": "maybe"},
        ):
            bad = http.get(media_url, params=params)
            assert bad.status_code == 400, params
            assert bad.json()["error"]["code"] == "bad_request"

        # A hundred viewers blocking on the same part all get it.
        msn, part = newest(m3u8.loads(http.get(media_url).text))
        params = {"_HLS_msn": str(msn), "_HLS_part": str(part + 1)}
        answers = [a.status_code for a in at_once(f"{live_origin.url}{media_url}", params)]
        assert answers == [200] * 100

        # players without LL-HLS get whole segments only, from the same stream
        classic_master = stream["playback"]["classic"]
        assert classic_master == f"{base}/classic.m3u8"
        variants = m3u8.loads(http.get(classic_master).text).playlists
        assert [v.uri for v in variants] == ["360p/classic.m3u8", "180p/classic.m3u8"]
        classic = http.get(f"{base}/360p/classic.m3u8", params={"_HLS_msn": "1"})
        assert classic.status_code == 200
        assert "#EXT-X-PART" not in classic.text
        assert "#EXT-X-PRELOAD-HINT" not in classic.text
        assert "#EXT-X-SERVER-CONTROL" not in classic.text
        assert len(m3u8.loads(classic.text).segments) >= 3
        # ffmpeg, a classic player, reads it (video and audio)
        probe = subprocess.run(
            [
                *probe_args,
                "stream=codec_type",
                "-of",
                "csv=p=0",
                f"{live_origin.url}{classic_master}",
            ],
            capture_output=True,
            text=True,
            env=tool_env(),
            timeout=60,
        )
        assert set(probe.stdout.split()) == {"video", "audio"}, probe.stderr
    finally:
        ended = httpx.delete(
            f"{live_origin.url}/api/live/{stream['id']}", headers=live_origin.headers(), timeout=90
        )
        stop_encoder(encoder)
    assert ended.status_code == 200
    assert ended.json()["status"] == "ended"
    with httpx.Client(base_url=live_origin.url, timeout=30) as after:
        assert m3u8.loads(after.get(media_url).text).is_endlist
        recording = wait_for_video(after, stream["id"])
        assert recording["status"] == "ready"
        assert after.get(f"/api/live/{stream['id']}").json()["video_id"] == stream["id"]
    recording_url = f"{live_origin.url}/vod/{stream['id']}/360p/index.m3u8"
    assert media_duration(ffprobe, recording_url) > 5
    # the key no longer works: nothing listens for it
    late = push(ffmpeg, stream["ingest_url"], 2)
    assert late.wait(30) != 0


def test_the_api_says_why_a_contribution_was_not_broadcast(
    live_origin: OriginServer, http: httpx.Client, ffmpeg: str
) -> None:
    """To the key's holder: a wrong passphrase, then what the receiver cannot read; cleared
    once a contribution goes on air. No log line holds the key."""
    created = http.post("/api/live", json={"title": "errors"}, headers=live_origin.headers())
    stream = created.json()
    shown = f"/api/live/{stream['id']}"
    try:
        told_why(live_origin, http, ffmpeg, stream)
    finally:
        http.delete(shown, headers=live_origin.headers())
    assert stream["stream_key"] not in (live_origin.data_dir / "serve.log").read_text()


def told_why(
    live_origin: OriginServer, http: httpx.Client, ffmpeg: str, stream: dict[str, str]
) -> None:
    shown = f"/api/live/{stream['id']}"

    def ingest_error() -> dict[str, str] | None:
        error: dict[str, str] | None = http.get(shown, headers=live_origin.headers()).json()[
            "ingest_error"
        ]
        return error

    def says(words: str) -> bool:
        error = ingest_error()
        return error is not None and words in error["message"]

    assert ingest_error() is None
    wrong = push(ffmpeg, stream["ingest_url"].replace(stream["stream_key"], "0" * 32), 2)
    assert wrong.wait(30) != 0
    wait_until(lambda: says("passphrase is not the stream key"), 30, "the wrong key's error")
    # raw audio, not MPEG-TS (more than the receiver probes), until the listener is back
    noise = ["-re", "-f", "lavfi", "-i", "anoisesrc=d=8", "-f", "s16le", stream["ingest_url"]]

    def noise_refused() -> bool:
        subprocess.run([ffmpeg, "-v", "quiet", *noise], env=tool_env(), timeout=30, check=False)
        return says("Invalid data")

    wait_until(noise_refused, 60, "the unreadable contribution's error")
    error = ingest_error()
    assert error is not None
    assert error["protocol"] == "srt"
    assert stream["stream_key"] not in error["message"]
    assert "ingest_error" not in http.get(shown).json()  # not without the key

    encoder: list[subprocess.Popen[bytes]] = []

    def on_air() -> bool:  # an encoder tries again until the listener is back, as OBS does
        if not encoder or encoder[-1].poll() is not None:
            encoder.append(push(ffmpeg, stream["ingest_url"], 30))
        return bool(http.get(shown).json()["status"] == "live")

    try:
        wait_until(on_air, 60, "the stream on air")
        assert ingest_error() is None
    finally:
        for each in encoder:
            stop_encoder(each)


def test_unknown_streams_and_paths_get_json_errors(live_origin: OriginServer) -> None:
    for path in ("/live/nope/master.m3u8", "/live/nope/360p/index.m3u8", "/live/x/../etc"):
        answer = httpx.get(live_origin.url + path)
        assert answer.status_code == 404
        assert answer.json()["error"]["code"] in ("not_live", "not_found")
    answer = httpx.post(live_origin.url + "/live/nope/master.m3u8")
    assert answer.status_code == 405
    gone = httpx.delete(f"{live_origin.url}/api/live/nope", headers=live_origin.headers())
    assert gone.status_code == 404


def test_a_pop_asks_its_upstream_once_for_a_hundred_viewers_waiting_on_a_part(
    live_origin: OriginServer, http: httpx.Client, ffmpeg: str, tmp_path: Path
) -> None:
    """Blocking reloads for the same part and requests for the hinted part, each collapsed
    into one upstream request by the POP; each viewer gets the same bytes."""
    created = http.post("/api/live", json={"title": "through a POP"}, headers=live_origin.headers())
    assert created.status_code == 201, created.text
    stream = created.json()
    encoder = push(ffmpeg, stream["ingest_url"], 40)
    proxy = CountingProxy(live_origin.url)
    try:
        with (
            serve_in_thread(proxy, lifespan="on") as upstream,
            edge_process(tmp_path, upstream, "--workers", "1") as pop,
            httpx.Client(base_url=pop, timeout=30) as viewer,
        ):
            base = f"/live/{stream['id']}/360p"
            wait_until(lambda: viewer.get(f"{base}/index.m3u8").status_code == 200, 30, "on air")
            for _ in range(2):  # twice: for a part of this segment and, later, of another
                msn, part = newest(m3u8.loads(viewer.get(f"{base}/index.m3u8").text))
                asked = proxy.counts[f"{base}/index.m3u8"]
                params = {"_HLS_msn": str(msn), "_HLS_part": str(part + 1)}
                answers = at_once(f"{pop}{base}/index.m3u8", params)
                assert [a.status_code for a in answers] == [200] * 100
                assert len({a.text for a in answers}) == 1
                assert proxy.counts[f"{base}/index.m3u8"] - asked == 1
                hint = m3u8.loads(answers[0].text).preload_hint.uri
                parts = at_once(f"{pop}{base}/{hint}")
                assert [p.status_code for p in parts] == [200] * 100
                assert len({p.content for p in parts}) == 1
                assert proxy.counts[f"{base}/{hint}"] == 1
                time.sleep(2.5)
    finally:
        httpx.delete(
            f"{live_origin.url}/api/live/{stream['id']}", headers=live_origin.headers(), timeout=90
        )
        stop_encoder(encoder)


def test_an_origin_that_does_not_ingest_serves_the_stream_from_the_catalog(
    live_origin: OriginServer, http: httpx.Client, ffmpeg: str
) -> None:
    """A second origin on the same catalog and storage, without ingest: its blocking reloads
    and hinted parts answer as the stream advances (it watches the catalog)."""
    shared = {
        "MEDIACDN_WORKERS": "0",
        "MEDIACDN_LIVE_INGEST": "0",
        "MEDIACDN_DATABASE_URL": f"sqlite:///{(live_origin.data_dir / 'catalog.db').resolve()}",
        "MEDIACDN_STORAGE_URL": (live_origin.data_dir / "objects").resolve().as_uri(),
    }
    created = http.post("/api/live", json={"title": "shared"}, headers=live_origin.headers())
    stream = created.json()
    encoder = push(ffmpeg, stream["ingest_url"], 30)
    try:
        with (
            origin_server(live_origin.data_dir.parent / "second", shared) as second,
            httpx.Client(base_url=second.url, timeout=30) as other,
        ):
            media_url = f"/live/{stream['id']}/360p/index.m3u8"
            wait_until(lambda: other.get(media_url).status_code == 200, 30, "on air")
            msn, part = newest(m3u8.loads(other.get(media_url).text))
            started = time.monotonic()
            blocked = other.get(media_url, params={"_HLS_msn": msn, "_HLS_part": part + 1})
            assert blocked.status_code == 200
            assert time.monotonic() - started < 2.0
            hint = m3u8.loads(blocked.text).preload_hint.uri
            assert other.get(f"/live/{stream['id']}/360p/{hint}").status_code == 200
    finally:
        http.delete(f"/api/live/{stream['id']}", headers=live_origin.headers(), timeout=90)
        stop_encoder(encoder)


def test_a_broadcast_cut_by_a_crash_of_its_origin_is_recorded_when_an_origin_starts(
    tmp_path: Path, ffmpeg: str, ffprobe: str
) -> None:
    env = {
        "MEDIACDN_WORKERS": "0",
        "MEDIACDN_LIVE_PORTS": str(free_port()),
        "MEDIACDN_LIVE_LADDER": "360:800",
        "MEDIACDN_X264_PRESET": "ultrafast",
    }
    data_dir = tmp_path / "origin"
    with (
        origin_server(data_dir, env) as origin,
        httpx.Client(base_url=origin.url, timeout=30) as http,
    ):
        stream = http.post("/api/live", json={"title": "cut"}, headers=origin.headers()).json()
        encoder = push(ffmpeg, stream["ingest_url"], 40)
        media_url = f"/live/{stream['id']}/360p/index.m3u8"

        def seen_s() -> float:
            answer = http.get(media_url)
            if answer.status_code != 200:
                return 0.0
            listed = m3u8.loads(answer.text)
            whole = sum(float(s.duration) for s in listed.segments if s.uri)
            last = listed.segments[-1]  # the segment being made: its parts so far
            return whole + (sum(float(p.duration) for p in last.parts) if last.uri is None else 0.0)

        wait_until(lambda: seen_s() >= 6.5, 40, "three segments and a part on air")
        seen = seen_s()
        os.kill(origin.proc.pid, signal.SIGKILL)  # the origin crashes mid-broadcast
        origin.proc.wait()
    stop_encoder(encoder)
    with (
        origin_server(data_dir, env) as again,
        httpx.Client(base_url=again.url, timeout=30) as http,
    ):
        wait_until(
            lambda: http.get(f"/api/live/{stream['id']}").json()["status"] == "ended", 30, "ended"
        )
        assert http.get(f"/api/live/{stream['id']}").json()["video_id"] == stream["id"]
        assert wait_for_video(http, stream["id"])["status"] == "ready"
        assert m3u8.loads(http.get(media_url).text).is_endlist
        recording = media_duration(ffprobe, f"{again.url}/vod/{stream['id']}/360p/index.m3u8")
        # everything viewers saw is in the recording (the segment being made too)
        assert recording >= seen - 0.1, (recording, seen)
