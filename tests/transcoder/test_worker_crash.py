"""A worker killed with SIGKILL mid-transcode: the job is reclaimed and finished by another
worker (PostgreSQL, SKIP LOCKED), and no partial manifest is ever visible."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import httpx
import m3u8
import pytest

from sample_media.generate import generate_sample
from tests.conftest import TEST_LADDER
from tests.support.playback import check_playback, wait_for_video
from tests.support.servers import origin_server, start_mediacdn, stop_process, wait_until

pytestmark = pytest.mark.slow


class ManifestWatcher:
    """Polls the master playlist during the whole run; every time it is visible, every
    playlist and segment it names must be there."""

    def __init__(self, base_url: str, video_id: str) -> None:
        self.base = f"{base_url}/vod/{video_id}"
        self.stop = threading.Event()
        self.statuses: list[int] = []
        self.problems: list[str] = []
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        with httpx.Client(timeout=10) as http:
            while not self.stop.is_set():
                master = http.get(f"{self.base}/master.m3u8")
                self.statuses.append(master.status_code)
                if master.status_code == 200:
                    self.check(http, master.text)
                elif master.status_code != 404:
                    self.problems.append(f"master answered {master.status_code}")
                time.sleep(0.05)

    def check(self, http: httpx.Client, text: str) -> None:
        parsed = m3u8.loads(text, uri=f"{self.base}/master.m3u8")
        uris = [p.absolute_uri for p in parsed.playlists] + [
            m.absolute_uri for m in parsed.media if m.uri
        ]
        for uri in uris:
            media = http.get(uri)
            if media.status_code != 200:
                self.problems.append(f"{uri}: {media.status_code}")
                continue
            for segment in m3u8.loads(media.text, uri=uri).segments:
                if http.head(segment.absolute_uri).status_code != 200:
                    self.problems.append(f"{segment.absolute_uri} missing")


def test_killed_worker_job_is_reclaimed_and_finished(
    tmp_path: Path, postgres_url: str, ffmpeg: str, ffprobe: str
) -> None:
    sample = generate_sample(
        tmp_path / "sample", ffmpeg=ffmpeg, duration_s=24, width=640, height=360
    )
    env = {
        "MEDIACDN_DATABASE_URL": postgres_url,
        "MEDIACDN_STORAGE_URL": (tmp_path / "objects").as_uri(),
        "MEDIACDN_LADDER": TEST_LADDER,
        "MEDIACDN_JOB_LEASE_S": "3",
        "MEDIACDN_X264_PRESET": "medium",
        "MEDIACDN_WORKERS": "0",
        "MEDIACDN_API_KEYS": "crash-key",
    }
    worker_env = {**env, "MEDIACDN_WORKERS": "1"}
    with (
        origin_server(tmp_path / "origin", env, api_key="crash-key") as origin,
        httpx.Client(base_url=origin.url, timeout=30) as http,
    ):
        response = http.post(
            "/api/videos",
            content=sample.video.read_bytes(),
            headers={**origin.headers(), "Content-Type": "video/mp4"},
        )
        assert response.status_code == 201
        video_id, job_id = response.json()["id"], response.json()["job_id"]
        watcher = ManifestWatcher(origin.url, video_id)
        watcher.thread.start()
        first = start_mediacdn("worker", tmp_path, worker_env, log_name="worker-1")
        second = None
        try:
            status = wait_for_video(
                http, video_id, timeout_s=120, until=("transcoding", "ready", "failed")
            )
            deadline = time.monotonic() + 60
            while status["status"] == "transcoding" and status["progress"] < 20:
                assert time.monotonic() < deadline, status
                time.sleep(0.1)
                status = http.get(f"/api/videos/{video_id}").json()
            assert status["status"] == "transcoding", status  # still mid-encode
            victim = http.get(f"/api/jobs/{job_id}").json()["lease_owner"]
            os.killpg(first.pid, signal.SIGKILL)
            first.wait(timeout=10)
            # the job again from the start, encoded fast: what is tested is who finishes it
            quick = {**worker_env, "MEDIACDN_X264_PRESET": "ultrafast"}
            second = start_mediacdn("worker", tmp_path, quick, log_name="worker-2")
            final = wait_for_video(http, video_id, timeout_s=180)
            # The origin remembers a miss for half a second; let the watcher see it published.
            wait_until(lambda: 200 in watcher.statuses, 10, "published playlist")
            time.sleep(0.5)
        finally:
            watcher.stop.set()
            watcher.thread.join(timeout=30)
            for proc in (first, second):
                if proc is not None:
                    stop_process(proc)
        assert final["status"] == "ready", final
        job = http.get(f"/api/jobs/{job_id}").json()
        assert job["attempts"] == 2
        assert job["status"] == "done"
        assert victim
        assert victim != job["lease_owner"]
        assert watcher.problems == []
        assert 404 in watcher.statuses  # it was watched before publishing ...
        assert watcher.statuses[-1] == 200  # ... and after
        first_200 = watcher.statuses.index(200)
        assert all(s == 200 for s in watcher.statuses[first_200:])
        check_playback(origin.url, video_id, ffmpeg=ffmpeg, ffprobe=ffprobe, source_duration_s=24.0)
