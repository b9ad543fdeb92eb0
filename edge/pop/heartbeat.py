"""POP → router heartbeats: every second, this POP's position, capacity and load; the router
answers with the neighbours to send new requests to while this POP is overloaded."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping

import httpx

from edge.pop.config import EdgeConfig
from edge.wire import BeatReply, PopBeat

log = logging.getLogger("mediacdn.edge")


def heartbeat(config: EdgeConfig, stats: Mapping[str, object]) -> PopBeat:
    """What this POP tells the router now (`stats` as the POP's /stats reports them)."""
    assert config.public_url is not None

    def number(key: str) -> float:
        value = stats[key]
        assert isinstance(value, int | float)
        return float(value)

    return PopBeat(
        name=config.name,
        url=config.public_url,
        lat=config.lat,
        lon=config.lon,
        tier=config.tier,
        max_in_flight=config.max_in_flight,
        max_mbps=config.max_mbps,
        in_flight=int(number("in_flight")),
        bytes_per_s=number("bytes_per_s"),
        requests_per_s=number("requests_per_s"),
        cache_fill=number("cache_fill"),
    )


async def send_heartbeats(
    config: EdgeConfig,
    stats: Callable[[], Mapping[str, object]],
    on_neighbours: Callable[[list[str]], None],
) -> None:
    """Runs until cancelled; a failed heartbeat is logged and the next one tried."""
    assert config.router_url is not None
    url = config.router_url.rstrip("/") + "/heartbeat"
    period = config.heartbeat_s
    async with httpx.AsyncClient(timeout=max(1.0, period)) as http:
        while True:
            try:
                answer = await http.post(url, json=heartbeat(config, stats()).to_json())
                if answer.status_code == 200:
                    reply = BeatReply.from_json(answer.json())
                    on_neighbours([n.url for n in reply.neighbours])
            except (httpx.HTTPError, ValueError) as exc:  # WireError is a ValueError
                log.warning("heartbeat to %s failed: %s", url, exc)
            await asyncio.sleep(period)
