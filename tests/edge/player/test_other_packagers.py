"""The headless player on HLS as other packagers write it, served by a plain static file
server: a media playlist on its own (no master), MPEG-TS segments, byte ranges of one file
(ffmpeg's `single_file`, the init segment a range too) and a master playlist whose URIs are
absolute URLs on another host. Each is played whole, fetching only the bytes each segment is."""

from __future__ import annotations

import subprocess
from collections import Counter
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.staticfiles import StaticFiles

from edge.player.player import HeadlessPlayer, PlaybackFailed
from tests.support.asgi_server import serve_in_thread
from transcoder.tools import tool_env

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


class Recorded:
    """Static files, and what each request asked for: the path and its Range, if any."""

    def __init__(self, directory: Path) -> None:
        self.files = StaticFiles(directory=directory)
        self.asked: Counter[tuple[str, str]] = Counter()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = dict(scope["headers"])
            self.asked[scope["path"], headers.get(b"range", b"").decode()] += 1
        await self.files(scope, receive, send)


def hls(ffmpeg: str, out: Path, *muxing: str) -> None:
    """8 s of a test pattern in 2 s segments, as ffmpeg's hls muxer writes it into `out`."""
    out.mkdir()
    source = ["-f", "lavfi", "-i", "testsrc2=size=160x90:rate=25:duration=8"]
    encode = ["-c:v", "libx264", "-preset", "ultrafast", "-g", "50"]
    vod = ["-hls_playlist_type", "vod", str(out / "index.m3u8")]
    subprocess.run(
        [ffmpeg, "-v", "error", *source, *encode, "-f", "hls", "-hls_time", "2", *muxing, *vod],
        env=tool_env(),
        check=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def packaged(tmp_path_factory: pytest.TempPathFactory, ffmpeg: str) -> Path:
    root = tmp_path_factory.mktemp("packaged")
    hls(ffmpeg, root / "ts")
    hls(ffmpeg, root / "ranges", "-hls_segment_type", "fmp4", "-hls_flags", "single_file")
    return root


def play(url: str) -> tuple[int, int]:
    """Segments played, and their bitrate as the report gives it."""
    with httpx.Client(timeout=30) as client:
        report = HeadlessPlayer(client, speed=50).play(url)
    assert report.failed_fetches == 0
    return report.playback.chunks, round(report.playback.bitrate_bps)


def test_a_media_playlist_on_its_own_plays_at_its_measured_bitrate(packaged: Path) -> None:
    first = (packaged / "ts" / "index0.ts").stat().st_size
    with serve_in_thread(Recorded(packaged)) as url:
        assert play(f"{url}/ts/index.m3u8") == (4, round(8 * first / 2))


def test_byte_ranges_fetch_only_each_segments_bytes(packaged: Path) -> None:
    files = Recorded(packaged)
    (packaged / "master.m3u8").write_text(
        "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=700000\nranges/index.m3u8\n"
    )
    with serve_in_thread(files) as url:
        assert play(f"{url}/master.m3u8") == (4, 700000)
    ranges = [asked for (path, asked) in files.asked if path == "/ranges/index.m4s"]
    assert len(ranges) == 5  # the init segment and four segments, each a range of its own
    assert all(asked.startswith("bytes=") for asked in ranges)
    assert sum(files.asked.values()) == 7  # and the two playlists


def test_absolute_uris_on_another_host_are_fetched_there(packaged: Path) -> None:
    (packaged / "masters").mkdir()
    media, masters = Recorded(packaged), Recorded(packaged / "masters")
    with serve_in_thread(media) as media_url, serve_in_thread(masters) as master_url:
        (packaged / "masters" / "master.m3u8").write_text(
            "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=600000\n"
            f"{media_url}/ts/index.m3u8\n"
            f"#EXT-X-STREAM-INF:BANDWIDTH=300000\n{media_url}/ranges/index.m3u8\n"
        )
        chunks, _ = play(f"{master_url}/master.m3u8")
    assert chunks == 4
    assert sum(masters.asked.values()) == 1
    assert sum(media.asked.values()) >= 6  # two playlists and four segments at least


def test_what_is_no_playlist_fails_saying_so(packaged: Path) -> None:
    (packaged / "page.m3u8").write_text("<!DOCTYPE html><p>not found</p>\n")
    with (
        serve_in_thread(Recorded(packaged)) as url,
        httpx.Client(timeout=30) as client,
        pytest.raises(PlaybackFailed, match="not a playlist we can play"),
    ):
        HeadlessPlayer(client, speed=50).play(f"{url}/page.m3u8")
