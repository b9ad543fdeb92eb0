"""Token buckets per sender (pure, injected clock): `rate_per_s` sustained, `burst` at once.
The table of senders is bounded: when full, the sender heard from least recently is dropped
(it starts again with a full bucket), so no number of senders grows it past `max_senders`."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable


class RateLimiter:
    def __init__(
        self,
        rate_per_s: float,
        burst: float,
        *,
        max_senders: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if rate_per_s <= 0 or burst < 1 or max_senders < 1:
            raise ValueError("rate_per_s > 0, burst >= 1 and max_senders >= 1")
        self.rate_per_s = rate_per_s
        self.burst = burst
        self.max_senders = max_senders
        self.clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # tokens, at

    def allow(self, sender: str) -> bool:
        """Take one token from `sender`'s bucket; False (and nothing taken) if it is empty."""
        now = self.clock()
        tokens, at = self._buckets.pop(sender, (self.burst, now))
        tokens = min(self.burst, tokens + (now - at) * self.rate_per_s)
        allowed = tokens >= 1
        self._buckets[sender] = (tokens - 1 if allowed else tokens, now)
        if len(self._buckets) > self.max_senders:
            self._buckets.popitem(last=False)
        return allowed

    def retry_after_s(self, sender: str) -> float:
        """How long until `sender` has a token again."""
        tokens, _ = self._buckets.get(sender, (self.burst, 0.0))
        return max(0.0, (1 - tokens) / self.rate_per_s)

    def __len__(self) -> int:
        return len(self._buckets)
