"""`mediacdn upload`: a resumable tus upload with progress bars, then transcode progress."""

from __future__ import annotations

import hashlib
import io
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import httpx
from tqdm import tqdm

CHUNK_BYTES = 4 << 20


class UploadFailed(RuntimeError):
    pass


@dataclass(frozen=True, slots=True)
class UploadResult:
    video_id: str
    status: dict[str, Any]


class _PathFingerprint:
    """Resume key: the server, the file's path, size, mtime and the upload's metadata (the
    same file sent to another origin is another upload)."""

    def __init__(self, server: str, path: Path, metadata: dict[str, str]) -> None:
        st = path.stat()
        raw = f"{server}|{path.resolve()}|{st.st_size}|{st.st_mtime_ns}"
        raw += f"|{sorted(metadata.items())}"
        self.value = hashlib.sha256(raw.encode()).hexdigest()

    def get_fingerprint(self, fs: IO[bytes]) -> str:
        return self.value


class _KeptOpen(io.BufferedReader):
    """The file handed to tuspy: it closes a stream it is given (in a `with`) and leaks the
    ones it opens itself, so it gets one that only we close."""

    def close(self) -> None:
        pass

    def release(self) -> None:
        super().close()


def _state_file() -> Path:
    base = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    path = base / "mediacdn" / "tus-uploads.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def tus_upload(
    server: str,
    path: Path,
    metadata: dict[str, str],
    api_key: str,
    *,
    label: str,
    quiet: bool = False,
    chunk_bytes: int = CHUNK_BYTES,
) -> str:
    """Upload (or resume) one file with tus; returns its upload URL."""
    from tusclient import client as tus_client
    from tusclient.exceptions import TusCommunicationError
    from tusclient.storage.filestorage import FileStorage

    endpoint = server.rstrip("/") + "/api/uploads/"
    tus = tus_client.TusClient(endpoint, headers={"Authorization": f"Bearer {api_key}"})
    storage = FileStorage(str(_state_file()))
    fingerprint = _PathFingerprint(endpoint, path, metadata)

    stream = _KeptOpen(io.FileIO(path))

    def make_uploader() -> Any:
        return tus.uploader(
            file_stream=stream,
            chunk_size=chunk_bytes,
            metadata=metadata,
            store_url=True,
            url_storage=storage,
            fingerprinter=fingerprint,
            upload_checksum=True,
        )

    try:
        try:
            uploader = make_uploader()
        except TusCommunicationError:
            # The stored upload is gone from the server: start again from zero.
            storage.remove_item(fingerprint.value)
            uploader = make_uploader()
        size = uploader.get_file_size()
        with tqdm(
            total=size,
            initial=uploader.offset,
            unit="B",
            unit_scale=True,
            unit_divisor=1024,
            desc=f"upload {label}",
            disable=quiet,
        ) as bar:
            if not uploader.url:
                uploader.set_url(uploader.create_url())
                uploader.offset = 0
            while uploader.offset < size:
                before = uploader.offset
                uploader.upload_chunk()
                bar.update(uploader.offset - before)
        # finished: nothing to resume, so running the command again uploads the file anew
        storage.remove_item(fingerprint.value)
        return str(uploader.url)
    except TusCommunicationError as exc:
        raise UploadFailed(f"upload of {path} failed: {exc}") from exc
    finally:
        stream.release()
        storage.close()


def upload_video(
    server: str,
    video: Path,
    api_key: str,
    *,
    audio: dict[str, Path] | None = None,
    subtitles: dict[str, Path] | None = None,
    options: dict[str, str] | None = None,
    wait: bool = True,
    quiet: bool = False,
    timeout_s: float = 3600,
) -> UploadResult:
    metadata: dict[str, str] = {"filename": video.name, **(options or {})}
    for kind, files in (("audio", audio or {}), ("subtitles", subtitles or {})):
        for language, path in files.items():
            url = tus_upload(
                server,
                path,
                {"role": "side", "filename": path.name},
                api_key,
                label=f"{kind}:{language}",
                quiet=quiet,
            )
            metadata[f"{kind}:{language}"] = url.rstrip("/").rsplit("/", 1)[-1]
    url = tus_upload(server, video, metadata, api_key, label=video.name, quiet=quiet)
    with httpx.Client(timeout=30) as http:
        auth = {"Authorization": f"Bearer {api_key}"}
        head = http.head(url, headers={**auth, "Tus-Resumable": "1.0.0"})
        video_id = head.headers.get("x-video-id")
        if head.status_code != 200 or not video_id:
            raise UploadFailed(f"the server did not accept the upload ({head.status_code})")
        status_url = server.rstrip("/") + f"/api/videos/{video_id}"
        status = video_status(http, status_url)
        if wait:
            status = wait_until_done(http, status_url, quiet=quiet, timeout_s=timeout_s)
    return UploadResult(video_id=video_id, status=status)


def video_status(http: httpx.Client, status_url: str) -> dict[str, Any]:
    """The video's status; UploadFailed if the origin has none to give (the video deleted
    meanwhile, say): there is then nothing to wait for."""
    answer = http.get(status_url)
    if answer.status_code != 200:
        try:
            said = answer.json()["error"]["message"]
        except (ValueError, KeyError, TypeError):
            said = answer.text[:200]
        raise UploadFailed(f"{status_url} answered {answer.status_code}: {said}")
    status: dict[str, Any] = answer.json()
    return status


def wait_until_done(
    http: httpx.Client, status_url: str, *, quiet: bool = False, timeout_s: float = 3600
) -> dict[str, Any]:
    """Poll a video until ready or failed, with a transcode progress bar."""
    deadline = time.monotonic() + timeout_s
    with tqdm(
        total=100,
        desc="transcode",
        unit="%",
        disable=quiet,
        bar_format="{l_bar}{bar}| {n:.0f}/{total:.0f}% [{elapsed}] {postfix}",
    ) as bar:
        while True:
            status = video_status(http, status_url)
            bar.n = float(status.get("progress", 0))
            bar.set_postfix_str(status.get("status", "?"))
            bar.refresh()
            if status.get("status") in ("ready", "failed"):
                return status
            if time.monotonic() > deadline:
                raise UploadFailed(f"gave up waiting after {timeout_s:.0f} s")
            time.sleep(0.5)
