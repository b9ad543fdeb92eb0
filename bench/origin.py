"""Origin serving benchmark: our origin vs nginx serving the same files, same load generator
(wrk), same run, one worker each. Prints playlist requests/s and segment bytes/s as ratios
to nginx. Goal (issue 2): segments ≥ 0.5× nginx from the local backend.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    compare_with_nginx,
    publish_fixture,
    require_tools,
    serving_arguments,
    start_mediacdn_server,
    start_nginx,
)
from tests.support.servers import free_port, stop_process


def main() -> int:
    args = serving_arguments(__doc__)
    if not require_tools("nginx", "wrk"):
        return 2
    root = Path(tempfile.mkdtemp(prefix="bench-origin-"))
    procs: list[subprocess.Popen[bytes]] = []
    try:
        playlist, segment = publish_fixture(root, args.segment_bytes)
        ours, nginx = free_port(), free_port()
        procs.append(start_mediacdn_server(root, ["serve", "--port", str(ours)]))
        procs.append(start_nginx(root, nginx, root / "objects"))
        compare_with_nginx(
            "origin",
            f"http://127.0.0.1:{ours}",
            f"http://127.0.0.1:{nginx}",
            playlist,
            segment,
            seconds=args.seconds,
            repeat=args.repeat,
            connections=args.connections,
            segment_bytes=args.segment_bytes,
            goals={"segment": 0.5},
        )
    finally:
        for proc in procs:
            stop_process(proc)
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
