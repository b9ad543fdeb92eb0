"""Run an edge: granian serves the public listener (its per-request cost is about half
uvicorn's for cache hits, see BENCHMARKS.md); the admin listener, if separate, runs in the
same worker and event loop so that it shares the cache."""

from __future__ import annotations

import dataclasses
import json
import os
import re

from edge.pop.app import Edge
from edge.pop.config import EdgeConfig

CONFIG_ENV = "MEDIACDN_EDGE_CONFIG"
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]i?B?|B)?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "B": 1}
for _i, _prefix in enumerate("KMGT", start=1):
    _UNITS |= {
        _prefix: 1000**_i,
        f"{_prefix}B": 1000**_i,
        f"{_prefix}I": 1024**_i,
        f"{_prefix}IB": 1024**_i,
    }


def parse_size(text: str) -> int:
    """`512MiB`, `2GB`, `1048576` → bytes."""
    match = _SIZE.match(text)
    if match is None:
        raise ValueError(f"not a size: {text!r} (e.g. 512MiB, 2GB)")
    return int(float(match.group(1)) * _UNITS[(match.group(2) or "").upper()])


def create() -> Edge:
    """The granian worker's app factory: the config comes through the environment."""
    data = json.loads(os.environ[CONFIG_ENV])
    data["admin_keys"] = tuple(data["admin_keys"])
    return Edge(EdgeConfig(**data))


def run_edge(config: EdgeConfig, *, host: str, port: int, log_level: str = "info") -> None:
    from granian import Granian
    from granian.constants import Interfaces, Loops
    from granian.http import HTTP1Settings
    from granian.log import LogLevels

    os.environ[CONFIG_ENV] = json.dumps(dataclasses.asdict(config))
    Granian(
        "edge.pop.serve:create",
        factory=True,
        address=host,
        port=port,
        interface=Interfaces.ASGI,
        workers=1,
        loop=Loops.uvloop,
        websockets=False,
        log_level=LogLevels(log_level),
        log_access=False,
        # a request's head within 15 s (the origin's default); hyper takes at most 100 header
        # fields and answers 431 past them; heads over 64 KiB are refused
        http1_settings=HTTP1Settings(header_read_timeout=15_000, max_buffer_size=64 << 10),
    ).serve()
