"""Bad input: a clear 4xx JSON error, or a `failed` video with a reason; nothing published."""

from __future__ import annotations

import base64
import select
import socket
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from sample_media.generate import SampleMedia
from tests.conftest import MAX_UPLOAD_BYTES
from tests.support.playback import upload_raw, wait_for_video
from tests.support.servers import OriginServer

pytestmark = pytest.mark.slow


def assert_error(response: httpx.Response, status: int, code: str | None = None) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert set(error) == {"code", "message"}
    assert error["message"]
    if code is not None:
        assert error["code"] == code


def assert_failed_and_unpublished(
    http: httpx.Client, origin: OriginServer, video_id: str, code: str
) -> dict[str, object]:
    status = wait_for_video(http, video_id)
    assert status["status"] == "failed", status
    assert status["error"]["code"] == code, status
    assert status["error"]["message"]
    assert http.get(f"/vod/{video_id}/master.m3u8").status_code == 404
    objects = origin.data_dir / "objects" / "videos" / video_id
    assert not objects.exists() or not any(objects.rglob("*"))
    return status


def read_response(conn: socket.socket) -> str:
    """One whole HTTP response (headers and Content-Length body) from a raw socket."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        (
            int(line.split(b":")[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        ),
        0,
    )
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            break
        body += chunk
    return (head + b"\r\n\r\n" + body).decode(errors="replace")


def truncated(sample: SampleMedia, tmp_path: Path) -> bytes:
    data = sample.video.read_bytes()
    return data[: len(data) * 2 // 5]  # moov is at the front (faststart): probing still works


BAD_FILES: dict[str, Callable[[SampleMedia, Path], bytes]] = {
    "text-file": lambda s, t: b"This is a plain text file, not a video.\n" * 50,
    "hls-playlist": lambda s, t: (
        b"#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4,\nseg0.ts\n#EXT-X-ENDLIST\n"
    ),
    "concat-list-referencing-local-files": lambda s, t: (
        f"ffconcat version 1.0\nfile '{s.video}'\nfile '/etc/passwd'\n".encode()
    ),
    "hls-referencing-local-paths": lambda s, t: (
        f"#EXTM3U\n#EXTINF:4,\nfile://{s.video}\n#EXTINF:4,\n/etc/passwd\n".encode()
    ),
    "dash-manifest": lambda s, t: (
        b'<?xml version="1.0"?><MPD><Period><BaseURL>file:///etc/</BaseURL></Period></MPD>'
    ),
    "truncated-mp4": truncated,
    "audio-only": lambda s, t: b"RIFF\x24\x00\x00\x00WAVEfmt " + b"\x00" * 200,
}


@pytest.mark.parametrize("name", list(BAD_FILES))
def test_bad_files_fail_with_a_reason(
    name: str, origin: OriginServer, http: httpx.Client, sample: SampleMedia, tmp_path: Path
) -> None:
    video_id = upload_raw(http, origin.headers(), BAD_FILES[name](sample, tmp_path))
    status = assert_failed_and_unpublished(http, origin, video_id, "invalid_media")
    job = http.get(f"/api/jobs/{status['job_id']}").json()
    assert job["attempts"] == 1  # invalid media is never retried


def test_empty_upload_is_refused(origin: OriginServer, http: httpx.Client) -> None:
    before = len(http.get("/api/videos", headers=origin.headers()).json()["videos"])
    response = http.post(
        "/api/videos", content=b"", headers={**origin.headers(), "Content-Type": "video/mp4"}
    )
    assert_error(response, 422, "empty_upload")
    multipart = http.post(
        "/api/videos", files={"file": ("x.mp4", b"", "video/mp4")}, headers=origin.headers()
    )
    assert_error(multipart, 422, "empty_upload")
    tus = http.post(
        "/api/uploads/",
        headers={**origin.headers(), "Tus-Resumable": "1.0.0", "Upload-Length": "0"},
    )
    assert_error(tus, 422, "empty_upload")
    assert len(http.get("/api/videos", headers=origin.headers()).json()["videos"]) == before


def test_oversize_refused_before_reading(origin: OriginServer, http: httpx.Client) -> None:
    # A raw socket: the client declares a huge body, sends none of it, and gets 413 at once.
    host, port = origin.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        conn.sendall(
            f"POST /api/videos HTTP/1.1\r\nHost: {host}\r\nContent-Type: video/mp4\r\n"
            f"Authorization: Bearer {origin.api_key}\r\n"
            f"Content-Length: {MAX_UPLOAD_BYTES + 1}\r\n\r\n".encode()
        )
        reply = read_response(conn)
    assert reply.startswith("HTTP/1.1 413"), reply
    assert '"code":"too_large"' in reply.replace(" ", "")
    tus = http.post(
        "/api/uploads/",
        headers={
            **origin.headers(),
            "Tus-Resumable": "1.0.0",
            "Upload-Length": str(MAX_UPLOAD_BYTES + 1),
        },
    )
    assert_error(tus, 413, "too_large")


def test_oversize_stream_aborted_when_it_passes_the_limit(
    origin: OriginServer, http: httpx.Client
) -> None:
    # Chunked, so there is no Content-Length to check up front; the server must stop the
    # upload as the stream passes the limit, not after the client has sent everything.
    before = len(http.get("/api/videos", headers=origin.headers()).json()["videos"])
    host, port = origin.url.removeprefix("http://").split(":")
    chunk = b"\x00" * (1 << 20)
    sent = 0
    reply = b""
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        conn.sendall(
            f"POST /api/videos HTTP/1.1\r\nHost: {host}\r\nContent-Type: video/mp4\r\n"
            f"Authorization: Bearer {origin.api_key}\r\n"
            "Transfer-Encoding: chunked\r\n\r\n".encode()
        )
        try:
            while sent < MAX_UPLOAD_BYTES * 3 and not reply:
                conn.sendall(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
                sent += len(chunk)
                if select.select([conn], [], [], 0)[0]:
                    reply = conn.recv(65536)
            if not reply:
                reply = conn.recv(65536)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may close the connection after answering
    assert sent < MAX_UPLOAD_BYTES + (16 << 20), sent  # limit + what socket buffers hold
    if reply:
        assert reply.startswith(b"HTTP/1.1 413"), reply[:200]
    assert len(http.get("/api/videos", headers=origin.headers()).json()["videos"]) == before
    assert list((origin.data_dir / "spool").iterdir()) == []


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        pytest.param({}, 401, id="missing"),
        pytest.param({"Authorization": "Bearer wrong-key"}, 403, id="wrong"),
        pytest.param({"Authorization": "Basic dGVzdDp0ZXN0"}, 401, id="not-bearer"),
    ],
)
def test_writes_need_an_api_key(
    headers: dict[str, str],
    status: int,
    origin: OriginServer,
    http: httpx.Client,
    sample: SampleMedia,
) -> None:
    code = "unauthorized" if status == 401 else "forbidden"
    raw = http.post(
        "/api/videos",
        content=sample.video.read_bytes(),
        headers={**headers, "Content-Type": "video/mp4"},
    )
    assert_error(raw, status, code)
    delete = http.delete("/api/videos/whatever", headers=headers)
    assert_error(delete, status, code)
    tus = http.post(
        "/api/uploads/", headers={**headers, "Tus-Resumable": "1.0.0", "Upload-Length": "10"}
    )
    assert_error(tus, status, code)
    assert http.get("/api/videos").status_code == 200  # reads stay open (listed videos)


@pytest.mark.parametrize("seconds", ["1", "11", "0", "abc", "nan"])
def test_segment_duration_out_of_range(
    seconds: str, origin: OriginServer, http: httpx.Client, sample: SampleMedia
) -> None:
    raw = http.post(
        f"/api/videos?segment_duration={seconds}",
        content=sample.video.read_bytes(),
        headers={**origin.headers(), "Content-Type": "video/mp4"},
    )
    assert_error(raw, 422, "invalid_segment_duration")
    multipart = http.post(
        "/api/videos",
        files={"file": ("s.mp4", sample.video.read_bytes(), "video/mp4")},
        data={"segment_duration": seconds},
        headers=origin.headers(),
    )
    assert_error(multipart, 422, "invalid_segment_duration")
    meta = "segment_duration " + base64.b64encode(seconds.encode()).decode()
    tus = http.post(
        "/api/uploads/",
        headers={
            **origin.headers(),
            "Tus-Resumable": "1.0.0",
            "Upload-Length": "100",
            "Upload-Metadata": meta,
        },
    )
    assert_error(tus, 422, "invalid_segment_duration")


def test_other_request_errors(origin: OriginServer, http: httpx.Client) -> None:
    assert_error(
        http.post(
            "/api/videos",
            content=b"{}",
            headers={**origin.headers(), "Content-Type": "application/json"},
        ),
        415,
        "unsupported_media_type",
    )
    assert_error(
        http.post("/api/videos", files={"other": ("x", b"1")}, headers=origin.headers()),
        422,
        "missing_file",
    )
    assert_error(
        http.post(
            "/api/videos?audio_languages=english!",
            content=b"1",
            headers={**origin.headers(), "Content-Type": "video/mp4"},
        ),
        422,
        "invalid_language",
    )
    assert_error(http.get("/api/videos/nope"), 404, "video_not_found")
    assert_error(http.get("/api/jobs/nope"), 404, "job_not_found")
    assert_error(http.delete("/api/videos/nope", headers=origin.headers()), 404)
    assert_error(http.get("/api/nothing-here"), 404)
    assert_error(http.put("/api/videos", headers=origin.headers()), 405)


@pytest.mark.parametrize(
    "url",
    [
        "http://[::1/hook",  # a bracket that does not close
        "http://hooks.example:99999/",  # port out of range
        "http://hooks.example:x/",
        "http://hooks\t.example/",  # control characters the HTTP client refuses
        "http://hooks.example/a\x00b",
        "http://hooks .example/",
        "https:///no-host",
    ],
)
def test_a_webhook_url_the_sender_cannot_send_to_is_refused(
    url: str, origin: OriginServer, http: httpx.Client
) -> None:
    response = http.post("/api/webhooks", json={"url": url}, headers=origin.headers())
    assert_error(response, 422, "invalid_url")
    listed = http.get("/api/webhooks", headers=origin.headers()).json()["webhooks"]
    assert url not in [hook["url"] for hook in listed]
