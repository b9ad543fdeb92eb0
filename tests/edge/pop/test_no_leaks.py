"""A shared cache never leaks one user's response or state to another, with a real `mediacdn
edge` process: no cookie jar in its upstream client, no collapsing onto a response for another
variant or a personal one, personal responses (setting cookies, private to CDNs) never stored,
X-Forwarded-For and Via appended, and no field added that the client did not send."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.support.asgi_server import serve_in_thread
from tests.support.edges import edge_in_front, edge_process
from tests.support.raw_http import raw_get
from tests.support.scripted_origin import Route, ScriptedOrigin

PUBLIC = {"cache-control": "public, max-age=60"}


def concurrently(
    url: str,
    path: str,
    headers: list[dict[str, str]],
    hold: threading.Event,
    origin: ScriptedOrigin,
) -> list[httpx.Response]:
    """Send one request per header set at once; release the origin once all are in."""

    async def run() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=url, timeout=30) as http:
            tasks = [asyncio.create_task(http.get(path, headers=h)) for h in headers]
            for _ in range(1000):  # up to 10 s for the first to reach the origin
                if origin.hits[path]:
                    break
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.3)  # the others reach the POP and wait on the first fill
            hold.set()
            return await asyncio.gather(*tasks)

    return asyncio.run(run())


def test_no_cookie_jar_upstream(tmp_path: Path) -> None:
    origin = ScriptedOrigin(
        {
            "/login": Route(b"hi", headers={"set-cookie": "sid=alice; Path=/"}),
            "/other": Route(b"x", headers={"cache-control": "no-store"}),
        }
    )
    with edge_in_front(tmp_path, origin) as edge:
        login = httpx.get(edge + "/login", timeout=10)
        assert login.headers["set-cookie"] == "sid=alice; Path=/"  # to alice, as sent
        httpx.get(edge + "/other", timeout=10)
        assert "cookie" not in origin.seen_headers[-1]  # bob's request carries no alice cookie
        httpx.get(edge + "/other", headers={"cookie": "sid=bob"}, timeout=10)
        assert origin.seen_headers[-1]["cookie"] == "sid=bob"  # a client's own cookie passes


def test_an_answer_that_varies_on_cookie_is_kept_per_cookie(tmp_path: Path) -> None:
    """A request's cookie does not keep its answer from being stored (as at nginx and CDNs):
    an upstream that answers by cookie says so with `Vary: Cookie`, and each cookie, and no
    cookie, gets its own stored answer."""
    origin = ScriptedOrigin(
        {"/me": Route(b"", headers={**PUBLIC, "vary": "Cookie"}, vary_body="cookie")}
    )
    with edge_in_front(tmp_path, origin) as edge:
        seen = []
        for cookie in ["sid=alice", "sid=bob", None, "sid=alice", "sid=bob", None]:
            headers = {"cookie": cookie} if cookie else {}
            r = httpx.get(edge + "/me", headers=headers, timeout=10)
            seen.append((r.text, r.headers["x-cache"]))
        first = [("sid=alice", "MISS"), ("sid=bob", "MISS"), ("none", "MISS")]
        assert seen == first + [(text, "HIT") for text, _ in first]
        assert origin.hits["/me"] == 3


@contextmanager
def pop(tmp_path: Path, origin: ScriptedOrigin, workers: int) -> Iterator[str]:
    """A `mediacdn edge` process in front of `origin`: one worker, or several sharing one
    cache (a disk tier), each fetching what the others' clients ask for from the worker that
    owns the URL."""
    extra = ["--workers", str(workers)]
    if workers > 1:
        extra += ["--cache-dir", str(tmp_path / "cache")]
    with serve_in_thread(origin) as upstream, edge_process(tmp_path, upstream, *extra) as edge:
        yield edge


@pytest.mark.parametrize("workers", [1, 2])
def test_collapsing_waits_for_vary_before_sharing(tmp_path: Path, workers: int) -> None:
    hold = threading.Event()
    origin = ScriptedOrigin(
        {"/me": Route(b"", headers={**PUBLIC, "vary": "X-User"}, hold=hold, vary_body="x-user")}
    )
    users = ["alice", "bob", "carol", "alice", "dave", "erin"]
    with pop(tmp_path, origin, workers) as edge:
        responses = concurrently(edge, "/me", [{"x-user": u} for u in users], hold, origin)
        assert [r.text for r in responses] == users
        # the second alice shares the first alice's fetch in one worker; between workers only
        # when she reaches the owner's fill for her variant while it is in flight
        assert origin.hits["/me"] == 5 or (workers > 1 and origin.hits["/me"] == 6)
        again = httpx.get(edge + "/me", headers={"x-user": "bob"}, timeout=10)
        assert again.text == "bob"
        assert again.headers["x-cache"] == "HIT"


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize(
    "personal",
    [
        pytest.param({"set-cookie": "sid=alice"}, id="set-cookie"),
        pytest.param({"cdn-cache-control": "private, max-age=60"}, id="private-to-cdns"),
    ],
)
def test_personal_responses_are_never_stored_nor_shared(
    tmp_path: Path, personal: dict[str, str], workers: int
) -> None:
    hold = threading.Event()
    origin = ScriptedOrigin(
        {"/page": Route(b"for alice", headers={**PUBLIC, **personal}, hold=hold)}
    )
    with pop(tmp_path, origin, workers) as edge:
        responses = concurrently(edge, "/page", [{}] * 5, hold, origin)
        assert origin.hits["/page"] == 5  # each got its own fetch, none the first one's
        assert all(r.headers["x-cache"] == "MISS" for r in responses)
        later = httpx.get(edge + "/page", timeout=10)
        assert later.headers["x-cache"] == "MISS"  # never stored
        assert origin.hits["/page"] == 6


def test_forwarded_for_and_via_are_appended(tmp_path: Path) -> None:
    origin = ScriptedOrigin({"/a": Route(b"a", headers={"cache-control": "no-store"})})
    with edge_in_front(tmp_path, origin) as edge:
        response = httpx.get(
            edge + "/a",
            headers={
                "x-forwarded-for": "203.0.113.9",
                "forwarded": "for=203.0.113.9",
                "via": "1.1 client-proxy",
            },
            timeout=10,
        )
        seen = origin.seen_headers[-1]
        assert seen["x-forwarded-for"] == "203.0.113.9, 127.0.0.1"
        # RFC 7239: the address the POP got the request from is the last element
        assert seen["forwarded"] == "for=203.0.113.9, for=127.0.0.1;proto=http"
        assert seen["via"] == "1.1 client-proxy, 1.1 pop"
        assert response.headers["via"].endswith("1.1 pop")
        httpx.get(edge + "/a", timeout=10)
        assert origin.seen_headers[-1]["x-forwarded-for"] == "127.0.0.1"
        assert origin.seen_headers[-1]["forwarded"] == "for=127.0.0.1;proto=http"
        assert origin.seen_headers[-1]["via"] == "1.1 pop"
        # Via says the version of HTTP the request came in with (RFC 9110 §7.6.3)
        old = raw_get(edge, "/a", [b"Via: 1.0 client-proxy"], version="1.0")
        assert old.status == 200
        assert origin.seen_headers[-1]["via"] == "1.0 client-proxy, 1.0 pop"


def test_a_request_goes_upstream_with_the_clients_fields_only(tmp_path: Path) -> None:
    """No field the client did not send (an HTTP library's Accept-Encoding would have the
    upstream compress for a client that cannot decode it), none the client's Connection names
    for the POP alone (RFC 9110 §7.6.1)."""
    coded = Route(b"", headers={**PUBLIC, "vary": "Accept-Encoding"}, vary_body="accept-encoding")
    origin = ScriptedOrigin(
        {"/coded": coded, "/a": Route(b"a", headers={"cache-control": "no-store"})}
    )
    with edge_in_front(tmp_path, origin) as edge:
        plain = raw_get(edge, "/coded")
        assert plain.status == 200
        assert plain.body == b"none"  # the upstream was asked for no coding, as the client
        seen = origin.seen_headers[-1]
        assert not {"accept", "accept-encoding", "user-agent"} & seen.keys()
        gzip = raw_get(edge, "/coded", [b"Accept-Encoding: gzip", b"User-Agent: player/1"])
        assert gzip.body == b"gzip"
        assert origin.seen_headers[-1]["user-agent"] == "player/1"
        raw_get(edge, "/a", [b"Connection: X-Hop, Keep-Alive", b"X-Hop: 1", b"X-Kept: 2"])
        seen = origin.seen_headers[-1]
        assert "x-hop" not in seen
        assert seen["x-kept"] == "2"


@pytest.mark.parametrize("workers", [1, 2])
def test_a_cookie_set_on_revalidation_is_never_stored(tmp_path: Path, workers: int) -> None:
    """A 304 that sets a cookie (or turns the response private) is for the client who asked:
    the stored copy does not take its fields, and the next users get none of them (in one
    process; and in two workers sharing a disk tier, whichever validates)."""
    page = Route(b"page", headers={"cache-control": "public, no-cache"}, etag='"v1"')
    origin = ScriptedOrigin({"/page": page})
    with pop(tmp_path, origin, workers) as edge:
        assert "set-cookie" not in httpx.get(edge + "/page", timeout=10).headers
        page.headers["set-cookie"] = "sid=alice"
        alice = httpx.get(edge + "/page", timeout=10)
        assert alice.text == "page"
        assert alice.headers["set-cookie"] == "sid=alice"  # hers, on her revalidation
        del page.headers["set-cookie"]
        for _ in range(6):  # on new connections: to each worker
            bob = httpx.get(edge + "/page", timeout=10)
            assert bob.text == "page"
            assert "set-cookie" not in bob.headers
        page.headers["cache-control"] = "private, no-cache"
        carol = httpx.get(edge + "/page", timeout=10)
        assert carol.headers["cache-control"] == "private, no-cache"
        page.headers["cache-control"] = "public, no-cache"
        page.headers["x-for"] = "dave"
        dave = httpx.get(edge + "/page", timeout=10)
        assert dave.text == "page"
        assert dave.headers["cache-control"] == "public, no-cache"
        assert origin.hits["/page"] == 10  # each validated


def test_the_upstreams_own_urls_come_back_as_paths_on_the_pop(tmp_path: Path) -> None:
    """A redirect to the origin's address would take the client off the CDN (to an address
    it may not reach) and name the origin to it: Location and Content-Location on the
    upstream become paths on the POP, stored that way, and invalidate what they name; a
    URL on any other host is passed on as it came."""
    origin = ScriptedOrigin()
    with serve_in_thread(origin) as upstream, edge_process(tmp_path, upstream) as edge:
        host = upstream.removeprefix("http://")
        origin.routes.update(
            {
                "/old": Route(b"", 301, {**PUBLIC, "location": f"{upstream}/new?x=1"}),
                "/new?x=1": Route(b"new", headers=PUBLIC),
                "/away": Route(b"", 302, {"location": "https://elsewhere.example/a"}),
                "/other-port": Route(b"", 302, {"location": "http://127.0.0.1:1/a"}),
                "/items": Route(
                    b"made",
                    201,
                    {"location": f"HTTP://{host.upper()}/items/7", "content-location": "/items"},
                ),
                "/items/7": Route(b"seven", headers=PUBLIC),
            }
        )
        with httpx.Client(base_url=edge, timeout=10) as http:
            for _ in range(2):  # a miss, then the stored redirect
                moved = http.get("/old")
                assert moved.status_code == 301
                assert moved.headers["location"] == "/new?x=1"
            assert moved.headers["x-cache"] == "HIT"
            assert http.get("/old", follow_redirects=True).text == "new"
            assert http.get("/away").headers["location"] == "https://elsewhere.example/a"
            assert http.get("/other-port").headers["location"] == "http://127.0.0.1:1/a"
            assert http.get("/items/7").text == "seven"
            assert http.get("/items/7").headers["x-cache"] == "HIT"
            made = http.post("/items", content=b"{}")
            assert made.headers["location"] == "/items/7"
            assert http.get("/items/7").headers["x-cache"] == "MISS"  # invalidated by it
    assert upstream not in str(moved.headers)
