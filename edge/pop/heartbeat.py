"""POP → router heartbeats: every second, this POP's position, capacity and load; the router
answers with the neighbours to send new requests to while this POP is overloaded."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import time
from collections.abc import Callable, Mapping
from urllib.parse import urlsplit

import httpx

from edge.pop.config import EdgeConfig
from edge.wire import SIGNATURE_HEADER, BeatReply, PopBeat, sign_beat

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
        addresses=config.addresses or _literal_host(config.public_url),
    )


def _literal_host(url: str) -> tuple[str, ...]:
    """The URL's host if it is an IP address (advertised for DNS when none is configured)."""
    host = urlsplit(url).hostname or ""
    try:
        return (str(ipaddress.ip_address(host)),)
    except ValueError:
        return ()


async def send_heartbeats(
    config: EdgeConfig,
    stats: Callable[[], Mapping[str, object]],
    on_neighbours: Callable[[list[str]], None],
    *,
    wall_clock: Callable[[], float] = time.time,
) -> None:
    """Every `heartbeat_s`, a signed beat to every router at once; runs until cancelled. A
    failed beat is logged and the next one tried; the neighbours come from any router that
    answers (routers fed the same beats decide the same)."""
    urls = [u.rstrip("/") + "/heartbeat" for u in config.router_urls]
    period = config.heartbeat_s
    async with httpx.AsyncClient(timeout=max(1.0, period)) as http:

        async def beat(url: str, body: bytes, signature: str) -> None:
            try:
                answer = await http.post(
                    url,
                    content=body,
                    headers={"content-type": "application/json", SIGNATURE_HEADER: signature},
                )
                if answer.status_code == 200:
                    reply = BeatReply.from_json(answer.json())
                    on_neighbours([n.url for n in reply.neighbours])
                else:
                    log.warning("heartbeat to %s refused: %s", url, answer.text[:200])
            except (httpx.HTTPError, ValueError) as exc:  # WireError is a ValueError
                log.warning("heartbeat to %s failed: %s", url, exc)

        while True:
            body = json.dumps(heartbeat(config, stats()).to_json()).encode()
            signature = sign_beat(config.pop_key, body, wall_clock())
            await asyncio.gather(*(beat(url, body, signature) for url in urls))
            await asyncio.sleep(period)
