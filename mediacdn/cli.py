"""The `mediacdn` command line. Each subcommand imports what it runs when it runs, so that
`mediacdn edge` does not load the origin, nor `mediacdn serve` the simulator and matplotlib
(the app shell is imported by no package, so these imports hide no circle)."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from pathlib import Path

from edge.player.abr_controller import DEFAULT_RULE, RULE_HELP, RULES
from origin.settings import Settings, load_settings

EPILOG = (
    "Settings come from MEDIACDN_* environment variables (MEDIACDN_DATABASE_URL, "
    "MEDIACDN_STORAGE_URL, MEDIACDN_API_KEYS, ...) and an optional TOML file (--config or "
    "MEDIACDN_CONFIG). See README.md."
)


def _settings(args: argparse.Namespace) -> Settings:
    settings = load_settings(config_file=getattr(args, "config", None))
    return settings.with_overrides(
        data_dir=getattr(args, "data_dir", None),
        host=getattr(args, "host", None),
        port=getattr(args, "port", None),
        workers=getattr(args, "workers", None),
        router_url=getattr(args, "router", None),
    )


def _common(parser: argparse.ArgumentParser, *, server: bool = False) -> None:
    parser.add_argument("--config", type=Path, help="TOML settings file")
    parser.add_argument(
        "--data-dir", type=Path, help="where the embedded defaults keep files (default ./data)"
    )
    if server:
        parser.add_argument("--host", help="address to listen on (default 127.0.0.1)")
        parser.add_argument("--port", type=int, help="port to listen on (default 8080)")


SHUTDOWN_GRACE_S = 10


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from mediacdn.keys import ensure_api_key
    from origin.app import create_app

    settings, key = ensure_api_key(_settings(args))
    if key and not os.environ.get("MEDIACDN_API_KEYS"):
        print(f"API key (from {settings.data_dir / 'api-key'}): {key}", flush=True)
    app = create_app(settings)
    print(f"origin listening on http://{settings.host}:{settings.port}", flush=True)
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        access_log=args.access_log,
        lifespan="on",
        # Open dashboards hold an event stream forever: cut what is still open after this.
        timeout_graceful_shutdown=SHUTDOWN_GRACE_S,
    )
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from origin.app import open_catalog, open_settings_storage, worker_config
    from transcoder.worker import TranscodeWorker

    settings = _settings(args)
    catalog = open_catalog(settings)
    storage = open_settings_storage(settings)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    config = worker_config(settings, storage)
    threads = [
        threading.Thread(target=TranscodeWorker(catalog, storage, config).run, args=(stop,))
        for _ in range(settings.workers)
    ]
    print(
        f"{len(threads)} worker(s) on {settings.resolved_database_url.split('@')[-1]}", flush=True
    )
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        for t in threads:
            t.join(timeout=0.5)
    return 0


def _pairs(values: list[str] | None, flag: str) -> dict[str, Path]:
    out: dict[str, Path] = {}
    for value in values or []:
        lang, sep, path = value.partition("=")
        if not sep or not lang or not path:
            raise SystemExit(f"{flag} takes LANG=FILE, got {value!r}")
        if not Path(path).is_file():
            raise SystemExit(f"{flag}: no such file {path!r}")
        out[lang] = Path(path)
    return out


def cmd_upload(args: argparse.Namespace) -> int:
    from mediacdn.keys import read_api_key
    from mediacdn.upload_client import UploadFailed, upload_video

    settings = _settings(args)
    key = args.api_key or (settings.api_keys[0] if settings.api_keys else None)
    key = key or read_api_key(settings.data_dir)
    if not key:
        raise SystemExit("no API key: pass --api-key or set MEDIACDN_API_KEYS")
    if not args.file.is_file():
        raise SystemExit(f"no such file: {args.file}")
    options = {}
    if args.segment_duration:
        options["segment_duration"] = str(args.segment_duration)
    if args.audio_languages:
        options["audio_languages"] = args.audio_languages
    if args.title:
        options["title"] = args.title
    try:
        result = upload_video(
            args.server,
            args.file,
            key,
            audio=_pairs(args.audio, "--audio"),
            subtitles=_pairs(args.subtitles, "--subtitles"),
            options=options,
            wait=not args.no_wait,
        )
    except UploadFailed as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    status = result.status
    if status.get("status") == "failed":
        error = status.get("error") or {}
        print(
            f"video {result.video_id} failed: {error.get('code')}: {error.get('message')}",
            file=sys.stderr,
        )
        return 1
    print(f"video {result.video_id}: {status.get('status')}")
    print(f"playback: {args.server.rstrip('/')}/vod/{result.video_id}/master.m3u8")
    return 0


def cmd_edge(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from edge.pop.config import EdgeConfig
    from edge.pop.serve import parse_size, run_edge

    settings = _settings(args)
    keys = tuple(args.admin_key or ()) or tuple(settings.admin_keys or settings.api_keys)
    if not keys:
        raise SystemExit("the edge needs an admin key: --admin-key or MEDIACDN_ADMIN_KEYS")
    try:
        capacity = parse_size(args.capacity)
    except ValueError as exc:
        raise SystemExit(str(exc)) from None
    config = EdgeConfig(
        name=args.name,
        upstream=args.upstream,
        capacity_bytes=capacity,
        policy=args.policy,
        admin_keys=keys,
        upstream_timeout_s=args.upstream_timeout,
        prefetch_segments=args.prefetch,
        router_url=args.router,
        lat=args.lat,
        lon=args.lon,
        tier=args.tier,
        max_in_flight=args.max_in_flight,
        max_mbps=args.max_mbps,
    )
    if args.admin_port is not None:
        config = replace(
            config,
            admin_host=args.admin_host or args.host or "127.0.0.1",
            admin_port=args.admin_port,
        )
    host = args.host or "127.0.0.1"
    port = args.port or 8081
    config = replace(config, public_url=args.public_url or f"http://{host}:{port}")
    print(
        f"edge {args.name} on http://{host}:{port} in front of {args.upstream} "
        f"({args.capacity} cache, {args.policy})",
        flush=True,
    )
    run_edge(config, host=host, port=port, log_level=settings.log_level)
    return 0


def cmd_router(args: argparse.Namespace) -> int:
    import uvicorn

    from edge.router.app import create_router_app
    from edge.router.registry import PopRegistry
    from edge.router.topology import TopologyError, load_topology

    settings = _settings(args)
    registry = PopRegistry()
    zones = None
    if args.coverage_zone:
        from edge.router.coverage import CoverageZoneError, CoverageZones

        try:
            zones = CoverageZones.load(args.coverage_zone)
        except (OSError, CoverageZoneError) as exc:
            raise SystemExit(f"coverage zone file: {exc}") from None
    if args.topology:
        try:
            topology = load_topology(args.topology)
        except (OSError, TopologyError) as exc:
            raise SystemExit(f"topology: {exc}") from None
        registry.known.update({s.pop.name: s.pop for s in topology.pops})
    host = args.host or "127.0.0.1"
    port = args.port or 8090
    print(
        f"router on http://{host}:{port} (edges join with --router http://{host}:{port})",
        flush=True,
    )
    uvicorn.run(
        create_router_app(registry=registry, zones=zones),
        host=host,
        port=port,
        log_level=settings.log_level,
        access_log=False,
    )
    return 0


def cmd_play(args: argparse.Namespace) -> int:
    import json
    from urllib.parse import urlsplit

    import httpx

    from edge.player.player import HeadlessPlayer, PlaybackFailed, play_via_router

    if args.router and not args.geo:
        raise SystemExit("--router needs --geo LAT,LON")
    with httpx.Client(timeout=30) as http:
        player = HeadlessPlayer(http, rule=args.rule, speed=args.speed)
        try:
            if args.router:
                try:
                    lat, lon = (float(x) for x in args.geo.split(","))
                except ValueError:
                    raise SystemExit("--geo must be LAT,LON") from None
                session = play_via_router(
                    http, args.router, (lat, lon), urlsplit(args.url).path, player
                )
                print(f"router chose {session.pop} ({session.distance_km} km)", flush=True)
                report = session.report
            else:
                report = player.play(args.url)
        except PlaybackFailed as exc:
            print(f"playback failed: {exc}", file=sys.stderr)
            return 1
    print(json.dumps(report.as_dict(), indent=2))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from mediacdn.demo import run_demo

    return run_demo(
        _settings(args), exit_after_ready=args.exit_after_ready, duration_s=args.duration
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mediacdn",
        description="Adaptive-streaming origin: upload, transcode to HLS (fMP4/CMAF), serve.",
        epilog=EPILOG,
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = sub.add_parser(
        "serve",
        help="run the origin API and playback with in-process transcode workers",
        description="Run the origin: upload API (plain, multipart, tus), jobs, /vod playback, "
        "/healthz, /metrics, the web pages (/watch/ID, /upload, /dashboard), with an "
        "in-process worker pool (SQLite + local directory by default).",
        epilog=EPILOG,
    )
    _common(serve, server=True)
    serve.add_argument("--workers", type=int, help="in-process transcode workers (default 1)")
    serve.add_argument("--access-log", action="store_true", help="log every request")
    serve.add_argument(
        "--router",
        help="the CDN router's URL as browsers reach it: player pages play through the CDN and "
        "the dashboard shows its POPs (MEDIACDN_ROUTER_URL)",
    )
    serve.set_defaults(func=cmd_serve)

    worker = sub.add_parser(
        "worker",
        help="run transcode workers alone (PostgreSQL + S3 for many hosts)",
        description="Claim transcode jobs from the database and publish results to storage. "
        "Run any number on any number of hosts against PostgreSQL and S3.",
        epilog=EPILOG,
    )
    _common(worker)
    worker.add_argument("--workers", type=int, help="worker threads in this process (default 1)")
    worker.set_defaults(func=cmd_worker)

    upload = sub.add_parser(
        "upload",
        help="upload a video (resumable) and follow its transcode",
        description="Upload FILE with tus (rerun to resume an interrupted upload), then show "
        "the transcode's progress until the video is ready.",
        epilog=EPILOG,
    )
    _common(upload)
    upload.add_argument("file", type=Path, help="the video file")
    upload.add_argument("--server", default="http://127.0.0.1:8080", help="origin URL")
    upload.add_argument("--api-key", help="API key (default: MEDIACDN_API_KEYS or data dir)")
    upload.add_argument(
        "--audio", action="append", metavar="LANG=FILE", help="an extra audio track (repeatable)"
    )
    upload.add_argument(
        "--subtitles", action="append", metavar="LANG=FILE", help="WebVTT subtitles (repeatable)"
    )
    upload.add_argument(
        "--audio-languages", help="languages of the source's audio tracks, in order (e.g. eng,spa)"
    )
    upload.add_argument("--segment-duration", type=float, help="segment length, 2-10 s")
    upload.add_argument("--title", help="a title for the video")
    upload.add_argument("--no-wait", action="store_true", help="do not wait for the transcode")
    upload.set_defaults(func=cmd_upload)

    edge = sub.add_parser(
        "edge",
        help="run an edge cache node (CDN POP) in front of an origin or parent edge",
        description="A shared HTTP cache and reverse proxy (RFC 9111) for any path of its "
        "upstream: request collapsing, stale-while-revalidate/stale-if-error, purge and push. "
        "/healthz, /metrics and /stats are the edge's own; admin endpoints live under /admin/ "
        "(or on --admin-port).",
        epilog=EPILOG,
    )
    _common(edge, server=True)
    edge.add_argument("--name", required=True, help="the POP's name (in Via and stats)")
    edge.add_argument("--upstream", required=True, help="origin or parent edge URL")
    edge.add_argument("--lat", type=float, default=0.0, help="latitude (for the router)")
    edge.add_argument("--lon", type=float, default=0.0, help="longitude (for the router)")
    edge.add_argument("--capacity", default="512MiB", help="memory cache size (default 512MiB)")
    edge.add_argument(
        "--policy",
        default="interval",
        choices=["interval", "s3fifo", "sieve", "lru", "fifo"],
        help="eviction policy (default interval: interval caching for video)",
    )
    edge.add_argument(
        "--upstream-timeout",
        type=float,
        default=10.0,
        help="seconds before an upstream fetch fails with 504 (default 10)",
    )
    edge.add_argument(
        "--prefetch",
        type=int,
        default=0,
        help="on a segment miss, also fetch the next N segments (default 0)",
    )
    edge.add_argument(
        "--admin-key",
        action="append",
        help="admin key (repeatable; default MEDIACDN_ADMIN_KEYS, else MEDIACDN_API_KEYS)",
    )
    edge.add_argument("--admin-host", help="separate address for /admin/ (default --host)")
    edge.add_argument("--admin-port", type=int, help="serve /admin/ on this port only")
    edge.add_argument("--router", help="router URL to send heartbeats to (joins the CDN)")
    edge.add_argument(
        "--public-url", help="where clients reach this POP (default http://HOST:PORT)"
    )
    edge.add_argument(
        "--tier",
        default="edge",
        choices=["edge", "shield"],
        help="edge (serves players) or shield (serves edges)",
    )
    edge.add_argument(
        "--max-in-flight",
        type=int,
        default=1000,
        help="capacity in concurrent requests, for routing (default 1000)",
    )
    edge.add_argument(
        "--max-mbps",
        type=float,
        default=10_000.0,
        help="capacity in Mbps, for routing (default 10000)",
    )
    edge.set_defaults(func=cmd_edge)

    router = sub.add_parser(
        "router",
        help="run the router: POP registry (heartbeats), route lookups, redirects",
        description="Edges started with --router URL send heartbeats here and join the CDN; "
        "a POP silent for 3 s leaves rotation. GET /route?lat=..&lon=..&path=.. answers with "
        "the chosen POP and alternatives; GET /r/<path> redirects (302) using X-Client-Geo: "
        "lat,lon or geo=lat,lon; GET /pops lists the registry.",
        epilog=EPILOG,
    )
    _common(router, server=True)
    router.add_argument(
        "--topology",
        type=Path,
        help="TOML topology: POP positions, tiers and "
        "capacities (heartbeats still decide who is in rotation)",
    )
    router.add_argument(
        "--coverage-zone",
        type=Path,
        help="JSON coverage zone file (Traffic Control's format): client IP prefixes → "
        "location, for clients that send no location",
    )
    router.set_defaults(func=cmd_router)

    play = sub.add_parser(
        "play",
        help="play a video headlessly and report quality of experience",
        description="Fetch the master playlist, choose renditions with an ABR rule (hls.js-style "
        "throughput or BOLA), download segments in real time or --speed times faster, fail "
        "over to another POP when a fetch fails, and print startup time, rebuffering, average "
        "bitrate, switches and the mean per-chunk QoE score.",
        epilog=EPILOG,
    )
    play.add_argument("url", help="master playlist URL")
    play.add_argument("--router", help="ask this router which POP to use")
    play.add_argument("--geo", help="the player's location LAT,LON (with --router)")
    play.add_argument("--speed", type=float, default=1.0, help="play this many times faster")
    play.add_argument(
        "--rule",
        default=DEFAULT_RULE,
        choices=RULES,
        help=f"ABR rule (default {DEFAULT_RULE}). {RULE_HELP}",
    )
    play.set_defaults(func=cmd_play)

    demo = sub.add_parser(
        "demo",
        help="start an origin, upload a generated sample and serve it",
        description="Start `mediacdn serve` on 127.0.0.1, generate a 1080p sample with two "
        "audio languages and two subtitle languages, upload it, wait until it is ready, print "
        "how to play it, and serve until Ctrl-C.",
        epilog=EPILOG,
    )
    _common(demo, server=True)
    demo.add_argument(
        "--exit-after-ready", action="store_true", help="stop once the video is ready (for scripts)"
    )
    demo.add_argument("--duration", type=float, default=20.0, help="sample length in seconds")
    demo.set_defaults(func=cmd_demo)

    from edge.sim import console

    simulate = sub.add_parser(
        "simulate",
        help="simulate the CDN at internet scale (SimPy) with the live cache/routing/ABR code",
        description="Run a simulation scenario (a shipped one by name, or a TOML file): "
        "clients in the topology's regions on real bandwidth traces, the router's decisions, "
        "POP caches in tiers with the edge's eviction policy, players with the headless "
        "player's ABR rules. Writes summary.json (per POP and overall hit ratios, origin "
        "egress, peak load; QoE per ABR rule) and PNG plots into --out; --export-trace also "
        "writes each edge's requests in libCacheSim's oracleGeneral format.",
        epilog="Scenario keys: see edge/sim/scenario.py or README.md. " + EPILOG,
    )
    console.add_arguments(simulate)
    simulate.set_defaults(func=console.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not args.verbose:  # one line per HTTP request would break the progress bars
        logging.getLogger("httpx").setLevel(logging.WARNING)
    result: int = args.func(args)
    return result
