"""Check a published video the way players do: over HTTP, with m3u8 and ffmpeg."""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass
from typing import Any

import httpx
import m3u8


def wait_for_video(
    http: httpx.Client,
    video_id: str,
    *,
    timeout_s: float = 120,
    until: tuple[str, ...] = ("ready", "failed"),
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        status: dict[str, Any] = http.get(f"/api/videos/{video_id}").json()
        if status["status"] in until:
            return status
        if time.monotonic() > deadline:
            raise TimeoutError(f"video {video_id} still {status['status']} after {timeout_s} s")
        time.sleep(0.25)


@dataclass(frozen=True)
class PlaybackReport:
    audio_languages: list[str]
    subtitle_languages: list[str]
    durations_s: dict[str, float]
    variants: int


def check_playback(
    base_url: str, video_id: str, *, ffmpeg: str, ffprobe: str, source_duration_s: float
) -> PlaybackReport:
    master_url = f"{base_url}/vod/{video_id}/master.m3u8"
    with httpx.Client(timeout=30) as http:
        master = m3u8.loads(http.get(master_url).raise_for_status().text, uri=master_url)
        assert master.is_variant
        uris = [p.absolute_uri for p in master.playlists] + [
            m.absolute_uri for m in master.media if m.uri
        ]
        durations = {}
        for uri in uris:
            media = m3u8.loads(http.get(uri).raise_for_status().text, uri=uri)
            assert media.is_endlist
            assert media.target_duration >= max(round(s.duration) for s in media.segments)
            total = sum(s.duration for s in media.segments)
            assert abs(total - source_duration_s) <= 0.1, (uri, total)
            durations[uri] = total
            for segment in media.segments[:1] + media.segments[-1:]:
                assert http.head(segment.absolute_uri).status_code == 200
    probe = subprocess.run(
        [ffprobe, "-v", "error", "-show_entries", "stream=codec_type", "-of", "csv", master_url],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert probe.returncode == 0, probe.stderr
    assert "video" in probe.stdout
    for uri in [p.absolute_uri for p in master.playlists] + [
        m.absolute_uri for m in master.media if m.type == "AUDIO"
    ]:
        decoded = subprocess.run(
            [ffmpeg, "-v", "error", "-xerror", "-i", uri, "-f", "null", "-"],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert decoded.returncode == 0, (uri, decoded.stderr[-2000:])
    return PlaybackReport(
        audio_languages=[m.language for m in master.media if m.type == "AUDIO"],
        subtitle_languages=[m.language for m in master.media if m.type == "SUBTITLES"],
        durations_s=durations,
        variants=len(master.playlists),
    )


def upload_raw(http: httpx.Client, headers: dict[str, str], data: bytes, query: str = "") -> str:
    """POST a video as the raw body; returns the new video's id."""
    response = http.post(
        f"/api/videos{query}",
        content=data,
        headers={**headers, "Content-Type": "application/octet-stream"},
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])
