"""Edge → router heartbeats: every second, this POP's position, capacity and load; the router
answers with the neighbours to send new requests to while this POP is overloaded."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

import httpx

if TYPE_CHECKING:
    from edge.proxy import Edge

log = logging.getLogger("mediacdn.edge")


def heartbeat_body(edge: Edge) -> dict[str, object]:
    stats = edge.stats()
    cfg = edge.config
    return {
        "name": cfg.name,
        "url": cfg.public_url,
        "lat": cfg.lat,
        "lon": cfg.lon,
        "tier": cfg.tier,
        "max_in_flight": cfg.max_in_flight,
        "max_mbps": cfg.max_mbps,
        "in_flight": stats["in_flight"],
        "bytes_per_s": stats["bytes_per_s"],
        "requests_per_s": stats["requests_per_s"],
        "cache_fill": stats["cache_fill"],
        "healthy": True,
    }


async def send_heartbeats(edge: Edge) -> None:
    """Runs until cancelled; a failed heartbeat is logged and the next one tried."""
    assert edge.config.router_url is not None
    url = edge.config.router_url.rstrip("/") + "/heartbeat"
    period = edge.config.heartbeat_s
    async with httpx.AsyncClient(timeout=max(1.0, period)) as http:
        while True:
            try:
                answer = await http.post(url, json=heartbeat_body(edge))
                if answer.status_code == 200:
                    edge.neighbours = [
                        str(n["url"]) for n in answer.json().get("neighbours", []) if "url" in n
                    ]
            except (httpx.HTTPError, ValueError, TypeError, AttributeError) as exc:
                log.warning("heartbeat to %s failed: %s", url, exc)
            await asyncio.sleep(period)
