"""The POP's gate counts a client's requests against its rate limit by what the client can
change: an IPv6 client by its /64, not by each of its addresses."""

from __future__ import annotations

import asyncio

from edge.pop.gate import PlaybackGate
from httprules.addresses import networks
from httprules.ratelimit import Rate, RateLimit
from origin.app import api_sender


def _scope(address: str) -> dict[str, object]:
    return {"type": "http", "path": "/v/a.m4s", "headers": [], "client": (address, 50000)}


def test_addresses_of_one_ipv6_64_share_a_limit_and_another_64_does_not() -> None:
    async def run() -> list[bool]:
        gate = PlaybackGate(None, RateLimit(Rate(1, 3), "gate-test"))
        allowed = []
        for i in range(5):  # a client that takes a new address for every request
            scope = _scope(f"2001:db8:5:6::{i + 1:x}")
            refused = await gate.over_limit(scope, gate.admit(scope))
            allowed.append(refused is None)
        other = _scope("2001:db8:5:7::1")
        allowed.append(await gate.over_limit(other, gate.admit(other)) is None)
        return allowed

    assert asyncio.run(run()) == [True, True, True, False, False, True]


def test_exempt_addresses_are_not_counted() -> None:
    """Child POPs filling without playback keys: their addresses are exempted, not counted."""

    async def run() -> list[bool]:
        gate = PlaybackGate(
            None, RateLimit(Rate(1, 2), "gate-exempt-test"), exempt=networks(["10.9.0.0/16"])
        )
        allowed = []
        for address in ["10.9.1.1"] * 5 + ["10.8.1.1"] * 3:
            scope = _scope(address)
            allowed.append(await gate.over_limit(scope, gate.admit(scope)) is None)
        return allowed

    assert asyncio.run(run()) == [True] * 5 + [True, True, False]


def test_api_writes_without_a_key_count_by_the_same_sender() -> None:
    assert api_sender(_scope("2001:db8:5:6::1")) == api_sender(_scope("2001:db8:5:6::abcd"))
    assert api_sender(_scope("2001:db8:5:6::1")) != api_sender(_scope("2001:db8:5:7::1"))
