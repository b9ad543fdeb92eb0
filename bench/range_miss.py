"""Range on a miss: how long a client waits for the first KiB of a large object none of the
caches holds yet (a player's first range of a long file, a progressive download's seek),
through our POP, nginx `proxy_cache` and Varnish (`malloc`), each in front of the same nginx
serving the files from disk, one worker each. Every request is for an object asked for
nowhere before, so each is a miss that fills the whole object.
Target: our median wait no longer than nginx proxy_cache's (Varnish's reported beside it).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import machine, require_tools, start_nginx
from bench.pop import start_nginx_proxy_cache, start_pop, start_varnish
from tests.support.servers import free_port, stop_process, wait_until

RANGE = "bytes=0-1023"


def first_kib_s(url: str) -> float:
    """Seconds until the whole answer to a range of the first KiB of `url` is here."""
    started = time.perf_counter()
    answer = httpx.get(url, headers={"Range": RANGE}, timeout=300)
    took = time.perf_counter() - started
    if answer.status_code != 206 or len(answer.content) != 1024:
        raise RuntimeError(f"{url}: {answer.status_code}, {len(answer.content)} bytes")
    return took


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--object-mib", type=int, default=256, help="size of each object")
    parser.add_argument("--objects", type=int, default=3, help="objects (misses) per server")
    args = parser.parse_args()
    if not require_tools("nginx", "varnishd"):
        return 2
    root = Path(tempfile.mkdtemp(prefix="bench-range-"))
    procs = []
    try:
        files = root / "files"
        files.mkdir()
        servers = ("ours", "nginx", "varnish")
        block = bytes(range(256)) * 4096
        for server in servers:  # distinct objects per server: each request a miss
            for n in range(args.objects):
                with (files / f"{server}-{n}.mp4").open("wb") as f:
                    for _ in range(args.object_mib):
                        f.write(block)
        ports = {name: free_port() for name in ("origin", *servers)}
        origin = f"http://127.0.0.1:{ports['origin']}"
        procs.append(start_nginx(root, ports["origin"], files))
        procs.append(start_pop(root, ports["ours"], origin, 1, "64MiB", "range-pop"))
        procs.append(start_nginx_proxy_cache(root, ports["nginx"], origin, 1))
        procs.append(start_varnish(root, ports["varnish"], origin, 1))
        url = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
        for name in ("origin", *servers):
            wait_until(lambda u=url[name]: _answers(u), 30, name)
        times: dict[str, list[float]] = {s: [] for s in servers}
        for n in range(args.objects):  # the servers in turn, object by object
            for server in servers:
                times[server].append(first_kib_s(f"{url[server]}/{server}-{n}.mp4"))
        medians = {s: statistics.median(t) for s, t in times.items()}
        print(f"machine: {machine()}; objects of {args.object_mib} MiB, {RANGE}, each a miss")
        for server in servers:
            runs = ", ".join(f"{t * 1000:.0f}" for t in times[server])
            print(f"  {server:8s} median {medians[server] * 1000:8.1f} ms  (runs: {runs} ms)")
        ratio = medians["ours"] / medians["nginx"]
        print(
            f"  ours / nginx proxy_cache: {ratio:.2f}x the wait; "
            f"ours / Varnish: {medians['ours'] / medians['varnish']:.2f}x"
        )
        print(f"  target (no longer than nginx's): {'met' if ratio <= 1 else 'NOT met'}")
    finally:
        for proc in procs:
            stop_process(proc, grace_s=5)
        shutil.rmtree(root, ignore_errors=True)
    return 0


def _answers(url: str) -> bool:
    try:
        httpx.get(url + "/", timeout=2)
    except httpx.HTTPError:
        return False
    return True


if __name__ == "__main__":
    raise SystemExit(main())
