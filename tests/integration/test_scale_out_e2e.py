"""The scale-out configuration end to end: origin + separate worker processes on PostgreSQL
and a real S3 server (SeaweedFS), the origin running no workers of its own."""

from __future__ import annotations

import hashlib
from pathlib import Path

import httpx
import pytest

from manifests.catalog import Catalog
from manifests.db import PostgresDatabase
from sample_media.generate import SampleMedia
from storage import open_storage
from tests.conftest import TEST_LADDER
from tests.support.playback import check_playback, wait_for_video
from tests.support.servers import SeaweedS3, origin_server, start_mediacdn, stop_process

pytestmark = pytest.mark.slow


def test_postgres_and_s3_with_separate_workers(
    tmp_path: Path,
    postgres_url: str,
    seaweed: SeaweedS3,
    sample: SampleMedia,
    french_audio: Path,
    ffmpeg: str,
    ffprobe: str,
) -> None:
    bucket = "scale-out-test"
    env = {
        "MEDIACDN_DATABASE_URL": postgres_url,
        "MEDIACDN_STORAGE_URL": seaweed.storage_url(bucket),
        "MEDIACDN_S3_ACCESS_KEY": seaweed.access_key,
        "MEDIACDN_S3_SECRET_KEY": seaweed.secret_key,
        "MEDIACDN_LADDER": TEST_LADDER,
        "MEDIACDN_X264_PRESET": "ultrafast",
        "MEDIACDN_WORKERS": "0",
        "MEDIACDN_API_KEYS": "scale-key",
    }
    workers = [
        start_mediacdn("worker", tmp_path, {**env, "MEDIACDN_WORKERS": "1"}, log_name=f"worker-{i}")
        for i in range(2)
    ]
    try:
        with (
            origin_server(tmp_path / "origin", env, api_key="scale-key") as origin,
            httpx.Client(base_url=origin.url, timeout=60) as http,
        ):
            ids = []
            for _ in range(2):
                response = http.post(
                    "/api/videos",
                    files=[
                        ("file", ("s.mp4", sample.video.read_bytes(), "video/mp4")),
                        ("audio:fra", ("f.wav", french_audio.read_bytes(), "audio/wav")),
                    ],
                    headers=origin.headers(),
                )
                assert response.status_code == 201, response.text
                ids.append(response.json()["id"])
            for video_id in ids:
                status = wait_for_video(http, video_id, timeout_s=180)
                assert status["status"] == "ready", status
                report = check_playback(
                    origin.url, video_id, ffmpeg=ffmpeg, ffprobe=ffprobe, source_duration_s=9.0
                )
                assert report.audio_languages == ["eng", "spa", "fra"]
            assert not (origin.data_dir / "objects").exists()  # nothing on local disk
    finally:
        for proc in workers:
            stop_process(proc)
    storage = open_storage(
        seaweed.storage_url(bucket), access_key=seaweed.access_key, secret_key=seaweed.secret_key
    )
    db = PostgresDatabase(postgres_url)
    try:
        catalog = Catalog(db)
        objects = catalog.objects(ids[0])
        assert len(objects) > 10
        for obj in objects[:6]:
            assert hashlib.sha256(storage.get_bytes(obj.key)).hexdigest() == obj.sha256
        assert set(storage.list_keys(f"videos/{ids[0]}/")) == {o.key for o in objects}
        owners = {catalog.get_job(v.job_id).lease_owner for v in catalog.list_videos()}  # type: ignore[union-attr]
        assert owners == {None}  # both jobs done, no lease left behind
    finally:
        db.close()
