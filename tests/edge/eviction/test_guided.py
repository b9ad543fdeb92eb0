"""The guided policies (S3-FIFO and ARC) and the popularity policy keep what a viewer behind
is about to ask for, where the plain ones, which only know what was asked for before, let it
go."""

from __future__ import annotations

from collections.abc import Hashable

import pytest

from edge.eviction.policy import make_policy
from edge.sim.trace import TraceClock

SIZE = 10


def locate(key: object) -> tuple[Hashable, int] | None:
    if isinstance(key, tuple) and len(key) == 2 and isinstance(key[1], int):
        return key[0], key[1]
    return None


def second_viewer_hits(policy: str) -> int:
    """Viewer A plays 100 segments of a rendition 4 s apart; viewer B starts 6 segments later.
    The cache holds 30 segments, its small queue 3: once it is full, B hits only what was
    kept for it."""
    clock = TraceClock()
    cache = make_policy(policy, 30 * SIZE, clock=clock, locate=locate)
    requests = sorted(
        [(4.0 * n, "a", n) for n in range(100)] + [(24.5 + 4.0 * n, "b", n) for n in range(100)]
    )
    hits = 0
    for at, viewer, n in requests:
        clock.now = at
        key = ("video/360p/", n)
        if cache.touch(key):
            hits += viewer == "b"
        else:
            cache.insert(key, SIZE)
    return hits


def test_a_viewer_behind_finds_its_segments_kept() -> None:
    assert second_viewer_hits("s3fifo") <= 40  # the ones it held before it was ever full
    assert second_viewer_hits("guided") == 100
    assert second_viewer_hits("arc") < 100  # ARC lets some go
    assert second_viewer_hits("guided-arc") == 100
    assert second_viewer_hits("popular") == 100


@pytest.mark.parametrize("policy", ["popular", "guided", "guided-arc", "arc"])
@pytest.mark.parametrize("capacity", [0, 5, 95])
def test_eviction_always_ends(policy: str, capacity: int) -> None:
    clock = TraceClock()
    cache = make_policy(policy, capacity, clock=clock, locate=locate)
    for n in range(200):
        clock.now = float(n)
        key = ("v/", n % 37)
        if not cache.touch(key):
            cache.insert(key, SIZE)
        assert cache.used_bytes <= capacity
        assert len(cache) * SIZE == cache.used_bytes
        if n % 11 == 0:  # removing what is cached, remembered as a ghost, or unknown
            cache.remove(("v/", (n * 7) % 41))
            assert len(cache) * SIZE == cache.used_bytes
