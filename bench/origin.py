"""Origin serving benchmark: our origin vs nginx serving the same files, same load generator
(wrk), same run, one worker each. Prints playlist requests/s and segment bytes/s as ratios
to nginx. Goal (issue 2): segments ≥ 0.5× nginx from the local backend.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx

from bench.common import machine, median
from manifests.catalog import Catalog
from manifests.db import SqliteDatabase
from manifests.records import NewVideo, Publication, Rendition, StoredObject
from origin.storage.local import LocalStorage
from tests.support.servers import free_port, stop_process, wait_until

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


NGINX_CONF = """
worker_processes 1;
daemon off;
user root;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 100000;
    types {{ application/vnd.apple.mpegurl m3u8; video/iso.segment m4s; video/mp4 mp4; }}
    server {{
        listen 127.0.0.1:{port};
        root {root};
        location / {{ add_header Cache-Control "public, max-age=31536000, immutable"; }}
    }}
}}
"""


def wrk(url: str, seconds: int, connections: int) -> tuple[float, float]:
    """(requests/s, bytes/s) from one wrk run with one thread."""
    done = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", url],
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
    return rps, float(match.group(1)) * scale


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=8, help="length of each wrk run")
    parser.add_argument("--repeat", type=int, default=3, help="alternating runs per server")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--segment-bytes", type=int, default=2 << 20)
    args = parser.parse_args()
    for tool in ("nginx", "wrk"):
        if shutil.which(tool) is None:
            print(
                f"{tool} is missing: apt-get install nginx wrk (make bench does)", file=sys.stderr
            )
            return 2
    root = Path(tempfile.mkdtemp(prefix="bench-origin-"))
    procs: list[subprocess.Popen[bytes]] = []
    try:
        playlist_path, segment_path = publish_fixture(root, args.segment_bytes)
        ours_port, nginx_port = free_port(), free_port()
        env = {**os.environ, "MEDIACDN_API_KEYS": "bench", "MEDIACDN_WORKERS": "0"}
        with (root / "serve.log").open("wb") as log:
            procs.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "mediacdn",
                        "serve",
                        "--data-dir",
                        str(root),
                        "--port",
                        str(ours_port),
                    ],
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
        conf = root / "nginx.conf"
        conf.write_text(NGINX_CONF.format(prefix=root, port=nginx_port, root=root / "objects"))
        procs.append(
            subprocess.Popen(["nginx", "-c", str(conf), "-p", str(root)], start_new_session=True)
        )
        ours = f"http://127.0.0.1:{ours_port}"
        nginx = f"http://127.0.0.1:{nginx_port}"
        nginx_playlist = nginx + playlist_path.replace("/vod/", "/videos/")
        nginx_segment = nginx + segment_path.replace("/vod/", "/videos/")
        wait_until(lambda: httpx.get(ours + "/healthz").status_code == 200, 60, "origin")
        wait_until(lambda: httpx.get(nginx_segment).status_code == 200, 30, "nginx")
        assert httpx.get(ours + segment_path).content == httpx.get(nginx_segment).content
        assert httpx.get(ours + playlist_path).content == httpx.get(nginx_playlist).content
        figures: dict[str, list[float]] = {
            k: [] for k in ("ours_rps", "nginx_rps", "ours_bps", "nginx_bps")
        }
        for i in range(args.repeat):
            for name, base_pl, base_seg in (
                ("ours", ours + playlist_path, ours + segment_path),
                ("nginx", nginx_playlist, nginx_segment),
            ):
                rps, _ = wrk(base_pl, args.seconds, args.connections)
                _, bps = wrk(base_seg, args.seconds, args.connections)
                figures[f"{name}_rps"].append(rps)
                figures[f"{name}_bps"].append(bps)
                print(
                    f"run {i + 1} {name:5s} playlist {rps:9.0f} req/s   segment "
                    f"{bps / 2**20:8.0f} MiB/s",
                    flush=True,
                )
                time.sleep(1)
        med = {k: median(v) for k, v in figures.items()}
        seg_ratio = med["ours_bps"] / med["nginx_bps"]
        print()
        print(
            f"machine: {machine()}; wrk -t1 -c{args.connections} -d{args.seconds}s; "
            f"one worker each; medians of {args.repeat}; segment {args.segment_bytes} B, "
            "playlist ~1 KB"
        )
        print(
            f"  playlist: ours {med['ours_rps']:.0f} req/s, nginx {med['nginx_rps']:.0f} "
            f"req/s, ratio {med['ours_rps'] / med['nginx_rps']:.2f}x"
        )
        print(
            f"  segments: ours {med['ours_bps'] / 2**20:.0f} MiB/s, nginx "
            f"{med['nginx_bps'] / 2**20:.0f} MiB/s, ratio {seg_ratio:.2f}x  goal >= 0.5: "
            f"{'met' if seg_ratio >= 0.5 else 'NOT met'}"
        )
    finally:
        for proc in procs:
            stop_process(proc)
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
