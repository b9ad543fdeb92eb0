"""Live benchmark: how far behind the encoder viewers watch, and what a herd of viewers on one
POP asks of its upstream.

1. Latency, ours (with LL-HLS, and a player without it on the same stream's classic
   playlists) vs the anchor, played the same way: an encoder (ffmpeg, a test pattern in real
   time) pushes by SRT; hls.js in low-latency mode in Chromium plays through one POP for
   `--watch` seconds. Ours: the origin's LL-HLS (2 s segments, 0.5 s parts). Anchor: ffmpeg's
   own `hls` muxer (2 s fMP4 segments, the same ladder rung) writing to disk, served as files
   (playlists max-age=1) behind the same kind of POP. Glass-to-glass is the wall clock minus
   the moment the encoder made the frame on screen (the encoder starts at a known time and runs
   in real time); also hls.js's own figure from EXT-X-PROGRAM-DATE-TIME, and stalls.
   Then our headless player (`mediacdn play`) on the same LL-HLS playlists for as long.
2. Herd: `--viewers` clients on one POP follow the live edge with blocking reloads and fetch
   every part; the POP's upstream requests per part made (1.0 is perfect collapsing).

Targets: ≤ 3 s with LL-HLS, ≤ 10 s for classic players; no stall in 2 minutes; one upstream
request per part.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import m3u8
from playwright.sync_api import sync_playwright
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import machine
from edge.player.player import HeadlessPlayer
from tests.support.asgi_server import serve_in_thread
from tests.support.counting_proxy import CountingProxy
from tests.support.edges import edge_process
from tests.support.live import push
from tests.support.servers import free_port, origin_server, wait_until
from transcoder.live_command import srt_listener_url, srt_push_url
from transcoder.tools import ffmpeg_path, tool_env

PAGE = """<!doctype html><video id=v muted autoplay playsinline></video>
<script src="{hls}"></script><script>
const v = document.getElementById('v'); window.stalls = 0; window.stalledAt = [];
let started = false;  // a wait before the first frame is startup; one in a seek is the seek's
v.addEventListener('playing', () => {{ started = true; }});
v.addEventListener('waiting', () => {{
  if (started && !v.seeking) {{ window.stalls += 1; window.stalledAt.push(v.currentTime); }}
}});
const hls = new Hls({{lowLatencyMode: {low_latency}, maxLiveSyncPlaybackRate: 1.2}});
window.hls = hls;
hls.loadSource('{source}'); hls.attachMedia(v); v.play().catch(() => {{}});
</script>"""


def watch(
    origin_url: str, source: str, started: float, seconds: float, *, low_latency: bool = True
) -> dict[str, Any]:
    """Play `source` with hls.js; glass-to-glass latency samples once playing."""
    behind: list[float] = []
    pdt: list[float] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=["--no-sandbox", "--disable-gpu", "--autoplay-policy=no-user-gesture-required"],
        )
        page = browser.new_page()
        hls = f"{origin_url}/static/vendor/hls.min.js"
        ll = "true" if low_latency else "false"
        page.set_content(PAGE.format(hls=hls, source=source, low_latency=ll))
        page.wait_for_function("document.getElementById('v').currentTime > 1", timeout=60_000)
        until = time.monotonic() + seconds
        while time.monotonic() < until:
            time.sleep(0.5)
            now, position, playing = page.evaluate(
                "[Date.now() / 1000, document.getElementById('v').currentTime,"
                " hls.playingDate ? hls.playingDate.getTime() / 1000 : null]"
            )
            behind.append(now - (started + position))
            if playing is not None:
                pdt.append(now - playing)
        stalls = page.evaluate("window.stalls")
        stalled_at = page.evaluate("window.stalledAt")
        browser.close()
    return {
        "median_s": round(statistics.median(behind), 2),
        "p95_s": round(sorted(behind)[int(len(behind) * 0.95)], 2),
        "pdt_median_s": round(statistics.median(pdt), 2) if pdt else None,
        "stalls": stalls,
        "stalled_at_s": [round(t, 1) for t in stalled_at],  # media time of each stall
        "samples": len(behind),
    }


def static_site(root: Path) -> Starlette:
    """The anchor's files, as a web server would give them: playlists briefly cacheable."""

    async def serve(request: Request) -> Response:
        path = (root / request.path_params["path"]).resolve()
        if root not in path.parents or not path.is_file():
            return Response(status_code=404)
        cache = "max-age=1" if path.suffix == ".m3u8" else "max-age=31536000"
        headers = {"cache-control": cache, "access-control-allow-origin": "*"}
        return FileResponse(path, headers=headers)

    return Starlette(routes=[Route("/{path:path}", serve)])


@contextmanager
def anchor_packager(ffmpeg: str, port: int, key: str, out: Path) -> Iterator[None]:
    """ffmpeg's hls muxer: listens for the same encoder, 360p, 2 s fMP4 segments on disk."""
    argv = [ffmpeg, "-hide_banner", "-nostdin", "-v", "error", "-fflags", "nobuffer"]
    argv += ["-analyzeduration", "1000000", "-probesize", "1000000"]
    argv += ["-i", srt_listener_url("127.0.0.1", port, key)]
    argv += ["-map", "0:v:0", "-map", "0:a:0", "-vf", "scale=-2:360", "-c:v", "libx264"]
    argv += ["-preset", "veryfast", "-tune", "zerolatency", "-b:v", "800k"]
    argv += ["-force_key_frames", "expr:gte(t,n_forced*2)", "-sc_threshold", "0"]
    argv += ["-c:a", "aac", "-ar", "48000", "-ac", "2", "-f", "hls", "-hls_time", "2"]
    argv += ["-hls_list_size", "10", "-hls_flags", "delete_segments+independent_segments"]
    argv += ["-hls_segment_type", "fmp4", str(out / "index.m3u8")]
    proc = subprocess.Popen(argv, env=tool_env(), stderr=subprocess.DEVNULL)
    try:
        yield
    finally:
        proc.kill()
        proc.wait()


async def herd(pop: str, playlist: str, viewers: int, seconds: float) -> set[str]:
    """Viewers following the live edge: blocking reload for the next part, then the part."""
    parts: set[str] = set()
    base = playlist.rsplit("/", 1)[0]

    async def viewer(client: httpx.AsyncClient) -> None:
        text = (await client.get(playlist)).text
        until = time.monotonic() + seconds
        while time.monotonic() < until:
            listed = m3u8.loads(text)
            hint = listed.preload_hint.uri if listed.preload_hint else None
            if hint is None:
                return
            msn, part = (int(x) for x in hint.removesuffix(".m4s").split("."))
            if (await client.get(f"{base}/{hint}")).status_code == 200:
                parts.add(hint)
            params = {"_HLS_msn": str(msn), "_HLS_part": str(part)}
            answer = await client.get(playlist, params=params)
            if answer.status_code == 200:
                text = answer.text

    limits = httpx.Limits(max_connections=viewers * 2)
    async with httpx.AsyncClient(base_url=pop, timeout=30, limits=limits) as client:
        await asyncio.gather(*(viewer(client) for _ in range(viewers)))
    return parts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--watch", type=float, default=120, help="seconds each player watches")
    parser.add_argument("--viewers", type=int, default=200, help="viewers in the herd")
    parser.add_argument("--herd-seconds", type=float, default=30)
    parser.add_argument(
        "--fps", type=int, default=30, help="the encoder's frame rate (25: parts of 0.4 s)"
    )
    args = parser.parse_args()
    ffmpeg = ffmpeg_path()
    broadcast_s = int(3 * args.watch + args.herd_seconds + 60)
    results: dict[str, Any] = {"machine": machine(), "watch_s": args.watch, "fps": args.fps}
    with tempfile.TemporaryDirectory(prefix="bench-live-") as tmp:
        root = Path(tmp)
        port = free_port()
        env = {
            "MEDIACDN_WORKERS": "0",
            "MEDIACDN_LIVE_PORTS": str(port),
            "MEDIACDN_LIVE_LADDER": "360:800",
        }
        with origin_server(root / "origin", env) as origin:
            proxy = CountingProxy(origin.url)
            with (
                serve_in_thread(proxy, lifespan="on") as upstream,
                edge_process(root, upstream, "--workers", "1", name="pop") as pop,
            ):
                created = httpx.post(
                    f"{origin.url}/api/live", json={"title": "bench"}, headers=origin.headers()
                ).json()
                started = time.time()
                encoder = push(ffmpeg, created["ingest_url"], broadcast_s, fps=args.fps)
                master = f"{pop}/live/{created['id']}/master.m3u8"
                wait_until(lambda: httpx.get(master).status_code == 200, 60, "on air")
                results["ours"] = watch(origin.url, master, started, args.watch)
                # a player without LL-HLS on the same stream's classic playlists (whole segments
                # only), 3 segments back. It joins
                # late, so its media timeline is not the encoder's: its glass-to-glass is its
                # EXT-X-PROGRAM-DATE-TIME latency plus the ingest's own delay, which the first
                # player measured (its two figures' difference)
                classic_master = master.replace("/master.m3u8", "/classic.m3u8")
                classic = watch(origin.url, classic_master, started, args.watch, low_latency=False)
                ingest_delay = results["ours"]["median_s"] - (results["ours"]["pdt_median_s"] or 0)
                classic["median_s"] = round((classic["pdt_median_s"] or 0) + ingest_delay, 2)
                classic["p95_s"] = None
                classic["ingest_delay_s"] = round(ingest_delay, 2)
                results["ours_classic"] = classic
                # our headless player (`mediacdn play`) on the same LL-HLS playlists, part by
                # part; its glass-to-glass the same way (it too joins late)
                with httpx.Client(timeout=30) as client:
                    played = HeadlessPlayer(client, duration_s=args.watch).play(master)
                headless = played.as_dict()
                pdt = headless["live_latency_s"]
                results["ours_headless"] = {
                    "median_s": round(pdt + ingest_delay, 2) if isinstance(pdt, float) else None,
                    "pdt_median_s": pdt,
                    "stalls": headless["rebuffer_count"],
                    "stalled_s": headless["rebuffer_s"],
                    "parts": headless["segments"],
                    "low_latency": headless["low_latency"],
                }
                playlist = f"/live/{created['id']}/360p/index.m3u8"
                before = dict(proxy.counts)
                parts = asyncio.run(herd(pop, playlist, args.viewers, args.herd_seconds))
                upstream_parts = sum(
                    n - before.get(path, 0)
                    for path, n in proxy.counts.items()
                    if path.startswith(playlist.rsplit("/", 1)[0]) and path.count(".") == 2
                )
                results["herd"] = {
                    "viewers": args.viewers,
                    "parts_fetched": len(parts),
                    "upstream_part_requests": upstream_parts,
                    "upstream_per_part": round(upstream_parts / max(1, len(parts)), 3),
                }
                httpx.delete(
                    f"{origin.url}/api/live/{created['id']}", headers=origin.headers(), timeout=90
                )
                encoder.wait(60)
        anchor_dir = root / "anchor"
        anchor_dir.mkdir()
        key = "anchor-passphrase-0123"
        port = free_port()
        with (
            anchor_packager(ffmpeg, port, key, anchor_dir),
            serve_in_thread(static_site(anchor_dir.resolve())) as files,
            edge_process(root, files, "--workers", "1", name="anchor-pop") as pop,
            origin_server(
                root / "pages", {"MEDIACDN_WORKERS": "0", "MEDIACDN_LIVE_INGEST": "0"}
            ) as pages,
        ):
            time.sleep(1)
            started = time.time()
            url = srt_push_url("127.0.0.1", port, key)
            encoder = push(ffmpeg, url, int(args.watch + 40), fps=args.fps)
            wait_until(lambda: (anchor_dir / "index.m3u8").exists(), 60, "anchor on air")
            results["anchor"] = watch(pages.url, f"{pop}/index.m3u8", started, args.watch)
            encoder.kill()
            encoder.wait()
    ours, anchor = results["ours"]["median_s"], results["anchor"]["median_s"]
    results["latency_ratio"] = round(ours / anchor, 3) if anchor else None
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
