"""The `mediacdn` subcommands. Each imports what it runs when it runs, so that `mediacdn edge`
does not load the origin, nor `mediacdn serve` the simulator and matplotlib (the app shell is
imported by no package, so these imports hide no circle)."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from pathlib import Path

from origin.settings import Settings, load_settings


def _settings(args: argparse.Namespace) -> Settings:
    """The settings, with the command line's over the environment's and the file's; a
    setting that cannot work stops the command, saying which and why."""
    try:
        return _loaded(args)
    except (ValueError, OSError) as exc:  # a bad value, a TOML error, a missing --config
        raise SystemExit(f"settings: {exc}") from None


def _loaded(args: argparse.Namespace) -> Settings:
    settings = load_settings(config_file=getattr(args, "config", None))
    return settings.with_overrides(
        data_dir=getattr(args, "data_dir", None),
        host=getattr(args, "host", None),
        port=getattr(args, "port", None),
        workers=getattr(args, "workers", None),
        router_url=getattr(args, "router", None),
        playback_keys=getattr(args, "playback_keys", None),
        api_rate=getattr(args, "api_rate", None),
        playback_rate=getattr(args, "playback_rate", None),
    )


def cmd_serve(args: argparse.Namespace) -> int:

    from httprules.listener import serve
    from mediacdn.keys import ensure_api_key
    from origin.app import create_app

    settings, key = ensure_api_key(_settings(args))
    if key and not os.environ.get("MEDIACDN_API_KEYS"):
        print(f"API key (from {settings.data_dir / 'api-key'}): {key}", flush=True)
    try:
        app = create_app(settings)
    except ValueError as exc:  # settings that cannot work, e.g. a broken key ring
        raise SystemExit(str(exc)) from None
    print(f"origin listening on http://{settings.host}:{settings.port}", flush=True)
    serve(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        access_log=args.access_log,
        head_timeout_s=settings.header_timeout_s,
        grace_s=args.grace,
    )
    return 0


def parse_duration(text: str) -> float:
    """`90`, `90s`, `30m`, `24h`, `7d` → seconds."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86_400}
    number, unit = (text[:-1], text[-1]) if text[-1:] in units else (text, "s")
    try:
        seconds = float(number) * units[unit]
    except ValueError:
        raise SystemExit(f"not a duration: {text!r} (e.g. 90s, 30m, 24h)") from None
    if not seconds >= 0:
        raise SystemExit(f"not a duration: {text!r}")
    return seconds


def cmd_janitor(args: argparse.Namespace) -> int:
    from origin.app import open_catalog, open_settings_storage
    from origin.janitor import Janitor

    settings = _settings(args)
    janitor = Janitor(
        open_catalog(settings),
        open_settings_storage(settings),
        settings.data_dir.resolve(),
        parse_duration(args.older_than),
        tus_expiry_s=settings.tus_expiry_s,
    )
    for line in janitor.run(dry_run=args.dry_run).lines():
        print(line)
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
    config = worker_config(settings, storage, catalog)
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
    if args.segment_duration is not None:
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


def _playback_keys(path: Path) -> str | None:
    """The key ring file, checked now so a bad one stops the POP with a clear message."""
    from httprules.playback_tokens import KeyFile

    if path == Path(""):
        return None
    try:
        KeyFile(path)
    except (OSError, ValueError) as exc:
        raise SystemExit(f"playback keys {path}: {exc}") from None
    return str(path)


def cmd_edge(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from edge.pop.config import EdgeConfig
    from edge.pop.serve import parse_size, run_edge
    from httprules.targets import check_base_url

    settings = _settings(args)
    keys = tuple(args.admin_key or ()) or tuple(settings.admin_keys or settings.api_keys)
    if not keys:
        raise SystemExit("the edge needs an admin key: --admin-key or MEDIACDN_ADMIN_KEYS")
    try:
        capacity = parse_size(args.capacity, "--capacity")
        disk_capacity = parse_size(args.disk_capacity, "--disk-capacity")
        free = args.disk_min_free
        min_free = None if free is None else parse_size(free, "--disk-min-free")
        check_base_url("--upstream", args.upstream)
        for router in args.router or ():
            check_base_url("--router", router)
    except ValueError as exc:
        raise SystemExit(str(exc)) from None
    workers = args.workers or (os.cpu_count() or 1 if args.cache_dir is not None else 1)
    if workers < 1:
        raise SystemExit("--workers must be at least 1")
    if workers > 1 and args.cache_dir is None:
        raise SystemExit("--workers above 1 needs --cache-dir: the workers share one cache there")
    cache_dir = None
    if args.cache_dir is not None:
        cache_dir = args.cache_dir.resolve()
        try:
            cache_dir.mkdir(parents=True, exist_ok=True)
            probe = cache_dir / ".writable"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            raise SystemExit(f"--cache-dir: cannot write to {cache_dir}: {exc}") from None
    config = EdgeConfig(
        name=args.name,
        upstream=args.upstream,
        capacity_bytes=capacity,
        cache_dir=str(cache_dir) if cache_dir else None,
        disk_capacity_bytes=disk_capacity,
        disk_min_free_bytes=min_free,
        workers=workers,
        policy=args.policy,
        admin_keys=keys,
        upstream_timeout_s=args.upstream_timeout,
        send_timeout_s=args.send_timeout,
        head_timeout_s=settings.header_timeout_s,
        prefetch_segments=args.prefetch,
        router_urls=tuple(args.router or ()),
        addresses=_addresses(args.address),
        access_log=args.access_log,
        log_format=args.log_format,
        pop_key=_pop_key(args.pop_key_file) if args.router else "",
        lat=args.lat,
        lon=args.lon,
        tier=args.tier,
        max_in_flight=args.max_in_flight,
        max_mbps=args.max_mbps,
        playback_keys=_playback_keys(args.playback_keys or settings.playback_keys),
        rate_per_s=args.rate_limit,
        rate_burst=args.rate_burst,
        rate_exempt=tuple(args.rate_exempt),
        redis_url=settings.redis_url or None,
    )
    if args.admin_port is not None:
        config = replace(
            config,
            admin_host=args.admin_host or args.host or "127.0.0.1",
            admin_port=args.admin_port,
        )
    host = args.host or "127.0.0.1"
    port = args.port or 8081
    tls = _tls_files(args.tls_cert, args.tls_key)
    scheme = "https" if tls else "http"
    config = replace(config, public_url=args.public_url or f"{scheme}://{host}:{port}")
    disk = f", {args.disk_capacity} disk in {cache_dir}, {workers} workers" if cache_dir else ""
    print(
        f"edge {args.name} on {scheme}://{host}:{port} in front of {args.upstream} "
        f"({args.capacity} memory{disk} cache, {args.policy})",
        flush=True,
    )
    run_edge(
        config,
        host=host,
        port=port,
        log_level=settings.log_level,
        grace_s=args.grace,
        tls=tls,
    )
    return 0


def _tls_files(cert: Path | None, key: Path | None) -> tuple[Path, Path] | None:
    """(certificate, key) if both are given and readable; neither: None; else a clear exit."""
    if cert is None and key is None:
        return None
    if cert is None or key is None:
        raise SystemExit("TLS needs both --tls-cert and --tls-key")
    for flag, path in (("--tls-cert", cert), ("--tls-key", key)):
        try:
            text = path.read_text()
        except (OSError, UnicodeDecodeError) as exc:
            raise SystemExit(f"{flag}: cannot read {path}: {exc}") from None
        if "-----BEGIN " not in text:
            raise SystemExit(f"{flag}: {path} is not PEM")
    return cert, key


def _addresses(values: list[str] | None) -> tuple[str, ...]:
    import ipaddress

    try:
        return tuple(str(ipaddress.ip_address(v)) for v in values or ())
    except ValueError as exc:
        raise SystemExit(f"--address: {exc}") from None


def _pop_key(path: Path | None) -> str:
    """The POP's heartbeat key: from --pop-key-file, else MEDIACDN_POP_KEY."""
    try:
        key = path.read_text().strip() if path else os.environ.get("MEDIACDN_POP_KEY", "")
    except OSError as exc:
        raise SystemExit(f"--pop-key-file: {exc}") from None
    if not key:
        raise SystemExit("a POP with --router needs its key: MEDIACDN_POP_KEY or --pop-key-file")
    return key


def cmd_router(args: argparse.Namespace) -> int:

    from edge.router.app import create_router_app
    from edge.router.keys import KeyFileError, load_pop_keys
    from edge.router.registry import PopRegistry
    from edge.router.topology import TopologyError, load_topology
    from httprules.listener import serve
    from httprules.ratelimit import Rate, open_limit

    settings = _settings(args)
    registry = PopRegistry(allow_enrollment=args.allow_enrollment, expire_s=args.forget_after)
    keys: dict[str, str] = {}
    if args.pop_keys:
        try:
            keys = load_pop_keys(args.pop_keys)
        except (OSError, KeyFileError) as exc:
            raise SystemExit(f"--pop-keys: {exc}") from None
    else:
        print("warning: no --pop-keys: every heartbeat is refused", file=sys.stderr)
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
        for spec in topology.pops:
            registry.plan(spec.pop, spec.url)
            if spec.url is None:
                print(f"warning: POP {spec.pop.name} has no url: never routed to", file=sys.stderr)
    from httprules.targets import check_base_url

    try:
        for peer in args.peer or ():
            check_base_url("--peer", peer)
    except ValueError as exc:
        raise SystemExit(str(exc)) from None
    host = args.host or "127.0.0.1"
    port = args.port or 8090
    print(
        f"router on http://{host}:{port} (edges join with --router http://{host}:{port})",
        flush=True,
    )
    dns_zone = None
    if args.dns_zone:
        from edge.router.dns import DnsZone

        try:
            dns_zone = DnsZone(args.dns_zone, ttl_s=args.dns_ttl, nameserver=args.dns_ns)
        except ValueError as exc:
            raise SystemExit(str(exc)) from None
        where = f"{args.dns_host or host}:{args.dns_port}"
        print(f"DNS for {args.dns_zone} on udp and tcp {where}", flush=True)
    app = create_router_app(
        registry=registry,
        zones=zones,
        pop_keys=keys,
        dns_zone=dns_zone,
        dns_address=(args.dns_host or host, args.dns_port),
        peers=tuple(args.peer or ()),
        beat_limiter=open_limit(Rate.per_second(args.beat_rate), "beats"),
    )
    serve(
        app,
        host=host,
        port=port,
        log_level=settings.log_level,
        head_timeout_s=settings.header_timeout_s,
        grace_s=args.grace,
        access_log=args.access_log,
    )
    return 0


def cmd_play(args: argparse.Namespace) -> int:
    import json
    from urllib.parse import urlsplit

    import httpx

    from edge.player.player import HeadlessPlayer, PlaybackFailed
    from edge.player.routed import play_via_router
    from mediacdn.options import latitude, longitude

    if args.router and not args.geo:
        raise SystemExit("--router needs --geo LAT,LON")
    target = urlsplit(args.url)
    if not args.router and (target.scheme not in ("http", "https") or not target.hostname):
        raise SystemExit(f"play: {args.url!r}: give an http:// or https:// URL with a host")
    if args.router and not target.path.startswith("/"):
        raise SystemExit(f"play: {args.url!r}: give the playlist's path (or a URL) to route")
    with httpx.Client(timeout=30) as http:
        player = HeadlessPlayer(http, rule=args.rule, speed=args.speed, duration_s=args.duration)
        try:
            if args.router:
                try:
                    at, on = args.geo.split(",")
                    lat, lon = latitude(at), longitude(on)
                except ValueError:
                    raise SystemExit("--geo must be LAT,LON") from None
                except argparse.ArgumentTypeError as exc:
                    raise SystemExit(f"--geo: {exc}") from None
                session = play_via_router(http, args.router, (lat, lon), target.path, player)
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


def cmd_cache_replay(args: argparse.Namespace) -> int:
    from edge.sim import replay_console

    return replay_console.run(args)


def cmd_simulate(args: argparse.Namespace) -> int:
    from edge.sim import console

    return console.run(args)
