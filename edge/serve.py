"""Run an edge: the public listener and, optionally, a separate admin listener."""

from __future__ import annotations

import asyncio
import re

import uvicorn

from edge.proxy import Edge, EdgeConfig

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]i?B?|B)?\s*$", re.IGNORECASE)
_UNITS = {
    "": 1,
    "B": 1,
    "K": 1000,
    "KB": 1000,
    "KIB": 1024,
    "KI": 1024,
    "M": 1000**2,
    "MB": 1000**2,
    "MIB": 1024**2,
    "MI": 1024**2,
    "G": 1000**3,
    "GB": 1000**3,
    "GIB": 1024**3,
    "GI": 1024**3,
    "T": 1000**4,
    "TB": 1000**4,
    "TIB": 1024**4,
    "TI": 1024**4,
}


def parse_size(text: str) -> int:
    """`512MiB`, `2GB`, `1048576` → bytes."""
    match = _SIZE.match(text)
    if match is None:
        raise ValueError(f"not a size: {text!r} (e.g. 512MiB, 2GB)")
    return int(float(match.group(1)) * _UNITS[(match.group(2) or "").upper()])


async def serve_edge(
    config: EdgeConfig,
    *,
    host: str,
    port: int,
    admin_host: str | None = None,
    admin_port: int | None = None,
    log_level: str = "info",
) -> None:
    edge = Edge(config)
    servers = [
        uvicorn.Server(
            uvicorn.Config(
                edge,
                host=host,
                port=port,
                log_level=log_level,
                access_log=False,
                lifespan="on",
                interface="asgi3",
            )
        )
    ]
    if admin_port is not None:
        servers.append(
            uvicorn.Server(
                uvicorn.Config(
                    edge.admin,
                    host=admin_host or host,
                    port=admin_port,
                    log_level=log_level,
                    access_log=False,
                    lifespan="off",
                    interface="asgi3",
                )
            )
        )
    await asyncio.gather(*(s.serve() for s in servers))


def run_edge(config: EdgeConfig, **kwargs: object) -> None:
    asyncio.run(serve_edge(config, **kwargs))  # type: ignore[arg-type]
