"""Dependencies failing under a real origin: object storage stopped during a publish for
longer than several job leases and retry waits, a database that comes up after the origin,
pooled connections the database dropped, a disk too full for uploads, and a failed video
retried."""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path

import httpx
import psycopg
import pytest

from sample_media.generate import SampleMedia
from tests.conftest import POSTGRES_URL, TEST_LADDER
from tests.support.playback import upload_raw, wait_for_video
from tests.support.proxy import SwitchableProxy
from tests.support.servers import SeaweedS3, origin_server, wait_until

pytestmark = pytest.mark.slow

BASE = {
    "MEDIACDN_LADDER": TEST_LADDER,
    "MEDIACDN_X264_PRESET": "ultrafast",
    "MEDIACDN_WORKERS": "1",
}
# The outage outlasts three job leases and four of the longest retry waits: the job must keep
# its lease and wait out the storage without using up its attempts.
JOB_LEASE_S = 6
OUTAGE_S = 20


def _status(http: httpx.Client, video_id: str) -> str:
    return str(http.get(f"/api/videos/{video_id}").json()["status"])


def test_storage_stopped_during_publish_for_longer_than_a_lease_still_ends_ready(
    tmp_path: Path, seaweed: SeaweedS3, sample: SampleMedia
) -> None:
    proxy = SwitchableProxy(int(seaweed.endpoint.rsplit(":", 1)[1]))
    env = {
        **BASE,
        "MEDIACDN_STORAGE_URL": f"s3://outage-{uuid.uuid4().hex[:8]}?endpoint=127.0.0.1:{proxy.port}&secure=0",
        "MEDIACDN_S3_ACCESS_KEY": seaweed.access_key,
        "MEDIACDN_S3_SECRET_KEY": seaweed.secret_key,
        "MEDIACDN_JOB_RETRY_BASE_S": "1",
        "MEDIACDN_JOB_RETRY_MAX_S": "5",
        "MEDIACDN_JOB_LEASE_S": str(JOB_LEASE_S),
    }
    try:
        with (
            origin_server(tmp_path / "origin", env) as origin,
            httpx.Client(base_url=origin.url, timeout=30) as http,
        ):
            video_id = upload_raw(http, origin.headers(), sample.video.read_bytes())
            wait_until(lambda: _status(http, video_id) == "transcoding", 60, "transcoding")
            proxy.down()  # the encode runs on; its publish finds storage gone
            stopped = time.monotonic()
            health = http.get("/healthz")
            assert health.status_code == 503
            assert health.json()["storage"] == "unavailable"
            refused = http.post(
                "/api/videos",
                content=sample.video.read_bytes(),
                headers={**origin.headers(), "Content-Type": "application/octet-stream"},
            )
            assert refused.status_code == 503
            assert refused.json()["error"]["code"] == "storage_unavailable"
            assert "127.0.0.1" not in refused.text
            job_id = http.get(f"/api/videos/{video_id}").json()["job_id"]

            def waiting_for_storage() -> bool:
                job = http.get(f"/api/jobs/{job_id}").json()
                return "storage_unavailable" in str(job["last_error"])

            wait_until(waiting_for_storage, OUTAGE_S, "a publish refused by the storage")
            time.sleep(max(0.0, OUTAGE_S - (time.monotonic() - stopped)))
            assert _status(http, video_id) != "failed"
            proxy.up()
            assert wait_for_video(http, video_id, timeout_s=60)["status"] == "ready"
            assert http.get(f"/vod/{video_id}/master.m3u8").status_code == 200
            assert http.get("/healthz").status_code == 200
            job = http.get(f"/api/jobs/{job_id}").json()
            assert job["attempts"] == 1  # the outage used up no attempt
            # storage away while a segment is asked for: a quick JSON 503, then served again
            proxy.down()
            started = time.monotonic()
            refused = http.get(f"/vod/{video_id}/360p/0.m4s")
            assert refused.status_code == 503
            assert refused.json()["error"]["code"] == "storage_unavailable"
            assert time.monotonic() - started < 5
            proxy.up()
            assert http.get(f"/vod/{video_id}/360p/0.m4s").status_code == 200
    finally:
        proxy.down()


def test_an_origin_started_before_its_database_comes_up(tmp_path: Path) -> None:
    database = psycopg.conninfo.conninfo_to_dict(POSTGRES_URL)
    proxy = SwitchableProxy(int(database.get("port") or 5432), up=False)
    schema = f"t_{uuid.uuid4().hex[:12]}"
    url = f"postgresql://{database['user']}@127.0.0.1:{proxy.port}/{database['dbname']}?schema={schema}"
    env = {**BASE, "MEDIACDN_WORKERS": "0", "MEDIACDN_DATABASE_URL": url}
    try:
        started = time.monotonic()
        proxy_timer = threading.Timer(8.0, proxy.up)  # the database comes up 8 s later
        proxy_timer.start()
        with origin_server(tmp_path / "origin", env) as origin:
            assert time.monotonic() - started >= 8.0
            assert httpx.get(origin.url + "/api/videos").status_code == 200
            # the database drops every connection (a restart): the pool replaces them
            with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
                admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE pid <> pg_backend_pid() AND application_name = '' "
                    "AND client_port IS NOT NULL AND state = 'idle' AND datname = %s",
                    (database["dbname"],),
                )
            for _ in range(5):
                assert httpx.get(origin.url + "/api/videos").status_code == 200
        proxy_timer.join()
    finally:
        proxy.down()
        with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
            admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def test_a_full_disk_refuses_uploads_with_507_and_delete_still_works(
    tmp_path: Path, sample: SampleMedia
) -> None:
    data = sample.video.read_bytes()
    with (
        origin_server(tmp_path / "origin", BASE) as origin,
        httpx.Client(base_url=origin.url, timeout=30) as http,
    ):
        video_id = upload_raw(http, origin.headers(), data)
        assert wait_for_video(http, video_id)["status"] == "ready"
    # the same data directory, now with less free space than the origin keeps for uploads
    full = {**BASE, "MEDIACDN_MIN_FREE_MB": str(10**9)}
    with (
        origin_server(tmp_path / "origin", full) as origin,
        httpx.Client(base_url=origin.url, timeout=30) as http,
    ):
        refused = http.post(
            "/api/videos",
            content=data,
            headers={**origin.headers(), "Content-Type": "application/octet-stream"},
        )
        assert refused.status_code == 507
        assert refused.json()["error"]["code"] == "insufficient_storage"
        tus = http.post(
            "/api/uploads/",
            headers={**origin.headers(), "Tus-Resumable": "1.0.0", "Upload-Length": "100"},
        )
        assert tus.status_code == 507
        health = http.get("/healthz")
        assert health.status_code == 503
        assert health.json()["disk"] == "full"
        assert http.delete(f"/api/videos/{video_id}", headers=origin.headers()).status_code == 204
        assert not any((origin.data_dir / "objects" / "videos" / video_id).rglob("*.m4s"))
        listed = http.get("/api/videos", headers=origin.headers()).json()["videos"]
        assert len(listed) == 0


def test_a_failed_video_can_be_retried(tmp_path: Path, sample: SampleMedia) -> None:
    with (
        origin_server(tmp_path / "origin", BASE) as origin,
        httpx.Client(base_url=origin.url, timeout=30) as http,
    ):
        video_id = upload_raw(http, origin.headers(), b"not a video at all" * 100)
        assert wait_for_video(http, video_id)["status"] == "failed"
        url = f"/api/videos/{video_id}/retry"
        assert http.post(url).status_code == 401
        retried = http.post(url, headers=origin.headers())
        assert retried.status_code == 202
        assert retried.json()["status"] == "queued"
        assert retried.json()["error"] is None
        again = wait_for_video(http, video_id)
        assert again["status"] == "failed"
        assert again["error"]["code"] == "invalid_media"
        assert http.post("/api/videos/nosuch/retry", headers=origin.headers()).status_code == 404
        good = upload_raw(http, origin.headers(), sample.video.read_bytes())
        assert wait_for_video(http, good)["status"] == "ready"
        not_failed = http.post(f"/api/videos/{good}/retry", headers=origin.headers())
        assert not_failed.status_code == 409
        assert not_failed.json()["error"]["code"] == "not_failed"
