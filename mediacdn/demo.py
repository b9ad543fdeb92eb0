"""`mediacdn demo`: origin up, sample generated and uploaded, playback URL printed."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import httpx

from mediacdn.keys import ensure_api_key
from mediacdn.settings import Settings
from mediacdn.upload_client import UploadFailed, upload_video
from sample_media.generate import generate_sample
from transcoder.tools import ffmpeg_path


def port_is_free(host: str, port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def wait_healthy(url: str, proc: subprocess.Popen[bytes], timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the origin exited with {proc.returncode}")
        try:
            if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the origin did not become healthy within {timeout_s:.0f} s")


def run_demo(settings: Settings, *, exit_after_ready: bool, duration_s: float = 20.0) -> int:
    settings, key = ensure_api_key(settings)
    assert key is not None
    port = settings.port
    if not port_is_free(settings.host, port):
        port = free_port(settings.host)
        print(f"port {settings.port} is busy; using {port}")
    base = f"http://{settings.host}:{port}"
    env = {**os.environ, "MEDIACDN_API_KEYS": key}
    argv = [
        sys.executable,
        "-m",
        "mediacdn",
        "serve",
        "--data-dir",
        str(settings.data_dir),
        "--host",
        settings.host,
        "--port",
        str(port),
    ]
    print(f"starting the origin: {' '.join(argv[2:])}")
    proc = subprocess.Popen(argv, env=env)
    try:
        wait_healthy(base, proc)
        sample_dir = settings.data_dir / "sample"
        print(
            f"generating a {duration_s:g} s 1080p sample (2 audio languages, 2 subtitle "
            f"languages) in {sample_dir} ...",
            flush=True,
        )
        sample = generate_sample(sample_dir, ffmpeg=ffmpeg_path(), duration_s=duration_s)
        try:
            result = upload_video(
                base,
                sample.video,
                key,
                subtitles=sample.subtitles,
                options={"title": "mediacdn demo"},
            )
        except UploadFailed as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        if result.status.get("status") != "ready":
            print(f"the video failed: {result.status.get('error')}", file=sys.stderr)
            return 1
        master = f"{base}/vod/{result.video_id}/master.m3u8"
        renditions = ", ".join(f"{r['name']}" for r in result.status.get("renditions", []))
        print()
        print(f"ready: video {result.video_id} ({renditions})")
        print(f"master playlist: {master}")
        print("play it with any HLS player, for example:")
        print(f"  ffplay {master}")
        print(f"  ffprobe {master}")
        print(f"API key for uploads: {key}")
        print(f"API: {base}/api/videos  (OpenAPI: {base}/api/openapi.json)")
        if exit_after_ready:
            return 0
        print("serving; press Ctrl-C to stop", flush=True)
        proc.wait()
        return proc.returncode or 0
    except KeyboardInterrupt:
        return 0
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
