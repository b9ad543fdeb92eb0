"""tus 1.0 at /api/uploads/: core, creation, creation-with-upload, termination, checksum."""

from __future__ import annotations

import base64
import hashlib

import httpx
import pytest

from sample_media.generate import SampleMedia
from tests.support.playback import wait_for_video
from tests.support.servers import OriginServer

pytestmark = pytest.mark.slow
TUS = {"Tus-Resumable": "1.0.0"}
OCTETS = {"Content-Type": "application/offset+octet-stream"}


def metadata(**items: str) -> str:
    return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in items.items())


def create(http: httpx.Client, origin: OriginServer, length: int, **meta: str) -> str:
    response = http.post(
        "/api/uploads/",
        headers={
            **origin.headers(),
            **TUS,
            "Upload-Length": str(length),
            "Upload-Metadata": metadata(**meta),
        },
    )
    assert response.status_code == 201, response.text
    assert response.headers["tus-resumable"] == "1.0.0"
    return str(response.headers["location"])


def upload_whole(
    http: httpx.Client, origin: OriginServer, data: bytes, upload_metadata: str
) -> httpx.Response:
    """Creation with upload: the whole file in the POST that creates the upload."""
    return http.post(
        "/api/uploads/",
        content=data,
        headers={
            **origin.headers(),
            **TUS,
            **OCTETS,
            "Upload-Length": str(len(data)),
            "Upload-Metadata": upload_metadata,
        },
    )


def test_options_lists_capabilities(http: httpx.Client) -> None:
    response = http.options("/api/uploads/")
    assert response.status_code == 204
    assert response.headers["tus-version"] == "1.0.0"
    extensions = response.headers["tus-extension"].split(",")
    assert {"creation", "creation-with-upload", "termination", "checksum"} <= set(extensions)
    assert "sha1" in response.headers["tus-checksum-algorithm"]
    assert int(response.headers["tus-max-size"]) > 0


@pytest.mark.parametrize("length", ["²", "٣", "-1", "1e3", "5x", ""])
def test_lengths_that_are_not_ascii_digits_are_refused(
    origin: OriginServer, http: httpx.Client, length: str
) -> None:
    headers = {**origin.headers(), **TUS, "Upload-Length": length}
    raw = [(k.encode(), v.encode()) for k, v in headers.items()]
    response = http.post("/api/uploads/", headers=raw)
    assert response.status_code == 400
    assert response.json()["error"]["code"]


def test_version_is_required(origin: OriginServer, http: httpx.Client) -> None:
    response = http.post("/api/uploads/", headers={**origin.headers(), "Upload-Length": "5"})
    assert response.status_code == 412


def test_patch_rules_and_checksums(origin: OriginServer, http: httpx.Client) -> None:
    location = create(http, origin, 10, role="side")
    assert http.head(location, headers=TUS).status_code == 401  # every verb needs the key
    head = http.head(location, headers={**origin.headers(), **TUS})
    assert head.headers["upload-offset"] == "0"
    assert head.headers["upload-length"] == "10"
    assert head.headers["cache-control"] == "no-store"
    auth = {**origin.headers(), **TUS}
    wrong_type = http.patch(
        location,
        content=b"abc",
        headers={**auth, "Upload-Offset": "0", "Content-Type": "text/plain"},
    )
    assert wrong_type.status_code == 415
    wrong_offset = http.patch(
        location, content=b"abc", headers={**auth, **OCTETS, "Upload-Offset": "3"}
    )
    assert wrong_offset.status_code == 409
    bad_sum = base64.b64encode(hashlib.sha1(b"xyz").digest()).decode()
    mismatch = http.patch(
        location,
        content=b"abcde",
        headers={**auth, **OCTETS, "Upload-Offset": "0", "Upload-Checksum": f"sha1 {bad_sum}"},
    )
    assert mismatch.status_code == 460
    assert http.head(location, headers=auth).headers["upload-offset"] == "0"
    good_sum = base64.b64encode(hashlib.sha1(b"abcde").digest()).decode()
    ok = http.patch(
        location,
        content=b"abcde",
        headers={**auth, **OCTETS, "Upload-Offset": "0", "Upload-Checksum": f"sha1 {good_sum}"},
    )
    assert ok.status_code == 204
    assert ok.headers["upload-offset"] == "5"
    too_long = http.patch(
        location, content=b"0123456789", headers={**auth, **OCTETS, "Upload-Offset": "5"}
    )
    assert too_long.status_code == 413
    assert http.head(location, headers=auth).headers["upload-offset"] == "5"
    unknown = http.patch(
        location,
        content=b"x",
        headers={**auth, **OCTETS, "Upload-Offset": "5", "Upload-Checksum": "crc99 AAAA"},
    )
    assert unknown.status_code == 400


def test_termination(origin: OriginServer, http: httpx.Client) -> None:
    location = create(http, origin, 100, role="side")
    assert http.delete(location, headers={**origin.headers(), **TUS}).status_code == 204
    assert http.head(location, headers={**origin.headers(), **TUS}).status_code == 404


def test_creation_with_upload_and_side_files(
    origin: OriginServer, http: httpx.Client, sample: SampleMedia
) -> None:
    subs = sample.subtitles["spa"].read_bytes()
    side = http.post(
        "/api/uploads/",
        content=subs,
        headers={
            **origin.headers(),
            **TUS,
            **OCTETS,
            "Upload-Length": str(len(subs)),
            "Upload-Metadata": metadata(role="side"),
        },
    )
    assert side.status_code == 201
    assert side.headers["upload-offset"] == str(len(subs))
    side_id = side.headers["location"].rsplit("/", 1)[-1]
    video = sample.video.read_bytes()
    main = upload_whole(http, origin, video, metadata(**{"subtitles:spa": side_id, "title": "tus"}))
    assert main.status_code == 201, main.text
    video_id = main.headers["x-video-id"]
    status = wait_for_video(http, video_id)
    assert status["status"] == "ready"
    assert status["title"] == "tus"
    assert [r["language"] for r in status["renditions"] if r["kind"] == "subtitles"] == ["spa"]


def test_side_upload_must_be_finished(
    origin: OriginServer, http: httpx.Client, sample: SampleMedia
) -> None:
    side_location = create(http, origin, 1000, role="side")
    side_id = side_location.rsplit("/", 1)[-1]
    video = sample.video.read_bytes()
    main = upload_whole(http, origin, video, metadata(**{"audio:fra": side_id}))
    assert main.status_code == 422
    assert main.json()["error"]["code"] == "side_upload_incomplete"
