"""The origin keeps its edges current: a published video is pushed to push targets (its
playlists and first segments are hits before any player asks), a deleted one is purged."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from edge.pop.app import Edge, EdgeConfig
from sample_media.generate import SampleMedia
from tests.conftest import TEST_LADDER
from tests.support.asgi_server import serve_in_thread
from tests.support.playback import upload_raw, wait_for_video
from tests.support.servers import free_port, origin_server, wait_until

pytestmark = pytest.mark.slow


def test_publish_pushes_and_delete_purges(tmp_path: Path, sample: SampleMedia) -> None:
    origin_port = free_port()
    edge = Edge(
        EdgeConfig(
            name="pushed-pop", upstream=f"http://127.0.0.1:{origin_port}", admin_keys=("edge-key",)
        )
    )
    with serve_in_thread(edge, lifespan="on") as edge_url:
        env = {
            "MEDIACDN_LADDER": TEST_LADDER,
            "MEDIACDN_X264_PRESET": "ultrafast",
            "MEDIACDN_PUSH_EDGES": edge_url,
            "MEDIACDN_EDGE_ADMIN_KEY": "edge-key",
            "MEDIACDN_PUSH_SEGMENTS": "2",
        }
        with (
            origin_server(tmp_path / "origin", env, port=origin_port) as origin,
            httpx.Client(base_url=origin.url, timeout=30) as http,
            httpx.Client(base_url=edge_url, timeout=30) as cdn,
        ):
            video_id = upload_raw(http, origin.headers(), sample.video.read_bytes())
            assert wait_for_video(http, video_id)["status"] == "ready"
            wait_until(lambda: len(edge.cache.store) >= 12, 30, "pushed objects")
            for path in (
                "master.m3u8",
                "360p/index.m3u8",
                "360p/init.mp4",
                "360p/0.m4s",
                "360p/1.m4s",
                "audio-eng/0.m4s",
            ):
                pushed = cdn.get(f"/vod/{video_id}/{path}")
                assert pushed.headers["x-cache"] == "HIT", path
                direct = http.get(f"/vod/{video_id}/{path}")
                assert pushed.content == direct.content
                assert pushed.headers["etag"] == direct.headers["etag"]
                assert pushed.headers["cache-control"] == direct.headers["cache-control"]
            assert cdn.get(f"/vod/{video_id}/360p/2.m4s").headers["x-cache"] == "MISS"
            assert edge.metrics.upstream_requests == 1
            assert (
                http.delete(f"/api/videos/{video_id}", headers=origin.headers()).status_code == 204
            )
            gone = cdn.get(f"/vod/{video_id}/master.m3u8")
            assert gone.status_code == 404
            assert gone.headers["x-cache"] == "MISS"
