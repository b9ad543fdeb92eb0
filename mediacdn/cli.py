"""The `mediacdn` command line: its arguments, `--help` texts and dispatch to the commands
(mediacdn/commands.py)."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from edge.eviction.policy import DEFAULT_POLICY, POLICIES
from edge.player.abr_controller import DEFAULT_RULE, RULE_HELP, RULES
from edge.sim.arguments import REPLAY_DESCRIPTION, add_replay_arguments
from edge.sim.arguments import add_arguments as add_simulate_arguments
from httprules.logs import FORMATS, configure_logging
from mediacdn.argv import joined_values, valued_options
from mediacdn.commands import (
    cmd_cache_replay,
    cmd_demo,
    cmd_edge,
    cmd_janitor,
    cmd_play,
    cmd_router,
    cmd_serve,
    cmd_simulate,
    cmd_upload,
    cmd_worker,
)
from mediacdn.options import (
    add_common,
    add_grace,
    add_logs,
    add_rate_limit,
    base_url,
    count,
    latitude,
    longitude,
    non_negative,
    port,
    positive,
    positive_count,
    segment_seconds,
)

EPILOG = (
    "Settings come from MEDIACDN_* environment variables (MEDIACDN_DATABASE_URL, "
    "MEDIACDN_STORAGE_URL, MEDIACDN_API_KEYS, ...) and an optional TOML file (--config or "
    "MEDIACDN_CONFIG). See README.md."
)


PRODUCT = """\
An adaptive-streaming platform: an origin, a CDN in front of it, and a simulator of that CDN.

  upload      uploaders send videos to the origin's API (plain, multipart, resumable tus, or
              a one-time URL a browser uses); webhooks say when they are ready
  transcode   workers (ffmpeg) cut each video into 2-10 s fMP4/CMAF segments at several
              bitrates, audio languages and subtitles, into object storage (a directory or
              S3); HLS playlists go to the catalog (SQLite or PostgreSQL)
  serve       the origin serves playlists and segments, signed or public
  live        SRT, RTMP or HTTP PUT in, LL-HLS out through the CDN, kept as a video
  deliver     POPs (`edge`) cache in memory and on disk, in tiers, over HTTP/1.1 or HTTP/2
              with TLS; the `router` sends each player to a POP by distance and load, with
              failover and content steering
  watch       /metrics (Prometheus), JSON logs, access logs and readiness on every process
  measure     `play` plays like a viewer; `simulate` runs the same cache, routing and ABR
              code with many thousands of players; `cache replay` tries every eviction
              policy on your logs

A single machine needs no settings: `mediacdn serve`, then `mediacdn edge` and `mediacdn
router` for a CDN (`mediacdn demo` starts all of it). Each command's --help says more.
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mediacdn",
        description=PRODUCT,
        epilog=EPILOG + " Try it: `make demo`.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser.add_argument(
        "--log-format",
        choices=FORMATS,
        default=os.environ.get("MEDIACDN_LOG_FORMAT", "text"),
        help="text lines, or JSON lines with an ISO 8601 UTC time (MEDIACDN_LOG_FORMAT; "
        "default text)",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = sub.add_parser(
        "serve",
        help="run the origin API and playback with in-process transcode workers",
        description="Run the origin: upload API (plain, multipart, tus), jobs, /vod playback, "
        "/healthz, /metrics, the web pages (/watch/ID, /upload, /dashboard), with an "
        "in-process worker pool (SQLite + local directory by default).",
        epilog=EPILOG,
    )
    add_common(serve, server=True)
    serve.add_argument("--workers", type=count, help="in-process transcode workers (default 1)")
    add_logs(serve, "-")
    add_grace(serve, 10.0, "open dashboards hold an event stream: it is cut after this")
    serve.add_argument(
        "--router",
        help="the CDN router's URL as browsers reach it: player pages play through the CDN and "
        "the dashboard shows its POPs (MEDIACDN_ROUTER_URL)",
    )
    serve.add_argument(
        "--playback-keys",
        type=Path,
        help='TOML key ring for signed playback (signing = "k1", [keys] k1 = "secret"); '
        "re-read when it changes; the same file goes to every POP (MEDIACDN_PLAYBACK_KEYS)",
    )
    serve.add_argument(
        "--api-rate",
        type=non_negative,
        help="writes a second per API key (default 20, 0: off; MEDIACDN_API_RATE, "
        "MEDIACDN_API_BURST); shared through Redis with MEDIACDN_REDIS_URL",
    )
    serve.add_argument(
        "--playback-rate",
        type=non_negative,
        help="playback requests a second per client address (default 0: off; "
        "MEDIACDN_PLAYBACK_RATE, MEDIACDN_PLAYBACK_BURST); CDN fills are not counted",
    )
    serve.set_defaults(func=cmd_serve)

    worker = sub.add_parser(
        "worker",
        help="run transcode workers alone (PostgreSQL + S3 for many hosts)",
        description="Claim transcode jobs from the database and publish results to storage. "
        "Run any number on any number of hosts against PostgreSQL and S3.",
        epilog=EPILOG,
    )
    add_common(worker)
    worker.add_argument(
        "--workers", type=positive_count, help="worker threads in this process (default 1)"
    )
    worker.set_defaults(func=cmd_worker)

    janitor = sub.add_parser(
        "janitor",
        help="remove what interrupted uploads and transcodes left behind",
        description="Remove tus uploads never finished, spool files of cut-off uploads, work "
        "directories of dead transcodes, and objects no video in the catalog owns, once left "
        "alone for --older-than. `serve` runs this every hour (MEDIACDN_JANITOR_INTERVAL_S).",
        epilog=EPILOG,
    )
    add_common(janitor)
    janitor.add_argument("--dry-run", action="store_true", help="report, remove nothing")
    janitor.add_argument(
        "--older-than",
        default="24h",
        help="leave alone what was touched more recently than this (24h, 30m, 90s; default 24h)",
    )
    janitor.set_defaults(func=cmd_janitor)

    upload = sub.add_parser(
        "upload",
        help="upload a video (resumable) and follow its transcode",
        description="Upload FILE with tus (rerun to resume an interrupted upload), then show "
        "the transcode's progress until the video is ready.",
        epilog=EPILOG,
    )
    add_common(upload)
    upload.add_argument("file", type=Path, help="the video file")
    upload.add_argument(
        "--server", type=base_url, default="http://127.0.0.1:8080", help="origin URL"
    )
    upload.add_argument("--api-key", help="API key (default: MEDIACDN_API_KEYS or data dir)")
    upload.add_argument(
        "--audio", action="append", metavar="LANG=FILE", help="an extra audio track (repeatable)"
    )
    upload.add_argument(
        "--subtitles",
        action="append",
        metavar="LANG=FILE",
        help="subtitles: WebVTT, SubRip or ASS/SSA (repeatable)",
    )
    upload.add_argument(
        "--audio-languages", help="languages of the source's audio tracks, in order (e.g. eng,spa)"
    )
    upload.add_argument("--segment-duration", type=segment_seconds, help="segment length, 2-10 s")
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
    add_common(edge, server=True, default_port=8081)
    edge.add_argument(
        "--name",
        required=True,
        help="the POP's name (in Via and stats, and its Surrogate-Capability token upstream: "
        "Surrogate-Control directives targeted at it, max-age=600;NAME, are its own)",
    )
    edge.add_argument("--upstream", required=True, help="origin or parent edge http(s) URL")
    edge.add_argument("--lat", type=latitude, default=0.0, help="latitude (for the router)")
    edge.add_argument("--lon", type=longitude, default=0.0, help="longitude (for the router)")
    edge.add_argument(
        "--capacity", default="512MiB", help="memory tier (hot objects) size (default 512MiB)"
    )
    edge.add_argument(
        "--cache-dir",
        type=Path,
        help="keep a disk tier here: fills stream into it, only complete bodies become "
        "visible, and a restarted POP comes back warm (the index is rebuilt from the files)",
    )
    edge.add_argument(
        "--workers",
        type=positive_count,
        help="worker processes, one cache between them (default: one per core with "
        "--cache-dir, which several workers need; else 1)",
    )
    edge.add_argument(
        "--disk-capacity",
        default="10GiB",
        help="disk tier size with --cache-dir (default 10GiB; e.g. 200GiB)",
    )
    edge.add_argument(
        "--disk-min-free",
        help="free space kept on the cache directory's filesystem: stored responses are shed "
        "to keep it, and a body it has no room for is served without being kept on disk "
        "(default: the smaller of 1GiB and 2%% of the filesystem)",
    )
    edge.add_argument(
        "--policy",
        default=DEFAULT_POLICY,
        choices=POLICIES,
        help=f"eviction policy (default {DEFAULT_POLICY}: popular, switching to S3-FIFO or LRU "
        "where a sampled trial of one misses far fewer bytes, as where popularity moves; popular: "
        "keeps the segments of the most-watched videos, sparing what a viewer behind will ask "
        "for soon, with new objects on a small probation area; guided: S3-FIFO that spares what "
        "a viewer behind will ask for soon; interval: evicts what the viewers behind need last; "
        "s3fifo for traffic that is mostly not video)",
    )
    edge.add_argument(
        "--upstream-timeout",
        type=positive,
        default=10.0,
        help="seconds before an upstream fetch fails with 504 (default 10)",
    )
    edge.add_argument(
        "--send-timeout",
        type=positive,
        default=30.0,
        help="cut a client that takes no part of a response for this many seconds (default 30)",
    )
    edge.add_argument(
        "--prefetch",
        type=count,
        default=0,
        help="on a segment miss, also fetch the next N segments (default 0)",
    )
    edge.add_argument(
        "--admin-key",
        action="append",
        help="admin key (repeatable; default MEDIACDN_ADMIN_KEYS, else MEDIACDN_API_KEYS)",
    )
    edge.add_argument("--admin-host", help="separate address for /admin/ (default --host)")
    edge.add_argument("--admin-port", type=port, help="serve /admin/ on this port only")
    edge.add_argument(
        "--router",
        action="append",
        help="a router to send signed heartbeats to (joins the CDN); repeat for several "
        "routers. The key comes from MEDIACDN_POP_KEY or --pop-key-file",
    )
    add_logs(
        edge,
        "off",
        ": at tens of thousands of hits a second a log line costs more than the hit; "
        "`mediacdn cache replay --format edge` reads the records",
    )
    edge.add_argument(
        "--address",
        action="append",
        help="an IP address clients reach this POP at, for the routers' DNS answers (repeat "
        "for IPv4 and IPv6; default: the public URL's host when it is an address)",
    )
    edge.add_argument(
        "--pop-key-file",
        type=Path,
        help="file holding this POP's heartbeat key (the routers' key file has the same key)",
    )
    edge.add_argument(
        "--public-url",
        help="where clients reach this POP (default http://HOST:PORT, https:// with --tls-cert)",
    )
    edge.add_argument(
        "--tls-cert",
        type=Path,
        help="PEM certificate chain: the listener speaks TLS with HTTP/2 and HTTP/1.1 (ALPN)",
    )
    edge.add_argument("--tls-key", type=Path, help="PEM private key of --tls-cert")
    add_grace(edge, 30.0, "the routers are told at once to send no new players here")
    edge.add_argument(
        "--tier",
        default="edge",
        choices=["edge", "shield"],
        help="edge (serves players) or shield (serves edges)",
    )
    edge.add_argument(
        "--max-in-flight",
        type=positive_count,
        default=1000,
        help="capacity in concurrent requests, for routing (default 1000)",
    )
    edge.add_argument(
        "--max-mbps",
        type=positive,
        default=10_000.0,
        help="capacity in Mbps, for routing (default 10000)",
    )
    edge.add_argument(
        "--playback-keys",
        type=Path,
        help="the origin's playback key ring (TOML): signed videos are served only to requests "
        "with a valid token, verified here; re-read when it changes (MEDIACDN_PLAYBACK_KEYS)",
    )
    add_rate_limit(edge)
    edge.set_defaults(func=cmd_edge)

    router = sub.add_parser(
        "router",
        help="run the router: POP registry (heartbeats), route lookups, redirects",
        description="Edges started with --router URL send heartbeats here, each signed with "
        "the POP's key from --pop-keys; a planned POP (in --topology, with its url) joins at "
        "its planned URL, others only with --allow-enrollment. A POP silent for 3 s leaves "
        "rotation. GET /route?lat=..&lon=..&path=.. answers with "
        "the chosen POP and alternatives; GET /r/<path> redirects (302) using X-Client-Geo: "
        "lat,lon or geo=lat,lon; GET /pops lists the registry.",
        epilog=EPILOG,
    )
    add_common(router, server=True, default_port=8090)
    add_logs(router, "-")
    add_grace(router, 5.0, "a router answers quickly; POPs and players retry another router")
    router.add_argument(
        "--topology",
        type=Path,
        help="TOML topology: POP positions, tiers, capacities and URLs (heartbeats still "
        "decide who is in rotation; a POP is routed to only at its planned url)",
    )
    router.add_argument(
        "--pop-keys",
        type=Path,
        help='TOML file of the POPs\' heartbeat keys: [pops] name = "key" (without it no POP '
        "can join)",
    )
    router.add_argument(
        "--beat-rate",
        type=positive,
        default=10.0,
        help="heartbeats a second taken from one address (twice that in a burst; 10)",
    )
    router.add_argument(
        "--forget-after",
        type=positive,
        default=30.0,
        help="forget a POP silent this many seconds (a planned one is listed as silent; 30)",
    )
    router.add_argument(
        "--peer",
        action="append",
        help="another router of the CDN, as players reach it (repeat): probed, and named in "
        "steering manifests while it answers, so players can reload steering from either",
    )
    router.add_argument(
        "--dns-zone",
        help="answer DNS for this zone (e.g. cdn.example.): A/AAAA with the best POP's "
        "addresses for the resolver's or EDNS Client Subnet's location, NS and SOA at the apex",
    )
    router.add_argument(
        "--dns-port", type=port, default=5353, help="UDP and TCP port for DNS (5353)"
    )
    router.add_argument("--dns-host", help="address for DNS (default --host)")
    router.add_argument("--dns-ttl", type=count, default=20, help="TTL of DNS answers (20 s)")
    router.add_argument("--dns-ns", default="", help="the zone's NS name (default ns.<zone>)")
    router.add_argument(
        "--allow-enrollment",
        action="store_true",
        help="let POPs that have a key but are not in the topology join, at the URL they give",
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
        description="Fetch the master playlist (or a media playlist on its own: one rendition, "
        "its bitrate measured), choose renditions with an ABR rule (MPC, hls.js-style "
        "throughput or BOLA), download segments (relative or absolute URIs, whole or byte "
        "ranges) in real time or --speed times faster, fail over to another POP when a fetch "
        "fails, and print startup time, rebuffering, average bitrate, switches and the mean "
        "per-chunk QoE score. A live stream is played in real time, loaded again as it grows, "
        "until it ends: part by part from PART-HOLD-BACK behind its newest part where it lists "
        "parts (LL-HLS, blocking reloads; further behind, it plays up to 1.2x until it is "
        "back), else from three segments behind its newest; the report says how far behind "
        "the wall clock it played (live_latency_s).",
        epilog=EPILOG,
    )
    play.add_argument("url", help="a master or media playlist's URL")
    play.add_argument(
        "--router",
        action="append",
        help="ask this router which POP to use (repeat: the next is asked if one fails)",
    )
    play.add_argument("--geo", help="the player's location LAT,LON (with --router)")
    play.add_argument(
        "--speed", type=positive, default=1.0, help="play a VOD this many times faster"
    )
    play.add_argument(
        "--duration", type=positive, help="stop after this many seconds of media (default: all)"
    )
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
    add_common(demo, server=True)
    demo.add_argument(
        "--exit-after-ready", action="store_true", help="stop once the video is ready (for scripts)"
    )
    demo.add_argument("--duration", type=positive, default=20.0, help="sample length in seconds")
    demo.set_defaults(func=cmd_demo)

    cache = sub.add_parser(
        "cache",
        help="cache tools: replay request logs through every eviction policy",
        description="Cache tools.",
    )
    cache_sub = cache.add_subparsers(dest="cache_command", required=True, metavar="TOOL")
    replay = cache_sub.add_parser(
        "replay",
        help="how each eviction policy would do on your requests",
        description=REPLAY_DESCRIPTION,
    )
    add_replay_arguments(replay)
    replay.set_defaults(func=cmd_cache_replay)

    simulate = sub.add_parser(
        "simulate",
        help="simulate the CDN at internet scale (SimPy) with the live cache/routing/ABR code",
        description="Run a simulation scenario (a shipped one by name, or a TOML file): "
        "clients in the topology's regions on real bandwidth traces, the router's decisions, "
        "POP caches in tiers with the edge's eviction policy, players with the headless "
        "player's ABR rules. Writes summary.json (per POP and overall hit ratios, origin "
        "egress, peak load; QoE per ABR rule) and PNG plots into --out; --export-trace also "
        "writes each POP's requests in libCacheSim's oracleGeneral format (per POP, "
        "policy_byte_hit_ratio is what `mediacdn cache replay` of it reports).",
        epilog="Scenario keys: see edge/sim/scenario.py or README.md. " + EPILOG,
    )
    add_simulate_arguments(simulate)
    simulate.set_defaults(func=cmd_simulate)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    words = sys.argv[1:] if argv is None else argv
    args = parser.parse_args(joined_values(words, valued_options(parser)))
    try:
        configure_logging(logging.DEBUG if args.verbose else logging.INFO, args.log_format)
    except ValueError as exc:  # from MEDIACDN_LOG_FORMAT
        raise SystemExit(str(exc)) from None
    if not args.verbose:  # one line per HTTP request would break the progress bars
        logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        return int(args.func(args))
    except BrokenPipeError:  # `mediacdn ... | head`: the reader has all it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), 1)  # stdout: no error when flushed at exit
        return 0
    except KeyboardInterrupt:  # Ctrl-C in a long command (a replay, an upload): no traceback
        command = " ".join(filter(None, (args.command, getattr(args, "cache_command", ""))))
        print(f"\nmediacdn {command}: interrupted", file=sys.stderr)
        return 130  # as a shell reports a command SIGINT ended
