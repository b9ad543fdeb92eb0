"""Helpers shared by the benchmarks: timing with child CPU, medians, machine description."""

from __future__ import annotations

import contextlib
import os
import platform
import re
import resource
import statistics
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from manifests.catalog import Catalog
from manifests.db import SqliteDatabase
from manifests.records import NewVideo, Publication, Rendition, StoredObject
from storage.local import LocalStorage

VIDEO = "benchvideo000001"
SEGMENTS = 20


def publish_fixture(data_dir: Path, segment_bytes: int) -> tuple[str, str]:
    """A published video with 2 MB segments; returns (playlist path, segment path)."""
    catalog = Catalog(SqliteDatabase(data_dir / "catalog.db"))
    catalog.create_schema()
    storage = LocalStorage(data_dir / "objects")
    source = storage.put_bytes(f"uploads/{VIDEO}/source", b"x")
    catalog.create_video(NewVideo(VIDEO, source.key, 1, 4.0))
    job = catalog.claim_job("bench", 60)
    assert job is not None
    objects = []
    lines = [
        "#EXTM3U",
        "#EXT-X-VERSION:7",
        "#EXT-X-TARGETDURATION:4",
        "#EXT-X-PLAYLIST-TYPE:VOD",
        '#EXT-X-MAP:URI="init.mp4"',
    ]
    for n in range(SEGMENTS):
        info = storage.put_bytes(f"videos/{VIDEO}/720p/{n}.m4s", os.urandom(segment_bytes))
        assert info.sha256
        objects.append(
            StoredObject("720p", f"{n}.m4s", info.key, info.size_bytes, info.sha256, 4.0)
        )
        lines += ["#EXTINF:4.0,", f"{n}.m4s"]
    lines.append("#EXT-X-ENDLIST")
    playlist = "\n".join(lines) + "\n"
    playlist = playlist + "#" * max(0, 1024 - len(playlist)) + "\n"  # about 1 KB
    # nginx serves the same bytes from the same directory.
    (data_dir / "objects" / "videos" / VIDEO / "720p" / "index.m3u8").write_text(playlist)
    catalog.publish(
        job.id,
        "bench",
        Publication(
            renditions=(Rendition("720p", "video", 1, 1),),
            objects=tuple(objects),
            playlists={"master.m3u8": playlist, "720p/index.m3u8": playlist},
        ),
    )
    return f"/vod/{VIDEO}/720p/index.m3u8", f"/vod/{VIDEO}/720p/3.m4s"


def nginx_conf(name: str, prefix: Path, workers: int, http: str) -> str:
    """An nginx.conf for the benchmarks: `workers` processes, no access log, sendfile, and the
    `http` block's own directives and servers."""
    return (
        f"worker_processes {workers};\ndaemon off;\nuser root;\npid {prefix}/{name}.pid;\n"
        f"error_log {prefix}/{name}-error.log;\nevents {{ worker_connections 4096; }}\n"
        "http {\n    access_log off;\n    sendfile on;\n    tcp_nopush on;\n"
        f"    keepalive_requests 100000;\n{http}}}\n"
    )


NGINX_STATIC = """
    types {{ application/vnd.apple.mpegurl m3u8; video/iso.segment m4s; video/mp4 mp4; }}
    server {{
        listen 127.0.0.1:{port};
        root {root};
        location / {{ add_header Cache-Control "public, max-age=31536000, immutable"; }}
    }}
"""


def start_nginx(prefix: Path, port: int, root: Path) -> subprocess.Popen[bytes]:
    """Debian's nginx, one worker, serving `root` on 127.0.0.1:port."""
    conf = prefix / "nginx.conf"
    conf.write_text(nginx_conf("nginx", prefix, 1, NGINX_STATIC.format(port=port, root=root)))
    return subprocess.Popen(["nginx", "-c", str(conf), "-p", str(prefix)], start_new_session=True)


def start_mediacdn_server(
    data_dir: Path, argv: list[str], log: str = "serve.log", prefix: tuple[str, ...] = ()
) -> subprocess.Popen[bytes]:
    """`mediacdn ARGV` (after `prefix`, e.g. taskset) logging to `data_dir/log`."""
    import sys

    env = {**os.environ, "MEDIACDN_API_KEYS": "bench", "MEDIACDN_WORKERS": "0"}
    command = [sys.executable, "-m", "mediacdn", argv[0], "--data-dir", str(data_dir), *argv[1:]]
    with (data_dir / log).open("wb") as out:
        return subprocess.Popen(
            [*prefix, *command],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def compare_with_nginx(
    label: str,
    ours: str,
    nginx: str,
    playlist_path: str,
    segment_path: str,
    *,
    seconds: int,
    repeat: int,
    connections: int,
    segment_bytes: int,
    goals: dict[str, float],
) -> dict[str, float]:
    """Alternate wrk runs against both servers; print medians and ratios to nginx."""
    import time

    import httpx

    from tests.support.servers import wait_until

    nginx_playlist = nginx + playlist_path.replace("/vod/", "/videos/")
    nginx_segment = nginx + segment_path.replace("/vod/", "/videos/")
    wait_until(lambda: httpx.get(ours + "/healthz").status_code == 200, 60, label)
    wait_until(lambda: httpx.get(nginx_segment).status_code == 200, 30, "nginx")
    assert httpx.get(ours + segment_path).content == httpx.get(nginx_segment).content
    assert httpx.get(ours + playlist_path).content == httpx.get(nginx_playlist).content
    runs: dict[str, list[WrkResult]] = {
        k: [] for k in ("ours-playlist", "nginx-playlist", "ours-segment", "nginx-segment")
    }
    for i in range(repeat):
        for name, pl, seg in (
            ("ours", ours + playlist_path, ours + segment_path),
            ("nginx", nginx_playlist, nginx_segment),
        ):
            p = wrk(pl, seconds, connections)
            s = wrk(seg, seconds, connections)
            runs[f"{name}-playlist"].append(p)
            runs[f"{name}-segment"].append(s)
            print(
                f"run {i + 1} {name:5s} playlist {p.requests_per_s:8.0f} req/s "
                f"(p50 {p.p50_ms:.2f} ms, p99 {p.p99_ms:.2f} ms)   segment "
                f"{s.bytes_per_s / 2**20:6.0f} MiB/s (p50 {s.p50_ms:.1f} ms, "
                f"p99 {s.p99_ms:.1f} ms)",
                flush=True,
            )
            time.sleep(1)

    def med(key: str, attr: str) -> float:
        return median([getattr(r, attr) for r in runs[key]])

    ratios = {
        "playlist": med("ours-playlist", "requests_per_s")
        / med("nginx-playlist", "requests_per_s"),
        "segment": med("ours-segment", "bytes_per_s") / med("nginx-segment", "bytes_per_s"),
    }
    print()
    print(
        f"machine: {machine()}; wrk -t1 -c{connections} -d{seconds}s; one worker each; "
        f"medians of {repeat}; segment {segment_bytes} B, playlist ~1 KB"
    )
    for kind, unit, attr, scale in (
        ("playlist", "req/s", "requests_per_s", 1),
        ("segment", "MiB/s", "bytes_per_s", 2**20),
    ):
        goal = goals.get(kind)
        verdict = (
            ""
            if goal is None
            else (f"  goal >= {goal}: {'met' if ratios[kind] >= goal else 'NOT met'}")
        )
        print(
            f"  {kind:8s} {label}: {med(f'ours-{kind}', attr) / scale:.0f} {unit} "
            f"(p50 {med(f'ours-{kind}', 'p50_ms'):.2f} ms, p99 "
            f"{med(f'ours-{kind}', 'p99_ms'):.2f} ms); nginx "
            f"{med(f'nginx-{kind}', attr) / scale:.0f} {unit} (p50 "
            f"{med(f'nginx-{kind}', 'p50_ms'):.2f} ms, p99 "
            f"{med(f'nginx-{kind}', 'p99_ms'):.2f} ms); ratio {ratios[kind]:.2f}x{verdict}"
        )
    return ratios


def serving_arguments(doc: str | None) -> Any:
    """The command line shared by the serving benchmarks (origin, edge)."""
    import argparse

    parser = argparse.ArgumentParser(description=doc)
    parser.add_argument("--seconds", type=int, default=8, help="length of each wrk run")
    parser.add_argument("--repeat", type=int, default=3, help="alternating runs per server")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--segment-bytes", type=int, default=2 << 20)
    return parser.parse_args()


@dataclass
class ServingSetup:
    """A published fixture served by our origin and by nginx from the same directory."""

    root: Path
    playlist: str
    segment: str
    origin_url: str
    nginx_url: str
    procs: list[subprocess.Popen[bytes]]


@contextlib.contextmanager
def serving_setup(prefix: str, segment_bytes: int) -> Iterator[ServingSetup]:
    """Everything a serving benchmark compares against nginx; stops and removes it all after.
    More servers can be added to `procs`."""
    import shutil
    import tempfile

    import httpx

    from tests.support.servers import free_port, stop_process, wait_until

    root = Path(tempfile.mkdtemp(prefix=prefix))
    procs: list[subprocess.Popen[bytes]] = []
    try:
        playlist, segment = publish_fixture(root, segment_bytes)
        origin, nginx = free_port(), free_port()
        procs.append(start_mediacdn_server(root, ["serve", "--port", str(origin)]))
        procs.append(start_nginx(root, nginx, root / "objects"))
        # the origin answers before a POP in front of it is warmed (nginx is waited for by
        # `compare_with_nginx`, which asks it first)
        health = f"http://127.0.0.1:{origin}/healthz"
        wait_until(lambda: httpx.get(health).status_code == 200, 60, "origin")
        yield ServingSetup(
            root,
            playlist,
            segment,
            f"http://127.0.0.1:{origin}",
            f"http://127.0.0.1:{nginx}",
            procs,
        )
    finally:
        for proc in procs:
            stop_process(proc)
        shutil.rmtree(root, ignore_errors=True)


def require_tools(*tools: str) -> bool:
    import shutil
    import sys

    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        print(
            f"missing {', '.join(missing)}: apt-get install nginx wrk (make bench does it)",
            file=sys.stderr,
        )
    return not missing


@dataclass(frozen=True)
class WrkResult:
    requests_per_s: float
    bytes_per_s: float
    p50_ms: float
    p99_ms: float


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def wrk(
    url: str,
    seconds: int,
    connections: int,
    prefix: tuple[str, ...] = (),
    headers: tuple[str, ...] = (),
) -> WrkResult:
    """One wrk run with one thread (after `prefix`, e.g. taskset), each request also carrying
    `headers` ("Name: value"): throughput and latency percentiles."""
    fields = [arg for header in headers for arg in ("-H", header)]
    done = subprocess.run(
        [*prefix, "wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", *fields, url],
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 30,
    )
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", done.stdout).group(1))  # type: ignore[union-attr]
    match = re.search(r"Transfer/sec:\s+([\d.]+)(\w+)", done.stdout)
    assert match is not None
    scale = {"B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3}[match.group(2)]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", done.stdout)
    if errors:
        raise RuntimeError(f"{url}: {errors.group(1)} error responses")
    p50 = re.search(r"50%\s+([\d.]+\w+)", done.stdout)
    p99 = re.search(r"99%\s+([\d.]+\w+)", done.stdout)
    assert p50 is not None
    assert p99 is not None
    return WrkResult(rps, float(match.group(1)) * scale, _ms(p50.group(1)), _ms(p99.group(1)))


@dataclass(frozen=True)
class Timing:
    wall_s: float
    cpu_s: float  # this process and its children


def timed(fn: Callable[[], object]) -> Timing:
    """Wall and CPU time of `fn`, counting the CPU of child processes it waited for."""
    before_self = resource.getrusage(resource.RUSAGE_SELF)
    before_kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    fn()
    wall = time.perf_counter() - start
    after_self = resource.getrusage(resource.RUSAGE_SELF)
    after_kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = sum(
        getattr(after, f) - getattr(before, f)
        for before, after in ((before_self, after_self), (before_kids, after_kids))
        for f in ("ru_utime", "ru_stime")
    )
    return Timing(wall, cpu)


def median(values: list[float]) -> float:
    return statistics.median(values)


def machine() -> str:
    cpu = "unknown cpu"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    cores = os.cpu_count()
    return f"{platform.system()} {platform.machine()}, {cores} cores ({cpu}), {mem_gib:.0f} GiB"


def run(argv: list[str]) -> None:
    subprocess.run(
        argv,
        check=True,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
