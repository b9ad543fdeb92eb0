"""`mediacdn edge` as a process in front of the real origin: a transcoded video plays
through it (ffmpeg, m3u8), the second viewing comes from the cache, and the admin listener is
separate from the public one."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import m3u8
import pytest

from sample_media.generate import SampleMedia
from tests.support import edges
from tests.support.asgi_server import serve_in_thread
from tests.support.playback import check_playback, upload_raw, wait_for_video
from tests.support.scripted_origin import Route, ScriptedOrigin
from tests.support.servers import (
    OriginServer,
    free_port,
    run_cli,
    start_mediacdn,
    stop_process,
    wait_until,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def edge_process(
    origin: OriginServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, str]]:
    port, admin_port = free_port(), free_port()
    proc = start_mediacdn(
        "edge",
        tmp_path_factory.mktemp("edge"),
        {"MEDIACDN_ADMIN_KEYS": "edge-admin"},
        "--name",
        "pop-test",
        "--upstream",
        origin.url,
        "--port",
        str(port),
        "--admin-port",
        str(admin_port),
        "--capacity",
        "64MiB",
        "--policy",
        "s3fifo",
    )
    url, admin = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{admin_port}"
    try:
        wait_until(lambda: httpx.get(url + "/healthz").status_code == 200, 30, "edge")
        yield url, admin
    finally:
        stop_process(proc)


def test_video_plays_through_the_edge(
    origin: OriginServer,
    http: httpx.Client,
    sample: SampleMedia,
    edge_process: tuple[str, str],
    ffmpeg: str,
    ffprobe: str,
) -> None:
    edge_url, admin_url = edge_process
    video_id = upload_raw(http, origin.headers(), sample.video.read_bytes())
    assert wait_for_video(http, video_id)["status"] == "ready"
    check_playback(edge_url, video_id, ffmpeg=ffmpeg, ffprobe=ffprobe, source_duration_s=9.0)
    with httpx.Client(base_url=edge_url, timeout=30) as edge:
        segment = f"/vod/{video_id}/360p/1.m4s"
        hit = edge.get(segment)
        assert hit.headers["x-cache"] == "HIT"
        assert hit.content == http.get(segment).content
        assert edge.get(segment, headers={"Range": "bytes=0-99"}).status_code == 206
        master = m3u8.loads(edge.get(f"/vod/{video_id}/master.m3u8").text)
        assert len(master.playlists) == 2
        stats = edge.get("/stats").json()
        assert stats["name"] == "pop-test"
        assert stats["results"]["HIT"] > 0
        # Admin lives on its own listener; on the public one /admin/ is just a proxied path.
        assert edge.post("/admin/purge", json={}).headers["x-cache"] == "BYPASS"
    with httpx.Client(base_url=admin_url, timeout=30) as admin:
        assert admin.post("/admin/purge", json={}).status_code == 401
        purge = admin.post(
            "/admin/purge",
            json={"prefixes": [f"/vod/{video_id}/"]},
            headers={"Authorization": "Bearer edge-admin"},
        )
        assert purge.json()["purged"] > 5
    with httpx.Client(base_url=edge_url, timeout=30) as edge:
        assert edge.get(f"/vod/{video_id}/360p/1.m4s").headers["x-cache"] == "MISS"


def test_edge_help_explains_itself(tmp_path: Path) -> None:
    done = run_cli("edge", "--help")
    assert done.returncode == 0
    for flag in ("--upstream", "--capacity", "--admin-port", "--policy", "--prefetch"):
        assert flag in done.stdout


def test_truncated_upstream_body_aborts_the_client_through_the_cli_edge(tmp_path: Path) -> None:
    origin = ScriptedOrigin(
        {"/t": Route(b"x" * 300_000, headers={"cache-control": "max-age=60"}, truncate_at=100_000)}
    )
    with serve_in_thread(origin) as origin_url, edges.edge_process(tmp_path, origin_url) as url:
        with pytest.raises(httpx.RemoteProtocolError):
            httpx.get(url + "/t")
        assert httpx.get(url + "/stats").json()["cache_objects"] == 0
