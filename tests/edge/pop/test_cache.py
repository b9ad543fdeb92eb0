"""The edge against a real upstream server on 127.0.0.1: RFC 9111 freshness, validation,
Vary, stale-while-revalidate, stale-if-error, ranges, unsafe methods, truncation, purge, push.
Each test runs twice: with the memory tier only, and with a disk tier beside a memory tier too
small to hold anything, so that every hit comes from disk."""

from __future__ import annotations

import email.utils
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from edge.pop.app import Edge, EdgeConfig
from tests.support.asgi_server import serve_in_thread
from tests.support.clock import FakeClock
from tests.support.scripted_origin import Route, ScriptedOrigin
from tests.support.servers import free_port, wait_until

ADMIN = {"Authorization": "Bearer admin-key"}
TIER: dict[str, Any] = {}  # the tier options every edge_setup of the running test gets


@pytest.fixture(autouse=True, params=["memory", "disk"])
def tier(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[None]:
    TIER.clear()
    if request.param == "disk":
        TIER.update(cache_dir=str(tmp_path / "cache"), disk_capacity_bytes=64 << 20)
        TIER.update(capacity_bytes=8)
    yield
    TIER.clear()


@dataclass
class Setup:
    origin: ScriptedOrigin
    edge: Edge
    clock: FakeClock
    http: httpx.Client
    origin_port: int


@contextmanager
def edge_setup(routes: dict[str, Route], **config: Any) -> Iterator[Setup]:
    clock = FakeClock(time.time())
    origin = ScriptedOrigin(routes, clock=clock)
    port = free_port()
    with serve_in_thread(origin, port=port):
        edge = Edge(
            EdgeConfig(
                name="test-pop",
                upstream=f"http://127.0.0.1:{port}",
                admin_keys=("admin-key",),
                **(TIER | config),
            ),
            clock=clock,
        )
        with (
            serve_in_thread(edge, lifespan="on") as url,
            httpx.Client(base_url=url, timeout=30) as http,
        ):
            yield Setup(origin, edge, clock, http, port)


def test_fresh_then_hit_with_age() -> None:
    with edge_setup({"/a": Route(b"A", headers={"cache-control": "max-age=60"})}) as s:
        first = s.http.get("/a")
        assert first.headers["x-cache"] == "MISS"
        assert first.content == b"A"
        s.clock.advance(5)
        second = s.http.get("/a")
        assert second.headers["x-cache"] == "HIT"
        assert 4 <= int(second.headers["age"]) <= 6
        assert second.headers["via"].endswith("test-pop")
        assert s.origin.hits["/a"] == 1


@pytest.mark.parametrize(
    ("headers", "fresh_for"),
    [
        pytest.param({"cache-control": "max-age=10"}, 10, id="max-age"),
        pytest.param({"cache-control": "max-age=100, s-maxage=10"}, 10, id="s-maxage-wins"),
        pytest.param({"expires": "EXPIRES+10"}, 10, id="expires"),
        pytest.param({"cache-control": "max-age=30", "age": "20"}, 10, id="upstream-age"),
        pytest.param({"last-modified": "NOW-100"}, 10, id="heuristic-10pct"),
    ],
)
def test_freshness_lifetime(headers: dict[str, str], fresh_for: int) -> None:
    now = time.time()
    resolved = {
        k: (
            email.utils.formatdate(now + 10, usegmt=True)
            if v == "EXPIRES+10"
            else email.utils.formatdate(now - 100, usegmt=True)
            if v == "NOW-100"
            else v
        )
        for k, v in headers.items()
    }
    with edge_setup({"/f": Route(b"F", headers=resolved, etag='"v1"')}) as s:
        s.http.get("/f")
        s.clock.advance(fresh_for - 2)
        assert s.http.get("/f").headers["x-cache"] == "HIT"
        s.clock.advance(4)
        assert s.http.get("/f").headers["x-cache"] == "REVALIDATED"
        assert s.origin.hits["/f"] == 2
        assert s.origin.seen_headers[-1]["if-none-match"] == '"v1"'


@pytest.mark.parametrize(
    "cache_control", ["no-store", "private, max-age=60", "max-age=60, no-store"]
)
def test_not_stored(cache_control: str) -> None:
    with edge_setup({"/p": Route(b"P", headers={"cache-control": cache_control})}) as s:
        assert s.http.get("/p").headers["x-cache"] == "MISS"
        assert s.http.get("/p").headers["x-cache"] == "MISS"
        assert s.origin.hits["/p"] == 2


def test_no_cache_is_stored_but_always_revalidated() -> None:
    with edge_setup({"/n": Route(b"N", headers={"cache-control": "no-cache"}, etag='"n"')}) as s:
        assert s.http.get("/n").headers["x-cache"] == "MISS"
        again = s.http.get("/n")
        assert again.headers["x-cache"] == "REVALIDATED"
        assert again.content == b"N"
        assert s.origin.hits["/n"] == 2


def test_no_freshness_information_is_not_cached() -> None:
    with edge_setup({"/x": Route(b"X")}) as s:
        s.http.get("/x")
        s.http.get("/x")
        assert s.origin.hits["/x"] == 2


def test_revalidation_applies_the_304_headers() -> None:
    route = Route(b"R", headers={"cache-control": "max-age=5", "x-version": "1"}, etag='"r"')
    with edge_setup({"/r": route}) as s:
        s.http.get("/r")
        route.headers["x-version"] = "2"
        s.clock.advance(6)
        revalidated = s.http.get("/r")
        assert revalidated.headers["x-cache"] == "REVALIDATED"
        assert revalidated.headers["x-version"] == "2"
        assert revalidated.content == b"R"
        assert s.http.get("/r").headers["x-cache"] == "HIT"  # fresh again for 5 s


def test_changed_object_replaces_the_stored_one() -> None:
    route = Route(b"old", headers={"cache-control": "max-age=5"}, etag='"1"')
    with edge_setup({"/c": route}) as s:
        s.http.get("/c")
        route.body, route.etag = b"new", '"2"'
        s.clock.advance(6)
        assert s.http.get("/c").content == b"new"
        assert s.http.get("/c").headers["x-cache"] == "HIT"


def test_vary_keeps_variants_apart() -> None:
    route = Route(
        headers={"cache-control": "max-age=60", "vary": "Accept-Language"},
        vary_body="accept-language",
    )
    with edge_setup({"/v": route}) as s:
        assert s.http.get("/v", headers={"Accept-Language": "en"}).content == b"en"
        assert s.http.get("/v", headers={"Accept-Language": "es"}).content == b"es"
        hit = s.http.get("/v", headers={"Accept-Language": "en"})
        assert hit.content == b"en"
        assert hit.headers["x-cache"] == "HIT"
        assert s.http.get("/v", headers={"Accept-Language": "es"}).headers["x-cache"] == "HIT"
        assert s.origin.hits["/v"] == 2


def test_stale_while_revalidate_serves_stale_and_refreshes() -> None:
    route = Route(b"v1", headers={"cache-control": "max-age=1, stale-while-revalidate=30"})
    with edge_setup({"/s": route}) as s:
        s.http.get("/s")
        route.body = b"v2"
        s.clock.advance(5)
        stale = s.http.get("/s")
        assert stale.headers["x-cache"] == "STALE"
        assert stale.content == b"v1"
        wait_until(lambda: s.origin.hits["/s"] == 2 and not s.edge.cache.fills, 10, "refresh")
        fresh = s.http.get("/s")
        assert fresh.headers["x-cache"] == "HIT"
        assert fresh.content == b"v2"


def test_stale_if_error_when_the_origin_is_down_and_recovery() -> None:
    routes = {"/e": Route(b"E", headers={"cache-control": "max-age=1, stale-if-error=60"})}
    clock = FakeClock(time.time())
    origin = ScriptedOrigin(routes, clock=clock)
    port = free_port()
    edge = Edge(
        EdgeConfig(name="pop", upstream=f"http://127.0.0.1:{port}", upstream_timeout_s=2),
        clock=clock,
    )
    with (
        serve_in_thread(edge, lifespan="on") as url,
        httpx.Client(base_url=url, timeout=30) as http,
    ):
        with serve_in_thread(origin, port=port):
            assert http.get("/e").headers["x-cache"] == "MISS"
        clock.advance(5)  # stale now, and the origin is gone
        stale = http.get("/e")
        assert stale.status_code == 200
        assert stale.headers["x-cache"] == "STALE"
        assert stale.content == b"E"
        started = time.monotonic()
        missing = http.get("/not-cached")
        assert missing.status_code == 502
        assert missing.json()["error"]["code"] == "upstream_error"
        assert time.monotonic() - started < 2
        with serve_in_thread(origin, port=port):  # back, without restarting the edge
            recovered = http.get("/e")
            assert recovered.headers["x-cache"] == "MISS"
            assert http.get("/e").headers["x-cache"] == "HIT"


def test_must_revalidate_never_serves_stale_on_error() -> None:
    routes = {
        "/m": Route(
            b"M", headers={"cache-control": "max-age=1, must-revalidate, stale-if-error=60"}
        )
    }
    clock = FakeClock(time.time())
    origin = ScriptedOrigin(routes, clock=clock)
    port = free_port()
    edge = Edge(EdgeConfig(name="pop", upstream=f"http://127.0.0.1:{port}"), clock=clock)
    with (
        serve_in_thread(edge, lifespan="on") as url,
        httpx.Client(base_url=url, timeout=30) as http,
    ):
        with serve_in_thread(origin, port=port):
            http.get("/m")
        clock.advance(5)
        assert http.get("/m").status_code == 502


def test_upstream_timeout_gives_504_within_the_limit() -> None:
    hold = threading.Event()
    with edge_setup({"/slow": Route(b"S", hold=hold)}, upstream_timeout_s=1.0) as s:
        started = time.monotonic()
        response = s.http.get("/slow")
        elapsed = time.monotonic() - started
        hold.set()
        assert response.status_code == 504
        assert response.json()["error"]["code"] == "upstream_timeout"
        assert elapsed < 3


def test_truncated_body_is_aborted_and_never_cached() -> None:
    body = b"x" * 300_000
    route = Route(body, headers={"cache-control": "max-age=60"}, truncate_at=100_000)
    with edge_setup({"/t": route}) as s:
        with pytest.raises(httpx.RemoteProtocolError):
            s.http.get("/t")
        route.truncate_at = None
        whole = s.http.get("/t")
        assert whole.headers["x-cache"] == "MISS"  # the broken fill was not stored
        assert whole.content == body
        assert s.origin.hits["/t"] == 2


def test_ranges_from_the_cache_and_on_a_miss() -> None:
    body = bytes(range(256)) * 100
    with edge_setup({"/seg": Route(body, headers={"cache-control": "max-age=60"})}) as s:
        miss = s.http.get("/seg", headers={"Range": "bytes=10-19"})
        assert miss.status_code == 206
        assert miss.content == body[10:20]
        hit = s.http.get("/seg", headers={"Range": "bytes=-5"})
        assert hit.status_code == 206
        assert hit.headers["x-cache"] == "HIT"
        assert hit.headers["content-range"] == f"bytes {len(body) - 5}-{len(body) - 1}/{len(body)}"
        assert hit.content == body[-5:]
        assert s.http.get("/seg", headers={"Range": f"bytes={len(body)}-"}).status_code == 416
        assert s.http.get("/seg").content == body
        assert s.origin.hits["/seg"] == 1  # the range miss filled the whole object


def test_a_range_on_a_miss_is_sent_as_soon_as_its_bytes_arrive() -> None:
    """The first bytes of a large object reach the client that asked for them while the rest
    is still on its way (a player's first range of a long file), and a range past what has
    arrived waits for it; the object is stored whole all the same."""
    body = bytes(range(256)) * 4096  # 1 MiB
    resume = threading.Event()
    route = Route(body, headers={"cache-control": "max-age=60"}, pause_at=64 << 10, resume=resume)
    with edge_setup({"/big": route}) as s:
        try:
            head = s.http.get("/big", headers={"Range": "bytes=100-199"}, timeout=5)
            assert head.status_code == 206
            assert head.headers["content-range"] == f"bytes 100-199/{len(body)}"
            assert head.content == body[100:200]
            with ThreadPoolExecutor(1) as pool:  # beyond what has arrived: it waits
                tail = pool.submit(s.http.get, "/big", headers={"Range": "bytes=-100"})
                time.sleep(0.5)
                assert not tail.done()
                resume.set()
                assert tail.result().content == body[-100:]
        finally:
            resume.set()
        assert s.http.get("/big").headers["x-cache"] == "HIT"
        assert s.origin.hits["/big"] == 1


def test_a_range_of_a_body_of_unknown_length_is_sent_once_it_is_whole() -> None:
    body = bytes(range(256)) * 1024
    with edge_setup(
        {"/c": Route(body, headers={"cache-control": "max-age=60"}, chunked=True)}
    ) as s:
        tail = s.http.get("/c", headers={"Range": "bytes=-300"})
        assert tail.status_code == 206
        assert (
            tail.headers["content-range"] == f"bytes {len(body) - 300}-{len(body) - 1}/{len(body)}"
        )
        assert tail.content == body[-300:]
        assert s.http.get("/c").content == body
        assert s.origin.hits["/c"] == 1


def test_a_range_is_answered_only_if_if_range_names_the_validator() -> None:
    body = bytes(range(256)) * 100
    date = email.utils.formatdate(1_700_000_000, usegmt=True)
    headers = {"cache-control": "max-age=60", "last-modified": date}
    with edge_setup({"/r": Route(body, headers=headers, etag='"r1"')}) as s:
        other_date = email.utils.formatdate(1_600_000_000, usegmt=True)
        # the first on a miss, as the fill streams; a weak tag never matches (§13.1.5)
        cases = [('"r0"', 200), ('"r1"', 206), ('W/"r1"', 200), (date, 206), (other_date, 200)]
        for if_range, status in cases:
            got = s.http.get("/r", headers={"Range": "bytes=0-9", "If-Range": if_range})
            expected = body[:10] if status == 206 else body
            assert (got.status_code, got.content) == (status, expected), if_range
        assert s.origin.hits["/r"] == 1


def test_conditional_requests_answered_from_the_cache() -> None:
    route = Route(b"C", headers={"cache-control": "max-age=60"}, etag='"c1"')
    with edge_setup({"/c": route}) as s:
        s.http.get("/c")
        response = s.http.get("/c", headers={"If-None-Match": '"c1"'})
        assert response.status_code == 304
        assert s.origin.hits["/c"] == 1


def test_if_match_and_if_unmodified_since_are_answered_as_the_origin_would() -> None:
    """§13.2.2: a precondition the stored (or arriving) response fails is a 412, on a miss
    as on a hit; the origin never sees them (one fill serves every client)."""
    modified = email.utils.formatdate(1_700_000_000, usegmt=True)
    before = email.utils.formatdate(1_600_000_000, usegmt=True)
    headers = {"cache-control": "max-age=60", "last-modified": modified}
    routes = {
        "/m": Route(b"M", headers=headers, etag='"m1"'),
        "/w": Route(b"W", headers={**headers, "etag": 'W/"w1"'}),
    }
    cases = [
        ("/m", {"If-Match": '"m0"'}, 412),  # first: on the miss, as the fill arrives
        ("/m", {"If-Match": '"m0", "m1"'}, 200),
        ("/m", {"If-Match": "*"}, 200),
        ("/m", {"If-Match": '"m0"'}, 412),  # and on a hit
        ("/m", {"If-Unmodified-Since": modified}, 200),
        ("/m", {"If-Unmodified-Since": before}, 412),
        ("/m", {"If-Match": '"m1"', "If-Unmodified-Since": before}, 200),  # If-Match wins
        ("/m", {"If-Match": '"m1"', "Range": "bytes=0-0"}, 206),
        ("/w", {"If-Match": 'W/"w1"'}, 412),  # a weak tag never matches strongly
        ("/w", {"If-Match": 'W/"w1"'}, 412),
    ]
    with edge_setup(routes) as s:
        for path, conditions, status in cases:
            got = s.http.get(path, headers=conditions)
            assert got.status_code == status, (path, conditions)
            if status == 412:
                assert got.json()["error"]["code"] == "precondition_failed"
        assert s.origin.hits == {"/m": 1, "/w": 1}
        assert all("if-match" not in seen for seen in s.origin.seen_headers)


def test_unsafe_methods_pass_through_and_invalidate() -> None:
    routes = {"/u": Route(b"U", headers={"cache-control": "max-age=60"})}
    with edge_setup(routes) as s:
        s.http.get("/u")
        assert s.http.get("/u").headers["x-cache"] == "HIT"
        posted = s.http.post("/u", content=b"data")
        assert posted.headers["x-cache"] == "BYPASS"
        assert s.http.get("/u").headers["x-cache"] == "MISS"
        assert s.origin.hits["/u"] == 3
        authorized = s.http.get("/u", headers={"Authorization": "Bearer x"})
        assert authorized.headers["x-cache"] == "BYPASS"


def test_a_push_over_an_eighth_of_the_memory_tier_is_kept_on_disk_only() -> None:
    """A response in flight holds the body it sends: the memory tier keeps none over an eighth
    of it, pushed or fetched (with a disk tier, a larger push is stored there)."""
    with edge_setup({}, capacity_bytes=8 << 10) as s:
        pushed = s.http.put(
            "/admin/objects/vod/c/big.bin",
            content=b"x" * (2 << 10),
            headers={**ADMIN, "Cache-Control": "max-age=60"},
        )
        assert pushed.json()["stored"] is ("cache_dir" in TIER)


def test_admin_needs_credentials_then_purges_and_pushes() -> None:
    routes = {
        f"/vod/a/{n}.m4s": Route(b"seg", headers={"cache-control": "max-age=600"}) for n in range(3)
    }
    routes["/vod/b/0.m4s"] = Route(b"other", headers={"cache-control": "max-age=600"})
    with edge_setup(routes) as s:
        assert s.http.post("/admin/purge", json={}).status_code == 401
        assert (
            s.http.post(
                "/admin/purge", json={}, headers={"Authorization": "Bearer nope"}
            ).status_code
            == 403
        )
        for path in routes:
            s.http.get(path)
        purge = s.http.post("/admin/purge", json={"prefixes": ["/vod/a/"]}, headers=ADMIN)
        assert purge.json() == {"purged": 3}
        assert s.http.get("/vod/a/0.m4s").headers["x-cache"] == "MISS"
        assert s.http.get("/vod/b/0.m4s").headers["x-cache"] == "HIT"
        one = s.http.post("/admin/purge", json={"urls": ["/vod/b/0.m4s"]}, headers=ADMIN)
        assert one.json() == {"purged": 1}
        pushed = s.http.put(
            "/admin/objects/vod/c/master.m3u8",
            content=b"#EXTM3U\n",
            headers={
                **ADMIN,
                "Content-Type": "application/vnd.apple.mpegurl",
                "Cache-Control": "max-age=60",
            },
        )
        assert pushed.json()["stored"] is True
        served = s.http.get("/vod/c/master.m3u8")
        assert served.headers["x-cache"] == "HIT"
        assert served.content == b"#EXTM3U\n"
        assert s.origin.hits["/vod/c/master.m3u8"] == 0
        prefetch = s.http.post("/admin/prefetch", json={"urls": ["/vod/a/2.m4s"]}, headers=ADMIN)
        assert prefetch.json()["prefetched"]["/vod/a/2.m4s"] == "stored"
        assert s.http.get("/vod/a/2.m4s").headers["x-cache"] == "HIT"


def test_a_pushed_or_purged_url_is_keyed_as_a_clients_request_for_it() -> None:
    """A push names its object as clients ask for it: percent-encodings as sent (a segment
    named with a space was stored under the decoded name, and no request ever hit it), dot
    segments resolved, as are the URLs a purge names."""
    with edge_setup({}) as s:
        fresh = {**ADMIN, "Cache-Control": "max-age=60"}
        for url in ("/v/a%20b/0.m4s", "/v/caf%C3%A9.m4s", "/v/x%2Fy.m4s", "/v/q.m3u8?t=%20"):
            pushed = s.http.put(f"/admin/objects{url}", content=b"pushed", headers=fresh)
            assert pushed.json() == {"stored": True, "url": url}
            got = s.http.get(url)
            assert (got.headers["x-cache"], got.content) == ("HIT", b"pushed"), url
        purged = s.http.post("/admin/purge", json={"urls": ["/v/z/../a%20b/0.m4s"]}, headers=ADMIN)
        assert purged.json() == {"purged": 1}
        assert s.http.get("/v/a%20b/0.m4s").headers["x-cache"] != "HIT"
        # a purge may name them as a person writes them: a space, a letter outside ASCII
        written = {"urls": ["/v/café.m4s"], "prefixes": ["/v/q.m3u8?t= "]}
        assert s.http.post("/admin/purge", json=written, headers=ADMIN).json() == {"purged": 2}
        assert s.http.get("/v/caf%C3%A9.m4s").headers["x-cache"] != "HIT"


def test_admin_bodies_that_are_no_json_object_get_a_json_error() -> None:
    """Not JSON, nested past any purge's shape (a parser would run out of stack), or no
    object: each a 400 with a code, and the POP goes on."""
    deep = b'{"urls": ' + b"[" * 50_000 + b"]" * 50_000 + b"}"
    with edge_setup({"/a": Route(b"a", headers={"cache-control": "max-age=600"})}) as s:
        for path in ("/admin/purge", "/admin/prefetch"):
            for body in (b"{not json", deep, b"[]", b"\xff"):
                refused = s.http.post(path, content=body, headers=ADMIN)
                assert refused.status_code == 400, (path, body[:20])
                assert refused.json()["error"]["code"] == "invalid_json"
        assert s.http.post("/admin/purge", json={"urls": ["/a"]}, headers=ADMIN).status_code == 200


def test_segment_prefetch_fetches_the_next_segments() -> None:
    routes = {
        f"/r/{n}.m4s": Route(b"s" * 1000, headers={"cache-control": "max-age=600"})
        for n in range(6)
    }
    with edge_setup(routes, prefetch_segments=2) as s:
        s.http.get("/r/0.m4s")
        wait_until(
            lambda: s.origin.hits["/r/2.m4s"] == 1 and not s.edge.cache.fills, 10, "prefetch"
        )
        assert s.http.get("/r/1.m4s").headers["x-cache"] == "HIT"
        assert s.origin.hits["/r/3.m4s"] <= 1


def test_observability() -> None:
    with edge_setup({"/o": Route(b"O", headers={"cache-control": "max-age=60"})}) as s:
        s.http.get("/o")
        s.http.get("/o")
        stats = s.http.get("/stats").json()
        assert stats["name"] == "test-pop"
        assert stats["results"] == {"MISS": 1, "HIT": 1}
        assert stats["hit_ratio"] == 0.5
        on_disk = "disk_objects" in stats
        assert (stats["cache_objects"], stats.get("disk_objects")) == (
            (0, 1) if on_disk else (1, None)
        )
        assert stats["upstream_requests"] == 1
        metrics = s.http.get("/metrics").text
        assert ("mediacdn_edge_disk_objects 1" in metrics) == on_disk
        assert 'mediacdn_edge_responses_total{cache="HIT",status="200"} 1' in metrics
        assert "mediacdn_edge_upstream_received_bytes_total" in metrics
        assert s.http.get("/healthz").json()["status"] == "ok"


def test_tilde_paths_that_are_not_tokens_are_ordinary_paths() -> None:
    routes = {"/~alice/page.html": Route(b"home", headers={"cache-control": "max-age=60"})}
    with edge_setup(routes) as s:
        first = s.http.get("/~alice/page.html")
        assert first.status_code == 200
        assert first.content == b"home"
        assert s.http.get("/~alice/page.html").headers["x-cache"] == "HIT"


def test_surrogate_control_targeted_at_this_pop_by_its_capability() -> None:
    """The POP tells upstream its device token (Surrogate-Capability) and obeys Surrogate-Control
    directives targeted at it, over Cache-Control, and not those targeted at another."""
    ours = {"cache-control": "no-store", "surrogate-control": "max-age=600;test-pop"}
    theirs = {"cache-control": "no-store", "surrogate-control": "max-age=600;other-cdn"}
    routes = {"/ours": Route(b"O", headers=ours), "/theirs": Route(b"T", headers=theirs)}
    with edge_setup(routes) as s:
        for path in routes:
            s.http.get(path)
        assert s.origin.seen_headers[-1]["surrogate-capability"] == 'test-pop="Surrogate/1.0"'
        ours_again, theirs_again = s.http.get("/ours"), s.http.get("/theirs")
        assert ours_again.headers["x-cache"] == "HIT"
        assert "surrogate-control" not in ours_again.headers  # for this POP alone
        assert theirs_again.headers["x-cache"] == "MISS"


def test_a_fill_invalidated_while_it_came_is_not_stored() -> None:
    """A response still arriving when an unsafe request invalidates its URL may predate the
    change: the client that asked gets it, nobody after."""
    hold = threading.Event()
    routes = {
        "/doc": Route(b"old", headers={"cache-control": "max-age=60"}, hold=hold),
        "/edit": Route(b"done", headers={"location": "/doc"}),
    }
    with edge_setup(routes) as s:
        first: list[httpx.Response] = []
        reader = threading.Thread(target=lambda: first.append(s.http.get("/doc")))
        reader.start()
        wait_until(lambda: s.origin.hits["/doc"] == 1, 10, "the fill reaches the origin")
        with httpx.Client(base_url=str(s.http.base_url), timeout=10) as other:
            assert other.post("/edit", content=b"x").status_code == 200
        hold.set()
        reader.join(10)
        assert first[0].content == b"old"
        assert s.http.get("/doc").headers["x-cache"] == "MISS"
        assert s.origin.hits["/doc"] == 2


def test_the_pops_own_endpoints_take_get_and_head_only() -> None:
    with edge_setup({}) as s:
        for path in ("/healthz", "/readyz", "/stats", "/metrics"):
            assert s.http.get(path).status_code in (200, 503)
            for method in ("POST", "DELETE", "PUT"):
                refused = s.http.request(method, path)
                assert refused.status_code == 405, (method, path)
                assert refused.json()["error"]["code"] == "method_not_allowed"
                assert refused.headers["allow"] == "GET, HEAD"
