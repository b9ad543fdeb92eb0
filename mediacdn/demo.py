"""`mediacdn demo`: the origin (with its transcode worker), the router and every POP of the
default topology on 127.0.0.1; a generated sample uploaded; headless players in each client
region routed through the CDN; a report of who served whom, hit ratios, origin offload and
quality of experience; then it keeps serving with the playback URLs printed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from edge.player.player import HeadlessPlayer, PlaybackFailed
from edge.player.routed import RoutedSession, play_via_router
from edge.router.topology import DEFAULT_TOPOLOGY, Topology, load_topology
from mediacdn.cdn import LocalCdn, start_cdn, wait_healthy
from mediacdn.keys import ensure_api_key
from mediacdn.ports import bindable, free_port
from mediacdn.upload_client import UploadFailed, upload_video
from origin.settings import Settings
from sample_media.generate import generate_sample
from transcoder.tools import ffmpeg_path

DEMO_TITLE = "mediacdn demo"


def earlier_demo_video(base: str, key: str) -> tuple[str, dict[str, Any]] | None:
    """(id, status) of a ready video an earlier demo uploaded to this origin, if any."""
    headers = {"authorization": f"Bearer {key}"}
    try:
        listing = httpx.get(f"{base}/api/videos", params={"limit": 1000}, headers=headers)
        for video in listing.json().get("videos", []):
            if video.get("title") == DEMO_TITLE and video.get("status") == "ready":
                status = httpx.get(f"{base}/api/videos/{video['id']}", headers=headers)
                return str(video["id"]), dict(status.json())
    except (httpx.HTTPError, ValueError, KeyError):
        return None
    return None


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def run_demo(settings: Settings, *, exit_after_ready: bool, duration_s: float = 20.0) -> int:
    # SIGTERM (and SIGINT where a background shell ignores it) stops the demo like Ctrl-C:
    # the POPs, router and origin are stopped with it, never left running.
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
    settings, key = ensure_api_key(settings)
    assert key is not None
    port = settings.port
    if not bindable(settings.host, port):
        port = free_port(settings.host)
        print(f"port {settings.port} is busy; using {port}")
    base = f"http://{settings.host}:{port}"
    router_port = free_port(settings.host)  # known now, so the origin's pages can name it
    router_url = f"http://{settings.host}:{router_port}"
    env = {**os.environ, "MEDIACDN_API_KEYS": key, "MEDIACDN_ROUTER_URL": router_url}
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
        "--access-log",  # not on the console, where the report goes
        str(settings.data_dir / "origin.access.log"),
    ]
    print(f"starting the origin: {' '.join(argv[2:])}")
    proc = subprocess.Popen(argv, env=env)
    try:
        wait_healthy(base, proc, "the origin", timeout_s=60)
        earlier = earlier_demo_video(base, key)
        if earlier is not None:
            video_id, status = earlier
            print(f"reusing video {video_id} from an earlier demo (delete it for a fresh one)")
        else:
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
                    options={"title": DEMO_TITLE, "listed": "true"},
                )
            except UploadFailed as exc:
                print(f"error: {exc}", file=sys.stderr)
                return 1
            video_id, status = result.video_id, result.status
        if status.get("status") != "ready":
            print(f"the video failed: {status.get('error')}", file=sys.stderr)
            return 1
        path = f"/vod/{video_id}/master.m3u8"
        renditions = ", ".join(f"{r['name']}" for r in status.get("renditions", []))
        print(f"\nready: video {video_id} ({renditions})", flush=True)
        topology = load_topology(DEFAULT_TOPOLOGY)
        print(
            f"starting the CDN: a router and {len(topology.pops)} POPs from "
            f"{DEFAULT_TOPOLOGY.name} (logs in {settings.data_dir / 'cdn'}) ...",
            flush=True,
        )
        cdn = start_cdn(
            topology,
            base,
            admin_key=key,
            log_dir=settings.data_dir / "cdn",
            router_port=router_port,
        )
        print(f"watch the CDN work, live: {base}/dashboard", flush=True)
        try:
            sessions = run_players(cdn, topology, path)
            print_report(cdn, sessions)
            first = next(iter(topology.regions), None)
            geo = f"{first.lat},{first.lon}" if first else "48.85,2.35"
            some_pop = next(p for p in cdn.pops.values() if p.spec.pop.tier == "edge")
            print("\nin a browser:")
            print(f"  player:     {base}/watch/{video_id}")
            print(f"  upload:     {base}/upload   (API key: {key})")
            print(f"  dashboard:  {base}/dashboard")
            print("\nplay it with any HLS player (VLC, mpv, Safari, hls.js), from:")
            print(f"  the router:          {cdn.router_url}/r{path}?geo={geo}")
            print(f"  one POP ({some_pop.spec.pop.name}):  {some_pop.url}{path}")
            print(f"  the origin:          {base}{path}")
            print(
                f"  or save a copy with the bundled ffmpeg: {ffmpeg_path()} -i '{base}{path}' "
                "-c copy -sn demo.mp4"
            )
            print(
                f"  headless, routed:    mediacdn play {base}{path} --router {cdn.router_url} "
                f"--geo {geo}"
            )
            print(f"router: {cdn.router_url}/pops   API key for uploads: {key}")
            print(f"API: {base}/api/videos  (OpenAPI: {base}/api/openapi.json)")
            if exit_after_ready:
                return 0
            print("serving; press Ctrl-C to stop", flush=True)
            proc.wait()
            return proc.returncode or 0
        finally:
            cdn.stop()
    except KeyboardInterrupt:
        return 0
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


def run_players(
    cdn: LocalCdn,
    topology: Topology,
    path: str,
    per_region: int = 2,
    speed: float = 4.0,
    stagger_s: float = 2.0,
) -> list[tuple[str, RoutedSession | str]]:
    """`per_region` headless players in each client region through the router, the regions at
    once and each region's players `stagger_s` apart; (region, session or why it failed)."""

    def one(job: tuple[int, int]) -> RoutedSession | str:
        region = topology.regions[job[0]]
        time.sleep(job[1] * stagger_s)  # the region's later viewers find a warm cache
        with httpx.Client(timeout=30) as client:
            try:
                player = HeadlessPlayer(client, speed=speed)
                return play_via_router(
                    client, cdn.router_url, (region.lat, region.lon), path, player
                )
            except (PlaybackFailed, httpx.HTTPError) as exc:
                return str(exc)

    jobs = [(i, k) for i in range(len(topology.regions)) for k in range(per_region)]
    print(
        f"playing with {len(jobs)} headless players ({per_region} per region, {speed:g}x real "
        "time) through the router ...",
        flush=True,
    )
    with ThreadPoolExecutor(max(1, len(jobs))) as pool:
        results = list(pool.map(one, jobs))
    return [(topology.regions[i].name, r) for (i, _), r in zip(jobs, results, strict=True)]


def print_report(cdn: LocalCdn, sessions: list[tuple[str, RoutedSession | str]]) -> None:
    print("\nplayers")
    print(
        f"  {'region':16s} {'POP':14s} {'km':>6s} {'startup':>8s} {'rebuffers':>9s} "
        f"{'stalled':>8s} {'avg kbps':>9s} {'switches':>8s} {'QoE':>6s} {'failed':>6s}"
    )
    for region, session in sessions:
        if isinstance(session, str):
            print(f"  {region:16s} playback failed: {session}")
            continue
        r = session.report.playback
        print(
            f"  {region:16s} {session.pop:14s} {session.distance_km:6.0f} "
            f"{r.startup_s:7.2f}s {r.stalls:9d} {r.stall_s:7.2f}s "
            f"{r.bitrate_bps / 1000:9.0f} {r.switches:8d} {r.qoe:6.2f} "
            f"{session.report.failed_fetches:6d}"
        )
    stats = cdn.stats()
    print("\nPOPs")
    print(
        f"  {'POP':14s} {'tier':6s} {'requests':>8s} {'hit ratio':>9s} {'to upstream':>11s} "
        f"{'MB served':>9s}"
    )
    for name, pop in cdn.pops.items():
        s = stats.get(name) or {}
        served = int(str(s.get("bytes_from_cache", 0))) + int(str(s.get("bytes_from_upstream", 0)))
        print(
            f"  {name:14s} {pop.spec.pop.tier:6s} {s.get('requests', 0)!s:>8s} "
            f"{float(str(s.get('hit_ratio', 0.0))):9.1%} {s.get('upstream_requests', 0)!s:>11s} "
            f"{served / 1e6:9.1f}"
        )
    edges = [n for n, p in cdn.pops.items() if p.spec.pop.tier == "edge"]
    to_origin = [n for n, p in cdn.pops.items() if p.spec.parent is None]
    player_requests = sum(int(str(stats[n].get("requests", 0))) for n in edges)
    player_bytes = sum(
        int(str(stats[n].get("bytes_from_cache", 0)))
        + int(str(stats[n].get("bytes_from_upstream", 0)))
        for n in edges
    )
    origin_requests = sum(int(str(stats[n].get("upstream_requests", 0))) for n in to_origin)
    origin_bytes = sum(int(str(stats[n].get("bytes_from_upstream", 0))) for n in to_origin)
    if player_requests and player_bytes:
        print(
            f"\norigin offload: {1 - origin_requests / player_requests:.1%} of requests "
            f"({origin_requests} of {player_requests} reached the origin), "
            f"{1 - origin_bytes / player_bytes:.1%} of bytes",
            flush=True,
        )
