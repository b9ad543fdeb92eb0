"""Token buckets per sender, with a bounded table of senders."""

from __future__ import annotations

import pytest

from httprules.ratelimit import RateLimiter
from tests.support.clock import FakeClock


def test_burst_then_the_sustained_rate() -> None:
    clock = FakeClock()
    limiter = RateLimiter(2.0, 3, clock=clock)
    assert [limiter.allow("a") for _ in range(4)] == [True, True, True, False]
    assert limiter.retry_after_s("a") == pytest.approx(0.5)
    clock.advance(0.5)
    assert limiter.allow("a")
    assert not limiter.allow("a")
    assert limiter.allow("b")  # senders are apart


def test_the_table_of_senders_is_bounded() -> None:
    limiter = RateLimiter(1.0, 1, max_senders=100, clock=FakeClock())
    for n in range(10_000):
        limiter.allow(f"10.0.{n // 256}.{n % 256}")
    assert len(limiter) == 100


@pytest.mark.parametrize(("rate", "burst"), [(0, 1), (1, 0.5)])
def test_nonsense_limits_are_refused(rate: float, burst: float) -> None:
    with pytest.raises(ValueError, match="rate_per_s"):
        RateLimiter(rate, burst)
