"""Rate limits on the `limits` library, in process and shared through the Redis this machine
runs on 127.0.0.1:6379."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from httprules.ratelimit import Decision, Rate, RateLimit, open_storage

REDIS_URL = "redis://127.0.0.1:6379/0"


def test_a_rate_is_a_window_of_its_burst() -> None:
    assert Rate(10, 20).window_s == 2
    assert Rate(100, 20).window_s == 1
    assert Rate(0.5, 3).window_s == 6
    for per_s, burst in ((0, 1), (-1, 5), (float("nan"), 3), (1, 0)):
        with pytest.raises(ValueError, match="rate limit"):
            Rate(per_s, burst)


def test_over_the_limit_headers_say_when_to_come_back() -> None:
    headers = Decision(False, 20, 0, 1.2).headers()
    assert headers == {
        "ratelimit-limit": "20",
        "ratelimit-remaining": "0",
        "ratelimit-reset": "2",
        "retry-after": "2",
    }
    assert "retry-after" not in Decision(True, 20, 5, 0.0).headers()


async def _burst(limit: RateLimit, sender: str, n: int) -> list[bool]:
    return [(await limit.hit(sender)).allowed for _ in range(n)]


def test_a_burst_over_the_limit_is_refused_and_others_are_not() -> None:
    async def run() -> None:
        limit = RateLimit(Rate(1, 5), "test")
        assert await _burst(limit, "a", 8) == [True] * 5 + [False] * 3
        assert await _burst(limit, "b", 5) == [True] * 5
        refused = await limit.hit("a")
        assert not refused.allowed
        assert 0 < refused.reset_s <= 5

    asyncio.run(run())


def test_two_limiters_on_one_redis_share_the_count() -> None:
    namespace = f"test-{uuid.uuid4().hex}"

    async def run() -> None:
        one = RateLimit(Rate(1, 6), namespace, REDIS_URL)
        two = RateLimit(Rate(1, 6), namespace, REDIS_URL)
        assert await _burst(one, "k", 3) == [True] * 3
        assert await _burst(two, "k", 3) == [True] * 3
        assert not (await one.hit("k")).allowed
        assert not (await two.hit("k")).allowed
        assert (await two.hit("other")).allowed
        await one.aclose()
        await two.aclose()

    asyncio.run(run())


def test_a_redis_that_is_down_lets_traffic_through() -> None:
    async def run() -> None:
        # nothing listens on port 1
        limit = RateLimit(Rate(1, 1), "down", "redis://127.0.0.1:1/0")
        assert await _burst(limit, "a", 3) == [True] * 3
        await limit.aclose()

    asyncio.run(run())


def test_only_redis_urls_are_taken() -> None:
    with pytest.raises(ValueError, match="not a Redis URL"):
        open_storage("http://127.0.0.1:6379")
