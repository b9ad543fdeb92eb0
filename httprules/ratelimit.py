"""Rate limits per sender (an API key, a client address), on the `limits` library.

A `Rate` of `per_s` sustained and `burst` at once is a moving window of `burst` requests per
`burst / per_s` seconds (rounded to whole seconds, at least one). The counters live in this
process, or in Redis when a `redis://` URL is given, so several origins or POPs share one limit.
A Redis that stops answering lets requests through (logged), rather than taking the service
down with it.

A client address counts as what it stands for (httprules/addresses.py: an IPv6 one by its /64).

Over the limit, `Decision.headers()` gives `Retry-After` and the `RateLimit-Limit`,
`RateLimit-Remaining` and `RateLimit-Reset` fields (IETF httpapi rate-limit headers draft).
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

from limits import RateLimitItem, RateLimitItemPerSecond
from limits.aio.storage import MemoryStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string

log = logging.getLogger("mediacdn.ratelimit")


@dataclass(frozen=True, slots=True)
class Rate:
    per_s: float
    burst: int

    def __post_init__(self) -> None:
        if not (self.per_s > 0 and math.isfinite(self.per_s)) or self.burst < 1:
            raise ValueError("a rate limit needs requests per second > 0 and a burst >= 1")

    @classmethod
    def per_second(cls, per_s: float, burst: int = 0) -> Rate | None:
        """None when off (0 a second); a burst of 0 means twice the rate."""
        if per_s <= 0:
            return None
        return cls(per_s, burst if burst > 0 else max(1, round(2 * per_s)))

    @property
    def window_s(self) -> int:
        return max(1, round(self.burst / self.per_s))

    def item(self) -> RateLimitItem:
        return RateLimitItemPerSecond(self.burst, self.window_s)


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    reset_s: float

    def headers(self) -> dict[str, str]:
        wait = str(max(1, math.ceil(self.reset_s)))
        out = {
            "ratelimit-limit": str(self.limit),
            "ratelimit-remaining": str(self.remaining),
            "ratelimit-reset": wait,
        }
        return out | ({} if self.allowed else {"retry-after": wait})


def open_storage(redis_url: str | None) -> Storage:
    """Counters in Redis (shared by every process using the same URL) or in this process."""
    if not redis_url:
        return MemoryStorage()
    if not redis_url.startswith(("redis://", "rediss://", "unix://")):
        raise ValueError(f"not a Redis URL: {redis_url!r}")
    storage = storage_from_string(
        "async+" + redis_url,
        implementation="redispy",
        wrap_exceptions=True,
        socket_timeout=0.5,  # a Redis that hangs costs a request half a second, not a minute
        socket_connect_timeout=0.5,
    )
    assert isinstance(storage, Storage)
    return storage


class RateLimit:
    """One limit (`rate`) per sender, under `namespace` in shared storage."""

    def __init__(self, rate: Rate, namespace: str, redis_url: str | None = None) -> None:
        self.rate = rate
        self.namespace = namespace
        self.item = rate.item()
        self.storage = open_storage(redis_url)
        self.limiter = MovingWindowRateLimiter(self.storage)
        self._warned_at = -math.inf

    async def hit(self, sender: str) -> Decision:
        """Count one request from `sender`: allowed or not, with what the headers need."""
        try:
            if await self.limiter.hit(self.item, self.namespace, sender):
                return Decision(True, self.rate.burst, -1, 0.0)
            stats = await self.limiter.get_window_stats(self.item, self.namespace, sender)
        except Exception as exc:  # the shared store is down: let traffic through
            if time.monotonic() - self._warned_at > 10:
                self._warned_at = time.monotonic()
                log.warning("rate limit %s not enforced: %s", self.namespace, exc)
            return Decision(True, self.rate.burst, -1, 0.0)
        reset = max(0.0, stats.reset_time - time.time())
        return Decision(False, self.rate.burst, max(0, stats.remaining), reset)

    async def aclose(self) -> None:
        """Close the Redis connections, if any."""
        client = getattr(getattr(self.storage, "bridge", None), "storage", None)
        if client is not None:
            await client.aclose()


def open_limit(rate: Rate | None, namespace: str, redis_url: str | None = None) -> RateLimit | None:
    """The limit, or None when it is off."""
    return None if rate is None else RateLimit(rate, namespace, redis_url)
