"""POPs in the test process that send heartbeats to a router."""

from __future__ import annotations

from typing import Any

from edge.pop.app import Edge
from edge.pop.config import EdgeConfig
from tests.support.servers import free_port


def routed_edge(
    name: str, lat: float, lon: float, upstream: str, router_url: str, **options: Any
) -> tuple[Edge, int, str]:
    """A POP at (lat, lon) beating to `router_url` every 0.2 s; (edge, port, public URL).
    Serve it on that port (it tells the router that URL)."""
    port = free_port()
    public = f"http://127.0.0.1:{port}"
    config = EdgeConfig(
        name=name,
        upstream=upstream,
        router_url=router_url,
        public_url=public,
        lat=lat,
        lon=lon,
        heartbeat_s=0.2,
        **options,
    )
    return Edge(config), port, public
