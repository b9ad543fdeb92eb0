"""The janitor removes what crashes and abandoned uploads left, and nothing else: an origin
killed mid-upload, a tus upload never finished, a dead transcode's work directory, objects
stored for a video the catalog never got, a live broadcast's that ended without a recording;
never an upload being received, whatever the cutoff."""

from __future__ import annotations

import json
import os
import signal
import socket
import time
from pathlib import Path

import httpx
import pytest

from manifests.catalog import Catalog
from manifests.db import SqliteDatabase
from manifests.records import NewVideo
from origin.janitor import DELIVERIES_KEPT_S, Janitor
from sample_media.generate import SampleMedia
from storage import open_storage
from tests.conftest import TEST_LADDER
from tests.support.clock import FakeClock
from tests.support.playback import upload_raw, wait_for_video
from tests.support.servers import origin_server, run_cli, wait_until

pytestmark = pytest.mark.slow

ENV = {"MEDIACDN_LADDER": TEST_LADDER, "MEDIACDN_X264_PRESET": "ultrafast"}


def _start_plain_upload(url: str, api_key: str, size: int) -> socket.socket:
    """A raw upload that sends its headers and a first part of its body, then stalls."""
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)))
    head = (
        f"POST /api/videos HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {api_key}\r\n"
        f"Content-Type: application/octet-stream\r\nContent-Length: {size}\r\n\r\n"
    )
    sock.sendall(head.encode() + b"\0" * (size // 2))
    return sock


def _janitor(data_dir: Path, *args: str) -> list[str]:
    done = run_cli("janitor", "--data-dir", str(data_dir), "--older-than", "0s", *args)
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def test_the_janitor_removes_what_crashes_left(tmp_path: Path, sample: SampleMedia) -> None:
    data_dir = tmp_path / "origin"
    with origin_server(data_dir, ENV) as origin:
        # an origin killed while a plain upload was arriving leaves its spool file
        stalled = _start_plain_upload(origin.url, origin.api_key, 4 << 20)
        spool = data_dir / "spool"
        wait_until(lambda: any(spool.iterdir()), 10, "the upload to be spooled")
        os.kill(origin.proc.pid, signal.SIGKILL)
        origin.proc.wait()
        stalled.close()
    with (
        origin_server(data_dir, ENV) as origin,
        httpx.Client(base_url=origin.url, timeout=30) as http,
    ):
        kept = upload_raw(http, origin.headers(), sample.video.read_bytes())
        assert wait_for_video(http, kept)["status"] == "ready"
        # a tus upload started and abandoned
        tus = {**origin.headers(), "Tus-Resumable": "1.0.0"}
        created = http.post("/api/uploads/", headers={**tus, "Upload-Length": "1000"})
        location = created.headers["location"]
        http.patch(
            location,
            content=b"x" * 100,
            headers={
                **tus,
                "Upload-Offset": "0",
                "Content-Type": "application/offset+octet-stream",
            },
        )
        upload_id = location.rsplit("/", 1)[-1]
        # a source stored for a video the catalog never got, a dead transcode's work files
        orphan = data_dir / "objects" / "uploads" / "0123456789abcdef" / "source"
        orphan.parent.mkdir(parents=True)
        orphan.write_bytes(b"v" * 1000)
        # a live broadcast that ended without a recording (its origin crashed); a stream
        # waiting for its encoder keeps what an earlier attempt stored
        cut_short = data_dir / "objects" / "live" / "fedcba9876543210" / "360p" / "0.m4s"
        cut_short.parent.mkdir(parents=True)
        cut_short.write_bytes(b"l" * 700)
        waiting = http.post("/api/live", json={"title": "soon"}, headers=origin.headers())
        waiting_file = data_dir / "objects" / "live" / waiting.json()["id"] / "360p" / "init.mp4"
        waiting_file.parent.mkdir(parents=True)
        waiting_file.write_bytes(b"i" * 10)
        work = data_dir / "work" / "job-deadbeefdeadbeef-abc123"
        (work / "out").mkdir(parents=True)
        (work / "out" / "0.m4s").write_bytes(b"s" * 500)
        time.sleep(1.1)  # all of it older than "now" at a one-second resolution

        assert _janitor(data_dir, "--older-than", "1h")[-1].startswith("removed 0 items")
        report = _janitor(data_dir, "--dry-run")
        text = "\n".join(report)
        for expected in (
            "would remove spool video-",
            f"would remove upload {upload_id} (100 bytes)",
            "would remove objects uploads/0123456789abcdef/ (1000 bytes)",
            "would remove objects live/fedcba9876543210/ (700 bytes)",
            "would remove work job-deadbeefdeadbeef-abc123 (500 bytes)",
        ):
            assert expected in text, text
        assert orphan.exists()
        assert work.exists()

        report = _janitor(data_dir)
        assert report[-1].startswith("removed 5 items"), report
        assert not orphan.exists()
        assert not cut_short.exists()
        assert waiting_file.exists()
        assert not work.exists()
        assert not any(spool.iterdir())
        assert http.head(location, headers=tus).status_code == 404
        # what belongs to a video is untouched, and it still plays
        assert http.get(f"/vod/{kept}/master.m3u8").status_code == 200
        assert http.get(f"/vod/{kept}/360p/0.m4s").status_code == 200
        assert _janitor(data_dir)[-1].startswith("removed 0 items")


def _finish_and_read(sock: socket.socket, rest: bytes) -> bytes:
    sock.sendall(rest)
    sock.settimeout(60)
    answer = b""
    while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
        chunk = sock.recv(65536)
        if not chunk:
            break
        answer += chunk
    sock.close()
    return answer


def test_uploads_being_received_are_left_alone_whatever_the_cutoff(
    tmp_path: Path, sample: SampleMedia
) -> None:
    """`--older-than 0s` while a plain upload and a tus upload are half-way through their
    bodies (each idle for over a second): neither loses a byte, both become videos."""
    data_dir = tmp_path / "origin"
    video = sample.video.read_bytes()
    half = len(video) // 2
    with (
        origin_server(data_dir, ENV) as origin,
        httpx.Client(base_url=origin.url, timeout=30) as http,
    ):
        host, port = origin.url.removeprefix("http://").split(":")
        plain = socket.create_connection((host, int(port)))
        plain.sendall(
            f"POST /api/videos HTTP/1.1\r\nHost: {host}\r\n"
            f"Authorization: Bearer {origin.api_key}\r\nContent-Type: video/mp4\r\n"
            f"Content-Length: {len(video)}\r\n\r\n".encode()
            + video[:half]
        )
        tus = {**origin.headers(), "Tus-Resumable": "1.0.0"}
        created = http.post("/api/uploads/", headers={**tus, "Upload-Length": str(len(video))})
        location = created.headers["location"]
        path = location.removeprefix(origin.url)
        resumable = socket.create_connection((host, int(port)))
        resumable.sendall(
            f"PATCH {path} HTTP/1.1\r\nHost: {host}\r\n"
            f"Authorization: Bearer {origin.api_key}\r\nTus-Resumable: 1.0.0\r\n"
            f"Content-Type: application/offset+octet-stream\r\nUpload-Offset: 0\r\n"
            f"Content-Length: {len(video)}\r\n\r\n".encode()
            + video[:half]
        )
        spool = data_dir / "spool"
        wait_until(lambda: len(list(spool.iterdir())) == 2, 10, "both bodies to be spooled")
        time.sleep(1.1)  # older than "now" at a one-second resolution

        report = _janitor(data_dir)
        assert report[-1].startswith("removed 0 items"), report

        answer = _finish_and_read(plain, video[half:])
        assert answer.startswith(b"HTTP/1.1 201"), answer
        plain_id = json.loads(answer.split(b"\r\n\r\n", 1)[1])["id"]
        answer = _finish_and_read(resumable, video[half:])
        assert answer.startswith(b"HTTP/1.1 204"), answer
        head = http.head(location, headers=tus)
        assert head.headers["upload-offset"] == str(len(video))
        for video_id in (plain_id, head.headers["x-video-id"]):
            assert wait_for_video(http, video_id)["status"] == "ready"
        assert not any((data_dir / "in-use").iterdir())  # no mark outlives its upload


def test_the_janitor_prunes_webhook_deliveries_a_week_past_its_cutoff(tmp_path: Path) -> None:
    clock = FakeClock(1_000_000.0)
    catalog = Catalog(SqliteDatabase(tmp_path / "catalog.db"), clock=clock)
    catalog.create_schema()
    hook = catalog.create_webhook("http://receiver.example/hook", ("video.deleted",))
    catalog.create_video(NewVideo("v1", "uploads/v1/source", 10, 4.0))
    catalog.delete_video("v1")
    ((delivery, _),) = catalog.claim_deliveries(lease_s=15)
    catalog.record_delivery(delivery.id, status_code=200, error=None, retry_at=None)
    storage = open_storage(f"file://{tmp_path / 'objects'}")
    janitor = Janitor(catalog, storage, tmp_path, stale_s=3600, clock=clock)
    clock.advance(3600 + DELIVERIES_KEPT_S - 10)
    janitor.run()
    assert len(catalog.deliveries(hook.id)) == 1  # not a week past the cutoff yet
    clock.advance(20)
    assert "1 webhook deliveries" in "\n".join(janitor.run().lines())
    assert catalog.deliveries(hook.id) == []


def test_the_janitor_forgets_spent_upload_grants_once_expired(tmp_path: Path) -> None:
    clock = FakeClock(1_000_000.0)
    catalog = Catalog(SqliteDatabase(tmp_path / "catalog.db"), clock=clock)
    catalog.create_schema()
    catalog.create_upload(10, {}, "g1", grant_expires_at=clock() + 3600)
    catalog.delete_upload("g1")  # cancelled by its holder
    storage = open_storage(f"file://{tmp_path / 'objects'}")
    janitor = Janitor(catalog, storage, tmp_path, stale_s=3600, clock=clock)
    janitor.run()
    assert catalog.grant_spent("g1")  # its URL still verifies: still spent
    clock.advance(3601)
    assert "1 spent upload grants" in "\n".join(janitor.run().lines())
    assert not catalog.grant_spent("g1")
