"""Rate limits with real processes: per API key on the write API (shared by two origins
through the Redis on 127.0.0.1:6379) and per client address on playback, at an origin and at a
POP. Each run uses its own keys, so counts left in Redis by an earlier run do not matter."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.edges import edge_process
from tests.support.servers import OriginServer, origin_server

pytestmark = pytest.mark.slow

REDIS_URL = "redis://127.0.0.1:6379/0"
BURST = 4


def _from(address: str) -> httpx.Client:
    """A client whose requests come from `address` (any 127.x.y.z is this machine)."""
    return httpx.Client(transport=httpx.HTTPTransport(local_address=address), timeout=10)


@pytest.fixture(scope="module")
def origins(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[OriginServer, ...]]:
    root = tmp_path_factory.mktemp("limits")
    run = uuid.uuid4().hex[:8]
    env = {
        "MEDIACDN_WORKERS": "0",
        "MEDIACDN_API_RATE": "0.5",
        "MEDIACDN_API_BURST": str(BURST),
        "MEDIACDN_PLAYBACK_RATE": "0.5",
        "MEDIACDN_PLAYBACK_BURST": str(BURST),
        "MEDIACDN_PLAYBACK_RATE_EXEMPT": "127.0.0.1,::1",  # where this machine's POPs fill from
        # as an origin on another host than its POPs: no X-Forwarded-For of theirs is taken
        # for the client's address (uvicorn takes it from loopback by default)
        "FORWARDED_ALLOW_IPS": "192.0.2.1",
        "MEDIACDN_REDIS_URL": REDIS_URL,
    }
    keys = f"key-a-{run},key-b-{run}"
    with (
        origin_server(root / "one", env, api_key=keys) as one,
        origin_server(root / "two", env, api_key=keys) as two,
    ):
        yield one, two


def _fresh_address() -> str:
    """A loopback address of this run's own, so Redis holds no count for it yet."""
    n = uuid.uuid4().int
    return f"127.{n % 250 + 1}.{(n >> 8) % 250 + 1}.{(n >> 16) % 250 + 1}"


def _auth(origin: OriginServer, which: int) -> dict[str, str]:
    return {"Authorization": f"Bearer {origin.api_key.split(',')[which]}"}


def test_a_key_over_its_limit_gets_429_across_two_origins(
    origins: tuple[OriginServer, ...],
) -> None:
    one, two = origins
    statuses = []
    for i in range(BURST + 2):  # alternate between the two origins
        origin = origins[i % 2]
        response = httpx.delete(f"{origin.url}/api/videos/nosuchvideo", headers=_auth(origin, 0))
        statuses.append(response.status_code)
    assert statuses == [404] * BURST + [429, 429]
    refused = httpx.post(
        f"{one.url}/api/videos/nosuchvideo/playback-tokens",
        json={},
        headers=_auth(one, 0) | {"Origin": "https://app.example"},
    )
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "rate_limited"
    # a page on another origin can read the refusal and its headers
    assert refused.headers["access-control-allow-origin"] == "*"
    assert "retry-after" in refused.headers["access-control-expose-headers"].lower()
    assert int(refused.headers["retry-after"]) >= 1
    assert refused.headers["ratelimit-limit"] == str(BURST)
    assert refused.headers["ratelimit-remaining"] == "0"
    assert int(refused.headers["ratelimit-reset"]) >= 1
    # another key is not affected, on either origin
    for origin in (one, two):
        other = httpx.delete(f"{origin.url}/api/videos/nosuchvideo", headers=_auth(origin, 1))
        assert other.status_code == 404


def test_an_upload_over_the_limit_leaves_nothing(origins: tuple[OriginServer, ...]) -> None:
    one, _ = origins
    headers = _auth(one, 0) | {"Content-Type": "application/octet-stream"}
    before = httpx.get(f"{one.url}/api/videos", headers=_auth(one, 1)).json()
    refused = httpx.post(f"{one.url}/api/videos", content=b"x" * 4096, headers=headers)
    assert refused.status_code == 429
    assert httpx.get(f"{one.url}/api/videos", headers=_auth(one, 1)).json() == before
    assert not any((one.data_dir / "spool").iterdir())


def test_playback_over_the_limit_at_the_origin(origins: tuple[OriginServer, ...]) -> None:
    address, other_address = _fresh_address(), _fresh_address()
    with _from(address) as viewer:
        statuses = [
            viewer.get(f"{origins[i % 2].url}/vod/nosuchvideo/master.m3u8").status_code
            for i in range(BURST + 1)
        ]
        assert statuses == [404] * BURST + [429]
    with _from(other_address) as other:
        for origin in origins:
            assert other.get(f"{origin.url}/vod/nosuchvideo/master.m3u8").status_code == 404


def test_playback_over_the_limit_at_a_pop(
    tmp_path: Path, origins: tuple[OriginServer, ...]
) -> None:
    one, _ = origins
    args = ("--rate-limit", "0.5", "--rate-burst", str(BURST))
    with (
        edge_process(tmp_path, one.url, *args, name="limited-pop") as pop,
        _from("127.0.0.3") as viewer,
        _from("127.0.0.4") as other,
    ):
        statuses = [viewer.get(f"{pop}/nothing-here").status_code for _ in range(BURST + 2)]
        assert statuses[BURST:] == [429, 429]
        assert all(s != 429 for s in statuses[:BURST])
        refused = viewer.get(f"{pop}/nothing-here")
        assert refused.json()["error"]["code"] == "rate_limited"
        assert int(refused.headers["retry-after"]) >= 1
        # a player on another page can read that, and when to come back
        assert refused.headers["access-control-allow-origin"] == "*"
        exposed = refused.headers["access-control-expose-headers"].lower()
        assert "retry-after" in exposed
        assert "ratelimit-reset" in exposed
        assert other.get(f"{pop}/nothing-here").status_code != 429


def test_a_pops_fills_are_not_counted_from_an_exempt_address(
    tmp_path: Path, origins: tuple[OriginServer, ...]
) -> None:
    """Without playback keys a POP's fills carry no token: from the address the origin exempts
    they are not counted, so its viewers' misses are not refused for being many."""
    one, _ = origins
    with edge_process(tmp_path, one.url, name="busy-pop") as pop:
        statuses = []
        for n in range(3 * BURST):  # a viewer each, a miss each: a fill each
            with _from(_fresh_address()) as viewer:
                statuses.append(viewer.get(f"{pop}/vod/nosuchvideo{n}/master.m3u8").status_code)
        assert statuses == [404] * (3 * BURST)
