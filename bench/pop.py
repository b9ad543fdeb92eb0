"""POP benchmark: cache hits from our POP against nginx `proxy_cache` and Varnish (`malloc`), all
three in front of the same origin, measured by the same wrk in the same run, with the same
number of workers: 1, then 2.
Hits from memory (segment ~2 MiB, playlist ~1 KB), and segment hits from disk (our memory tier
too small to hold a segment; nginx's proxy_cache always serves from its disk cache).

`--pin` also holds each server to as many cores as it has workers (taskset), and wrk to
another core where one is left.

Playlist hits are measured twice: with wrk's own minimal head, and with the head a browser
playing through hls.js sends (`BROWSER_HEAD`: user agent, client hints, CORS, fetch metadata,
accepted encodings and languages; about 600 bytes).

A second POP like the first (`memory-again`) is measured in the same rounds on segments and
on playlists: its ratio to the first is the noise floor of this machine, the spread two
identical servers show.

Targets, at 1 and at 2 workers: segment hits >= 1.2x nginx proxy_cache and >= 1.0x Varnish;
playlist hits >= 1.0x nginx proxy_cache and >= 0.8x Varnish; segment hits from disk >= 0.9x
nginx proxy_cache.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    WrkResult,
    machine,
    median,
    nginx_conf,
    require_tools,
    serving_arguments,
    serving_setup,
    start_mediacdn_server,
    wrk,
)
from tests.support.servers import free_port, stop_process, wait_until

NGINX_PROXY_CACHE = """
    proxy_cache_path {prefix}/nginx-cache levels=1:2 keys_zone=pop:16m max_size=2g inactive=1h;
    upstream origin {{ server {origin}; keepalive 32; }}
    server {{
        listen 127.0.0.1:{port} reuseport;
        location / {{
            proxy_pass http://origin;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_cache pop;
            proxy_cache_lock on;
            add_header X-Cache-Status $upstream_cache_status;
        }}
    }}
"""


# what Chromium sends with an hls.js playlist request from a page on another origin
BROWSER_HEAD = (
    "Connection: keep-alive",
    'sec-ch-ua-platform: "Linux"',
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36",
    'sec-ch-ua: "Chromium";v="131", "Not_A Brand";v="24"',
    "sec-ch-ua-mobile: ?0",
    "Accept: */*",
    "Origin: https://player.example",
    "Sec-Fetch-Site: cross-site",
    "Sec-Fetch-Mode: cors",
    "Sec-Fetch-Dest: empty",
    "Referer: https://player.example/",
    "Accept-Encoding: gzip, deflate, br, zstd",
    "Accept-Language: en-US,en;q=0.9",
)

PIN = "--pin" in sys.argv  # each server on as many cores as it has workers


def pinned(cores: int) -> list[str]:
    """taskset prefix (with --pin): the first `cores` CPUs."""
    return ["taskset", "-c", ",".join(str(c) for c in range(cores))] if PIN else []


def start_nginx_proxy_cache(
    root: Path, port: int, origin: str, workers: int
) -> subprocess.Popen[bytes]:
    conf = root / f"nginx-pc-{workers}.conf"
    host_port = origin.removeprefix("http://")
    http = NGINX_PROXY_CACHE.format(prefix=root, port=port, origin=host_port)
    conf.write_text(nginx_conf(f"nginx-pc-{workers}", root, workers, http))
    (root / "nginx-cache").mkdir(exist_ok=True)
    return subprocess.Popen(
        [*pinned(workers), "nginx", "-c", str(conf), "-p", str(root)], start_new_session=True
    )


def start_varnish(root: Path, port: int, origin: str, workers: int) -> subprocess.Popen[bytes]:
    work = root / f"varnish-{workers}"
    shutil.rmtree(work, ignore_errors=True)
    argv = ["varnishd", "-F", "-a", f"127.0.0.1:{port}", "-b", origin.removeprefix("http://")]
    argv += ["-s", "malloc,1G", "-n", str(work), "-p", f"thread_pools={workers}"]
    with (root / f"varnish-{workers}.log").open("wb") as log:
        return subprocess.Popen(
            [*pinned(workers), *argv], stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )


def start_pop(
    root: Path, port: int, origin: str, workers: int, capacity: str, name: str
) -> subprocess.Popen[bytes]:
    cache = root / f"pop-cache-{name}"
    shutil.rmtree(cache, ignore_errors=True)
    argv = ["edge", "--name", name, "--upstream", origin, "--port", str(port)]
    argv += ["--capacity", capacity, "--cache-dir", str(cache), "--workers", str(workers)]
    argv += ["--admin-key", "bench"]
    # on the same cores as the anchors (its workers inherit them)
    return start_mediacdn_server(root, argv, log=f"{name}.log", prefix=tuple(pinned(workers)))


def warm(url: str, paths: list[str], is_hit: Callable[[httpx.Response], bool]) -> None:
    """Ask for each path until the answers are hits (every worker's, for ours)."""
    wait_until(lambda: httpx.get(url + "/healthz").status_code < 500, 60, url)
    for path in paths:
        wait_until(
            lambda p=path: is_hit(httpx.get(url + p, headers={"connection": "close"})),
            30,
            f"{url}{path} a hit",
        )
        for _ in range(8):  # new connections reach every worker
            httpx.get(url + path, headers={"connection": "close"})


def main() -> int:
    if PIN:
        sys.argv.remove("--pin")
    args = serving_arguments(__doc__)
    if not require_tools("nginx", "wrk", "varnishd", "taskset"):
        return 2
    cores = os.cpu_count() or 1
    table: list[str] = []
    with serving_setup("bench-pop-", args.segment_bytes) as setup:
        paths = [setup.playlist, setup.segment]
        for workers in (1, 2):
            if workers > cores:
                break
            ports = {k: free_port() for k in ("memory", "memory-again", "disk", "nginx", "varnish")}
            url = {k: f"http://127.0.0.1:{p}" for k, p in ports.items()}
            # ours: memory hits, disk hits (a memory tier too small for a segment), and a
            # second memory POP like the first, the noise floor
            ours = {
                "memory": ("1GiB", "mem"),
                "disk": ("256KiB", "disk"),
                "memory-again": ("1GiB", "again"),
            }
            procs = [
                start_pop(setup.root, ports[k], setup.origin_url, workers, cap, f"{n}{workers}")
                for k, (cap, n) in ours.items()
            ]
            procs += [
                start_nginx_proxy_cache(setup.root, ports["nginx"], setup.origin_url, workers),
                start_varnish(setup.root, ports["varnish"], setup.origin_url, workers),
            ]
            try:
                for k in ours:
                    warm(url[k], paths, lambda r: r.headers.get("x-cache") == "HIT")
                warm(url["nginx"], paths, lambda r: r.headers.get("x-cache-status") == "HIT")
                warm(
                    url["varnish"],
                    paths,
                    lambda r: (
                        int(r.headers.get("age", "0")) >= 0
                        and len(r.headers.get("x-varnish", "").split()) == 2
                    ),
                )
                stats = httpx.get(url["disk"] + "/stats").json()
                assert stats["cache_used_bytes"] < args.segment_bytes, "segments from disk"
                runs: dict[str, list[WrkResult]] = {}
                # wrk on a core of its own when there is one left
                load = ("taskset", "-c", str(cores - 1)) if PIN and workers < cores else ()
                for i in range(args.repeat):
                    for name in ("memory", "nginx", "varnish", "disk", "memory-again"):
                        for kind, path, head in (
                            ("playlist", setup.playlist, ()),
                            ("browser", setup.playlist, BROWSER_HEAD),
                            ("segment", setup.segment, ()),
                        ):
                            if name == "disk" and kind != "segment":
                                continue
                            result = wrk(
                                url[name] + path, args.seconds, args.connections, load, head
                            )
                            runs.setdefault(f"{name}-{kind}", []).append(result)
                            time.sleep(0.5)
                    print(f"workers {workers}: run {i + 1} of {args.repeat} done", flush=True)

                seg = {
                    k: median([r.bytes_per_s for r in runs[f"{k}-segment"]]) / 2**20
                    for k in ("memory", "nginx", "varnish", "disk", "memory-again")
                }
                pl, browser = (
                    {
                        k: median([r.requests_per_s for r in runs[f"{k}-{kind}"]])
                        for k in ("memory", "nginx", "varnish", "memory-again")
                    }
                    for kind in ("playlist", "browser")
                )
                print(
                    f"workers {workers}: segment MiB/s {seg}, playlist req/s {pl}, "
                    f"with a browser's head {browser}",
                    flush=True,
                )
                for series, results in runs.items():  # every run, to see what a median hides
                    rates = [
                        r.bytes_per_s / 2**20 if series.endswith("segment") else r.requests_per_s
                        for r in results
                    ]
                    print(f"workers {workers}: {series} runs {[round(x) for x in rates]}")
                table += [
                    f"| {workers} | segment hits, memory (MiB/s) | {seg['memory']:.0f} | "
                    f"{seg['nginx']:.0f} | {seg['varnish']:.0f} | "
                    f"{seg['memory'] / seg['nginx']:.2f}x (>= 1.2) | "
                    f"{seg['memory'] / seg['varnish']:.2f}x (>= 1.0) |",
                    f"| {workers} | playlist hits (req/s) | {pl['memory']:.0f} | "
                    f"{pl['nginx']:.0f} | {pl['varnish']:.0f} | "
                    f"{pl['memory'] / pl['nginx']:.2f}x (>= 1.0) | "
                    f"{pl['memory'] / pl['varnish']:.2f}x (>= 0.8) |",
                    f"| {workers} | playlist hits, a browser's head (req/s) | "
                    f"{browser['memory']:.0f} | {browser['nginx']:.0f} | "
                    f"{browser['varnish']:.0f} | "
                    f"{browser['memory'] / browser['nginx']:.2f}x (>= 1.0) | "
                    f"{browser['memory'] / browser['varnish']:.2f}x (>= 0.8) |",
                    f"| {workers} | segment hits, disk (MiB/s) | {seg['disk']:.0f} | "
                    f"{seg['nginx']:.0f} | – | {seg['disk'] / seg['nginx']:.2f}x (>= 0.9) | – |",
                ]
                table += [
                    f"| {workers} | noise floor: a second POP like ours, {what} | "
                    f"{rate['memory-again']:.0f} | – | – | "
                    f"{rate['memory-again'] / rate['memory']:.2f}x ours | – |"
                    for what, rate in (("segments (MiB/s)", seg), ("playlists (req/s)", pl))
                ]
            finally:
                for proc in procs:
                    stop_process(proc)
    print()
    print(
        f"machine: {machine()}; wrk -t1 -c{args.connections} -d{args.seconds}s; medians of "
        f"{args.repeat}; segment {args.segment_bytes} B, playlist ~1 KB; "
        + (
            "each server on the first N cores (taskset), wrk on the last core when N is less"
            if PIN
            else "N workers each (nginx worker_processes, Varnish thread_pools), unpinned"
        )
    )
    print(
        "| workers | what | ours | nginx proxy_cache | Varnish malloc | ours/nginx | ours/Varnish |"
    )
    print("|---|---|---|---|---|---|---|")
    print("\n".join(table))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
