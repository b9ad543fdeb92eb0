"""POP → router heartbeats: every second, this POP's position, capacity and load; the router
answers with the neighbours to send new requests to while this POP is overloaded. A POP that
is leaving (draining before it stops) says so at once and in every beat after: unhealthy, so
the router sends no new player there."""

from __future__ import annotations

import asyncio
import contextlib
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


def heartbeat(config: EdgeConfig, stats: Mapping[str, object], *, leaving: bool = False) -> PopBeat:
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
        healthy=not leaving,
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
    leaving: asyncio.Event | None = None,
    wall_clock: Callable[[], float] = time.time,
) -> None:
    """Every `heartbeat_s`, a signed beat to every router at once; runs until cancelled. A
    failed beat is logged and the next one tried; the neighbours come from any router that
    answers (routers fed the same beats decide the same). When `leaving` is set, a beat goes
    at once and every beat after says the POP is not taking players."""
    leaving = leaving or asyncio.Event()
    async with httpx.AsyncClient(timeout=max(1.0, config.heartbeat_s)) as http:
        while True:
            await beat_once(http, config, stats(), on_neighbours, leaving.is_set(), wall_clock())
            if leaving.is_set():
                await asyncio.sleep(config.heartbeat_s)
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(leaving.wait(), config.heartbeat_s)


async def say_leaving(config: EdgeConfig, stats: Mapping[str, object]) -> None:
    """One last beat, within a second, telling every router this POP is going away."""
    async with httpx.AsyncClient(timeout=1.0) as http:
        await beat_once(http, config, stats, lambda urls: None, True, time.time())


async def beat_once(
    http: httpx.AsyncClient,
    config: EdgeConfig,
    stats: Mapping[str, object],
    on_neighbours: Callable[[list[str]], None],
    leaving: bool,
    now: float,
) -> None:
    body = json.dumps(heartbeat(config, stats, leaving=leaving).to_json()).encode()
    signature = sign_beat(config.pop_key, body, now)

    async def beat(url: str) -> None:
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

    await asyncio.gather(*(beat(u.rstrip("/") + "/heartbeat") for u in config.router_urls))
