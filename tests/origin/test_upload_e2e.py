"""Every upload path reaches `ready` and plays: raw POST, multipart, tus (with a resume), CLI."""

from __future__ import annotations

import contextlib
import io
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import requests
from tusclient import client as tus_client
from tusclient.exceptions import TusCommunicationError
from tusclient.storage.filestorage import FileStorage
from tusclient.uploader.uploader import Uploader

from mediacdn.upload_client import UploadFailed, wait_until_done
from sample_media.generate import SampleMedia
from tests.support.playback import check_playback, wait_for_video
from tests.support.proxy import CuttingProxy
from tests.support.servers import OriginServer

pytestmark = pytest.mark.slow


class _KeepOpen(io.BytesIO):
    def close(self) -> None:
        pass


def test_raw_post_reaches_ready_and_plays(
    origin: OriginServer, http: httpx.Client, sample: SampleMedia, ffmpeg: str, ffprobe: str
) -> None:
    response = http.post(
        "/api/videos?audio_languages=eng,spa&segment_duration=4&title=raw",
        content=sample.video.read_bytes(),
        headers={**origin.headers(), "Content-Type": "video/mp4"},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == {"id", "job_id", "status_url"}
    assert response.headers["location"] == body["status_url"]
    status = wait_for_video(http, body["id"])
    assert status["status"] == "ready", status
    assert status["progress"] == 100
    assert status["error"] is None
    kinds = {(r["kind"], r["name"]) for r in status["renditions"]}
    assert ("video", "360p") in kinds
    assert ("audio", "audio-spa") in kinds
    report = check_playback(
        origin.url, body["id"], ffmpeg=ffmpeg, ffprobe=ffprobe, source_duration_s=9.0
    )
    assert report.variants == 2
    assert report.audio_languages == ["eng", "spa"]
    job = http.get(f"/api/jobs/{body['job_id']}").json()
    assert job["status"] == "done"
    assert job["attempts"] == 1


def test_multipart_with_side_audio_and_subtitles(
    origin: OriginServer,
    http: httpx.Client,
    sample: SampleMedia,
    french_audio: Path,
    ffmpeg: str,
    ffprobe: str,
) -> None:
    files = [
        ("file", ("sample.mp4", sample.video.read_bytes(), "video/mp4")),
        ("audio:fra", ("fra.wav", french_audio.read_bytes(), "audio/wav")),
        ("subtitles:eng", ("eng.vtt", sample.subtitles["eng"].read_bytes(), "text/vtt")),
        ("subtitles:spa", ("spa.vtt", sample.subtitles["spa"].read_bytes(), "text/vtt")),
    ]
    response = http.post(
        "/api/videos", files=files, data={"segment_duration": "3"}, headers=origin.headers()
    )
    assert response.status_code == 201, response.text
    video_id = response.json()["id"]
    status = wait_for_video(http, video_id)
    assert status["status"] == "ready", status
    assert status["segment_duration"] == 3
    report = check_playback(
        origin.url, video_id, ffmpeg=ffmpeg, ffprobe=ffprobe, source_duration_s=9.0
    )
    assert report.audio_languages == ["eng", "spa", "fra"]
    assert report.subtitle_languages == ["eng", "spa"]
    vtt = http.get(f"/vod/{video_id}/subs-spa/1.vtt")
    assert vtt.status_code == 200
    assert vtt.headers["content-type"].startswith("text/vtt")
    assert "Hola desde mediacdn" in vtt.text
    playlist = http.get(f"/vod/{video_id}/360p/index.m3u8").text
    assert "#EXT-X-TARGETDURATION:3" in playlist


def test_subrip_side_subtitles_are_published_as_webvtt(
    origin: OriginServer, http: httpx.Client, sample: SampleMedia
) -> None:
    """SubRip is what most subtitle files are; one in Windows-1252 too."""
    srt = "1\r\n00:00:01,000 --> 00:00:03,000\r\nCafé au lait\r\n\r\n".encode("cp1252")
    files = [
        ("file", ("sample.mp4", sample.video.read_bytes(), "video/mp4")),
        ("subtitles:fra", ("fra.srt", srt, "application/x-subrip")),
    ]
    response = http.post("/api/videos", files=files, headers=origin.headers())
    assert response.status_code == 201, response.text
    video_id = response.json()["id"]
    status = wait_for_video(http, video_id)
    assert status["status"] == "ready", status
    vtt = http.get(f"/vod/{video_id}/subs-fra/0.vtt")
    assert vtt.status_code == 200
    assert vtt.text.startswith("WEBVTT")
    assert "00:00:01.000 --> 00:00:03.000\nCafé au lait" in vtt.text


def test_tus_upload_resumes_after_a_dropped_connection(
    origin: OriginServer,
    http: httpx.Client,
    sample: SampleMedia,
    tmp_path: Path,
    ffmpeg: str,
    ffprobe: str,
) -> None:
    size = sample.video.stat().st_size
    port = int(origin.url.rsplit(":", 1)[1])
    metadata = {"filename": "sample.mp4", "audio_languages": "eng,spa"}
    with contextlib.ExitStack() as stack:
        url_store = FileStorage(str(tmp_path / "tus.json"))
        stack.callback(url_store.close)
        proxy = stack.enter_context(CuttingProxy(port, cut_after_bytes=size // 2))
        endpoint = f"http://127.0.0.1:{proxy.port}/api/uploads/"

        def uploader(checksum: bool, retries: int = 0) -> Uploader:
            # tuspy leaks the files it opens from a path and closes the streams it is given
            # after each chunk: hand it an in-memory stream that ignores close().
            stream = _KeepOpen(sample.video.read_bytes())
            client = tus_client.TusClient(endpoint, headers=origin.headers())
            return client.uploader(
                file_stream=stream,
                chunk_size=256 * 1024,
                metadata=metadata,
                store_url=True,
                url_storage=url_store,
                upload_checksum=checksum,
                retries=retries,
                retry_delay=1,
            )

        with pytest.raises((TusCommunicationError, requests.ConnectionError)):
            uploader(checksum=False).upload()
        assert proxy.cut_done.is_set()
        # A new client finds the stored upload URL and resumes from what the server kept. It
        # asks for the offset again if a PATCH is refused (409), as tus-js-client does: this
        # proxy cuts both ends at once, so the server may take in the dropped request's first
        # bytes only after the client's HEAD has been answered, and keep them after it.
        resumed = uploader(checksum=True, retries=2)
        assert 0 < resumed.offset < size
        resumed.upload()
    upload_path = "/api/uploads/" + str(resumed.url).rsplit("/", 1)[-1]
    head = http.head(upload_path, headers={**origin.headers(), "Tus-Resumable": "1.0.0"})
    assert head.headers["upload-offset"] == str(size)
    video_id = head.headers["x-video-id"]
    status = wait_for_video(http, video_id)
    assert status["status"] == "ready", status
    check_playback(origin.url, video_id, ffmpeg=ffmpeg, ffprobe=ffprobe, source_duration_s=9.0)


def cli_upload(
    origin: OriginServer, video: Path, state: Path, *extra: str
) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "mediacdn", "upload", str(video), "--server", origin.url]
    return subprocess.run(
        [*command, "--api-key", origin.api_key, *extra],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
        env={"XDG_STATE_HOME": str(state), "PATH": "/usr/bin:/bin"},
    )


def test_cli_upload_with_subtitles(
    origin: OriginServer, sample: SampleMedia, tmp_path: Path
) -> None:
    done = cli_upload(
        origin, sample.video, tmp_path, "--subtitles", f"eng={sample.subtitles['eng']}"
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert ": ready" in done.stdout
    assert "/master.m3u8" in done.stdout
    assert "upload sample.mp4" in done.stderr  # the progress bar


def test_cli_upload_of_the_same_file_again_is_a_new_video(
    origin: OriginServer, http: httpx.Client, sample: SampleMedia, tmp_path: Path
) -> None:
    """A finished upload is not resumed: the second run uploads anew, also once the first
    video is deleted (it used to find the finished upload and wait for ever on a deleted
    video); and a video deleted while the command waits ends it with the reason."""
    first = cli_upload(origin, sample.video, tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    first_id = first.stdout.split("video ", 1)[1].split(":", 1)[0]
    assert http.delete(f"/api/videos/{first_id}", headers=origin.headers()).status_code == 204
    again = cli_upload(origin, sample.video, tmp_path, "--no-wait")
    assert again.returncode == 0, again.stderr[-3000:]
    second_id = again.stdout.split("video ", 1)[1].split(":", 1)[0]
    assert second_id != first_id
    with httpx.Client(base_url=origin.url) as waiting:
        deleted = waiting.delete(f"/api/videos/{second_id}", headers=origin.headers())
        assert deleted.status_code == 204
        status_url = f"{origin.url}/api/videos/{second_id}"
        with pytest.raises(UploadFailed, match="answered 404"):
            wait_until_done(waiting, status_url, quiet=True, timeout_s=10)
