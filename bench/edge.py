"""Edge benchmark: cache hits from our edge vs nginx serving the same files from disk, same
load generator (wrk), same run, one worker each; p50/p99 latency reported.
Goals (issue 3): segments of 1-3 MB at ≥ 0.9× nginx's bytes/s, playlists of about 1 KB at
≥ 0.3× nginx's requests/s.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    compare_with_nginx,
    publish_fixture,
    require_tools,
    serving_arguments,
    start_mediacdn_server,
    start_nginx,
)
from tests.support.servers import free_port, stop_process, wait_until


def main() -> int:
    args = serving_arguments(__doc__)
    if not require_tools("nginx", "wrk"):
        return 2
    root = Path(tempfile.mkdtemp(prefix="bench-edge-"))
    procs: list[subprocess.Popen[bytes]] = []
    try:
        playlist, segment = publish_fixture(root, args.segment_bytes)
        origin, edge, nginx = free_port(), free_port(), free_port()
        procs.append(start_mediacdn_server(root, ["serve", "--port", str(origin)]))
        procs.append(
            start_mediacdn_server(
                root,
                [
                    "edge",
                    "--name",
                    "bench-pop",
                    "--upstream",
                    f"http://127.0.0.1:{origin}",
                    "--port",
                    str(edge),
                    "--capacity",
                    "1GiB",
                    "--admin-key",
                    "bench",
                ],
                log="edge.log",
            )
        )
        procs.append(start_nginx(root, nginx, root / "objects"))
        edge_url = f"http://127.0.0.1:{edge}"
        wait_until(lambda: httpx.get(edge_url + "/healthz").status_code == 200, 30, "edge")
        for path in (playlist, segment):  # warm the cache: every measured request is a hit
            httpx.get(edge_url + path)
            assert httpx.get(edge_url + path).headers["x-cache"] == "HIT"
        compare_with_nginx(
            "edge (hits)",
            edge_url,
            f"http://127.0.0.1:{nginx}",
            playlist,
            segment,
            seconds=args.seconds,
            repeat=args.repeat,
            connections=args.connections,
            segment_bytes=args.segment_bytes,
            goals={"segment": 0.9, "playlist": 0.3},
        )
    finally:
        for proc in procs:
            stop_process(proc)
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
