"""tus across origins, on PostgreSQL and a real S3 server (SeaweedFS): an upload started on
one origin is resumed and finished on another; parallel partial uploads are joined by a
final one (concatenation); an idle upload expires (410) and the janitor removes its pieces."""

from __future__ import annotations

import base64
import itertools
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from sample_media.generate import SampleMedia
from storage import open_storage
from tests.conftest import TEST_LADDER
from tests.support.playback import wait_for_video
from tests.support.servers import SeaweedS3, origin_server

pytestmark = pytest.mark.slow

TUS = {"Tus-Resumable": "1.0.0"}
OCTETS = {"Content-Type": "application/offset+octet-stream"}


def shared_env(postgres_url: str, seaweed: SeaweedS3, bucket: str) -> dict[str, str]:
    return {
        "MEDIACDN_DATABASE_URL": postgres_url,
        "MEDIACDN_STORAGE_URL": seaweed.storage_url(bucket),
        "MEDIACDN_S3_ACCESS_KEY": seaweed.access_key,
        "MEDIACDN_S3_SECRET_KEY": seaweed.secret_key,
        "MEDIACDN_LADDER": TEST_LADDER,
        "MEDIACDN_X264_PRESET": "ultrafast",
        "MEDIACDN_API_KEYS": "tus-key",
    }


def patch(http: httpx.Client, url: str, offset: int, body: bytes) -> httpx.Response:
    headers = {**TUS, **OCTETS, "Upload-Offset": str(offset), "Authorization": "Bearer tus-key"}
    return http.patch(url, content=body, headers=headers)


def test_an_upload_started_on_one_origin_is_finished_on_another(
    tmp_path: Path, postgres_url: str, seaweed: SeaweedS3, sample: SampleMedia
) -> None:
    env = shared_env(postgres_url, seaweed, "tus-many")
    data = sample.video.read_bytes()
    half = len(data) // 2
    key = {"Authorization": "Bearer tus-key"}
    with (
        origin_server(tmp_path / "a", {**env, "MEDIACDN_WORKERS": "0"}, "tus-key") as a,
        origin_server(tmp_path / "b", {**env, "MEDIACDN_WORKERS": "1"}, "tus-key") as b,
        httpx.Client(timeout=60) as http,
    ):
        created = http.post(
            f"{a.url}/api/uploads/", headers={**TUS, **key, "Upload-Length": str(len(data))}
        )
        assert created.status_code == 201
        assert "upload-expires" in created.headers
        path = created.headers["location"]
        assert patch(http, a.url + path, 0, data[:half]).status_code == 204

        offset = http.head(b.url + path, headers={**TUS, **key})  # the other origin knows it
        assert offset.headers["upload-offset"] == str(half)
        stale = patch(http, b.url + path, 0, data[:half])  # a retry of the first PATCH
        assert stale.status_code == 409
        done = patch(http, b.url + path, half, data[half:])
        assert done.status_code == 204, done.text
        video_id = done.headers["x-video-id"]
        assert http.head(a.url + path, headers={**TUS, **key}).headers["x-video-id"] == video_id
        with httpx.Client(base_url=a.url, timeout=60) as api:
            video = wait_for_video(api, video_id, timeout_s=180)
        assert video["status"] == "ready", video
        assert video["size_bytes"] == len(data)
        assert not (a.data_dir / "tus").exists()  # nothing of it on either origin's disk
        assert not (b.data_dir / "tus").exists()
    storage = open_storage(
        seaweed.storage_url("tus-many"),
        access_key=seaweed.access_key,
        secret_key=seaweed.secret_key,
    )
    assert storage.list_keys("tus/") == []  # the pieces went when they were joined


def test_partial_uploads_in_parallel_are_joined_by_a_final_one(
    tmp_path: Path, postgres_url: str, seaweed: SeaweedS3, sample: SampleMedia
) -> None:
    env = {**shared_env(postgres_url, seaweed, "tus-concat"), "MEDIACDN_WORKERS": "1"}
    data = sample.video.read_bytes()
    cuts = [0, len(data) // 3, 2 * len(data) // 3, len(data)]
    key = {"Authorization": "Bearer tus-key"}
    with (
        origin_server(tmp_path / "o", env, "tus-key") as origin,
        httpx.Client(base_url=origin.url, timeout=60) as http,
    ):
        options = http.options("/api/uploads/")
        assert "concatenation" in options.headers["tus-extension"].split(",")
        partials = []
        for start, end in itertools.pairwise(cuts):
            made = http.post(
                "/api/uploads/",
                headers={
                    **TUS,
                    **key,
                    "Upload-Length": str(end - start),
                    "Upload-Concat": "partial",
                },
            )
            assert made.status_code == 201
            partials.append((made.headers["location"], start, end))
        for path, start, end in reversed(partials):  # in any order, as parallel ones finish
            sent = patch(http, path, 0, data[start:end])
            assert sent.status_code == 204
            assert "x-video-id" not in sent.headers  # a partial is no video
        urls = " ".join(origin.url + p for p, _, _ in partials)
        title = base64.b64encode(b"joined").decode()
        final = http.post(
            "/api/uploads/",
            headers={
                **TUS,
                **key,
                "Upload-Concat": f"final;{urls}",
                "Upload-Metadata": f"title {title}",
            },
        )
        assert final.status_code == 201, final.text
        video = wait_for_video(http, final.headers["x-video-id"], timeout_s=180)
        assert video["status"] == "ready", video
        assert video["title"] == "joined"
        assert video["size_bytes"] == len(data)
        refused = patch(http, final.headers["location"], len(data), b"x")
        assert refused.status_code in (403, 409)
        again = http.post("/api/uploads/", headers={**TUS, **key, "Upload-Concat": f"final;{urls}"})
        assert again.status_code == 422  # the partials were used up


def test_an_idle_upload_expires_and_the_janitor_removes_its_pieces(
    tmp_path: Path, postgres_url: str, seaweed: SeaweedS3
) -> None:
    env = {
        **shared_env(postgres_url, seaweed, "tus-expiry"),
        "MEDIACDN_WORKERS": "0",
        "MEDIACDN_TUS_EXPIRY_S": "2",
    }
    key = {"Authorization": "Bearer tus-key"}
    with (
        origin_server(tmp_path / "o", env, "tus-key") as origin,
        httpx.Client(base_url=origin.url, timeout=60) as http,
    ):
        made = http.post("/api/uploads/", headers={**TUS, **key, "Upload-Length": "1000"})
        path = made.headers["location"]
        assert patch(http, path, 0, b"x" * 400).status_code == 204
        time.sleep(2.5)
        gone = http.head(path, headers={**TUS, **key})
        assert gone.status_code == 410
        late = patch(http, path, 400, b"x" * 600)
        assert late.status_code == 410
        assert late.json()["error"]["code"] == "upload_expired"
        cleaned = subprocess.run(
            [sys.executable, "-m", "mediacdn", "janitor", "--data-dir", str(origin.data_dir)],
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert cleaned.returncode == 0, cleaned.stderr
        assert "removed upload" in cleaned.stdout
        assert http.head(path, headers={**TUS, **key}).status_code == 404
    storage = open_storage(
        seaweed.storage_url("tus-expiry"),
        access_key=seaweed.access_key,
        secret_key=seaweed.secret_key,
    )
    assert storage.list_keys("tus/") == []
