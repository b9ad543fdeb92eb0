"""The router counts heartbeats against a limit per sender: an IPv6 sender by its /64, so that
a host flooding the registry cannot pass the limit by changing its address every beat."""

from __future__ import annotations

import asyncio

import httpx

from edge.router.app import create_router_app
from httprules.ratelimit import Rate, RateLimit


def test_beats_from_addresses_of_one_ipv6_64_share_a_limit() -> None:
    app = create_router_app(probe_interval_s=None, beat_limiter=RateLimit(Rate(1, 3), "t"))

    async def statuses(addresses: list[str]) -> list[int]:
        out = []
        for address in addresses:
            transport = httpx.ASGITransport(app=app, client=(address, 40000))
            async with httpx.AsyncClient(transport=transport, base_url="http://router") as c:
                out.append((await c.post("/heartbeat", content=b"{}")).status_code)
        return out

    got = asyncio.run(
        statuses([f"2001:db8:9:1::{i + 1:x}" for i in range(5)] + ["2001:db8:9:2::1"])
    )
    # refused as malformed within the limit (nothing is registered either way), then 429
    assert 429 not in got[:3]
    assert got[3:5] == [429, 429]
    assert got[5] != 429
