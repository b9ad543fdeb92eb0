"""Edge benchmark: cache hits from our edge vs nginx serving the same files from disk, same
load generator (wrk), same run, one worker each; p50/p99 latency reported.
Target: segments of 1-3 MB at ≥ 0.9× nginx's bytes/s, playlists of about 1 KB at
≥ 0.3× nginx's requests/s.
"""

from __future__ import annotations

import sys
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    compare_with_nginx,
    require_tools,
    serving_arguments,
    serving_setup,
    start_mediacdn_server,
)
from tests.support.servers import free_port, wait_until


def main() -> int:
    args = serving_arguments(__doc__)
    if not require_tools("nginx", "wrk"):
        return 2
    with serving_setup("bench-edge-", args.segment_bytes) as setup:
        port = free_port()
        setup.procs.append(
            start_mediacdn_server(
                setup.root,
                [
                    "edge",
                    "--name",
                    "bench-pop",
                    "--upstream",
                    setup.origin_url,
                    "--port",
                    str(port),
                    "--capacity",
                    "1GiB",
                    "--admin-key",
                    "bench",
                ],
                log="edge.log",
            )
        )
        edge_url = f"http://127.0.0.1:{port}"
        wait_until(lambda: httpx.get(edge_url + "/healthz").status_code == 200, 30, "edge")
        for path in (setup.playlist, setup.segment):  # warm: every measured request is a hit
            httpx.get(edge_url + path)
            assert httpx.get(edge_url + path).headers["x-cache"] == "HIT"
        compare_with_nginx(
            "edge (hits)",
            edge_url,
            setup.nginx_url,
            setup.playlist,
            setup.segment,
            seconds=args.seconds,
            repeat=args.repeat,
            connections=args.connections,
            segment_bytes=args.segment_bytes,
            goals={"segment": 0.9, "playlist": 0.3},
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
