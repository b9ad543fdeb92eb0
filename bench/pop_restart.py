"""POP restart benchmark: how warm a POP with a disk tier comes back.

1. Index rebuild time: a disk tier holding N objects (default 100 000 of 4 KiB, written
   through the tier's own spool and publish) is opened again; the rebuild is timed.
2. Hits after a restart: a `mediacdn edge --cache-dir` process (2 workers) fills M objects
   (default 2 000 of 64 KiB) from an upstream, is stopped (SIGTERM, then again with SIGKILL),
   started again on the same directory, and every object is asked for once: the share
   answered as hits, and the upstream requests the restarted POP made.

Targets: >= 99% hits right after a restart; rebuild time reported (no target).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import machine, start_mediacdn_server
from edge.pop.disk import DiskTier
from edge.pop.store import Entry
from httprules.caching import age_clock
from tests.support.asgi_server import serve_in_thread
from tests.support.scripted_origin import Route, ScriptedOrigin
from tests.support.servers import free_port, stop_process, wait_until


def rebuild_time(root: Path, objects: int, size: int) -> tuple[float, float, int]:
    """(seconds to write, seconds to rebuild, objects indexed after the rebuild)."""
    tier = DiskTier(root, objects * (size + 2048), "guided")
    body = os.urandom(size)
    now = time.time()
    headers = {"cache-control": "max-age=86400", "content-type": "video/iso.segment"}
    started = time.perf_counter()
    for i in range(objects):
        spool = tier.spool()
        spool.write(body)
        url = f"/vod/v{i % 500}/720p/{i}.m4s"
        tier.publish(spool, Entry(url, 200, dict(headers), b"", age_clock(headers, now, now)), {})
        spool.close()
    written = time.perf_counter() - started
    again = DiskTier(root, objects * (size + 2048), "guided")
    return written, again.rebuilt.seconds, len(again)


def restart_hits(root: Path, objects: int, size: int, how: signal.Signals) -> tuple[float, int]:
    """(share of hits right after the restart, upstream requests the restarted POP made)."""
    routes = {
        f"/seg/{i}.m4s": Route(os.urandom(size), headers={"cache-control": "max-age=86400"})
        for i in range(objects)
    }
    origin = ScriptedOrigin(routes)
    cache = root / f"cache-{how.name}"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with serve_in_thread(origin) as upstream:
        argv = ["edge", "--name", "restart", "--upstream", upstream, "--port", str(port)]
        argv += ["--cache-dir", str(cache), "--workers", "2", "--admin-key", "bench"]

        def start() -> subprocess.Popen[bytes]:
            proc = start_mediacdn_server(root, argv, log=f"restart-{how.name}.log")
            wait_until(lambda: httpx.get(url + "/healthz").status_code == 200, 60, "POP")
            return proc

        proc = start()
        with httpx.Client(base_url=url, timeout=30) as http:
            for path in routes:
                http.get(path)
        time.sleep(0.5)
        proc.send_signal(how)
        proc.wait(60)
        proc = start()
        try:
            with httpx.Client(base_url=url, timeout=30) as http:
                hits = sum(http.get(p).headers.get("x-cache") == "HIT" for p in routes)
                upstream_requests = int(http.get("/stats").json()["upstream_requests"])
        finally:
            stop_process(proc)
    return hits / objects, upstream_requests


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--index-objects", type=int, default=100_000)
    parser.add_argument("--index-object-bytes", type=int, default=4096)
    parser.add_argument("--objects", type=int, default=2000)
    parser.add_argument("--object-bytes", type=int, default=64 << 10)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-pop-restart-"))
    try:
        written, rebuilt, indexed = rebuild_time(
            root / "index", args.index_objects, args.index_object_bytes
        )
        print(
            f"wrote {args.index_objects} objects in {written:.1f} s; rebuild {rebuilt:.2f} s "
            f"({indexed} indexed, {indexed / rebuilt:.0f} objects/s)",
            flush=True,
        )
        results = {}
        for how in (signal.SIGTERM, signal.SIGKILL):
            results[how.name] = restart_hits(root, args.objects, args.object_bytes, how)
            share, asked = results[how.name]
            print(f"after {how.name}: {share:.2%} hits, {asked} upstream requests", flush=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print()
    print(f"machine: {machine()}")
    print("| measure | result | target |")
    print("|---|---|---|")
    print(f"| index rebuild, {args.index_objects} objects | {rebuilt:.2f} s | (reported) |")
    for name, (share, asked) in results.items():
        print(
            f"| hits right after a restart ({name}), {args.objects} objects | {share:.2%} "
            f"({asked} upstream requests) | >= 99% |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
