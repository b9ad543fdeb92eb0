"""Origin serving benchmark: our origin vs nginx serving the same files, same load generator
(wrk), same run, one worker each. Prints playlist requests/s and segment bytes/s as ratios
to nginx. Target: segments ≥ 0.5× nginx from the local backend.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    compare_with_nginx,
    require_tools,
    serving_arguments,
    serving_setup,
)


def main() -> int:
    args = serving_arguments(__doc__)
    if not require_tools("nginx", "wrk"):
        return 2
    with serving_setup("bench-origin-", args.segment_bytes) as setup:
        compare_with_nginx(
            "origin",
            setup.origin_url,
            setup.nginx_url,
            setup.playlist,
            setup.segment,
            seconds=args.seconds,
            repeat=args.repeat,
            connections=args.connections,
            segment_bytes=args.segment_bytes,
            goals={"segment": 0.5},
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
