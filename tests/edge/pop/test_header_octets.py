"""Header values pass through a real `mediacdn edge` process as the octets that were sent, both
ways: whitespace around a client's value is not part of it (RFC 9110 §5.5) and is dropped, not
sent upstream to fail there; non-ASCII octets (obs-text: UTF-8 in a User-Agent or a file
name) go upstream and back to clients unchanged, on a miss and on a hit."""

from __future__ import annotations

from pathlib import Path

from httprules.asgi import Receive, Scope, Send
from tests.support.asgi_server import serve_in_thread
from tests.support.edges import edge_in_front, edge_process
from tests.support.raw_http import raw_get
from tests.support.scripted_origin import Route, ScriptedOrigin

NAME = "Zoë – ça"  # UTF-8 on the wire: octets outside ASCII


def test_whitespace_around_a_request_value_is_dropped(tmp_path: Path) -> None:
    origin = ScriptedOrigin({"/a": Route(b"a", headers={"cache-control": "no-store"})})
    with edge_in_front(tmp_path, origin) as edge:
        response = raw_get(edge, "/a", [b"X-Test-Name: trailing space ", b"X-Tabs: \ta\tb\t"])
        assert response.status == 200
        seen = origin.seen_headers[-1]
        assert seen["x-test-name"] == "trailing space"
        assert seen["x-tabs"] == "a\tb"  # inner whitespace is the value's own


def test_non_ascii_octets_pass_both_ways_unchanged(tmp_path: Path) -> None:
    disposition = f'attachment; filename="{NAME}.mp4"'
    origin = ScriptedOrigin(
        {
            "/file": Route(
                b"x",
                headers={"cache-control": "public, max-age=60", "content-disposition": disposition},
            )
        }
    )
    with edge_in_front(tmp_path, origin) as edge:
        agent = f"Player/1.0 ({NAME})".encode()
        for expected in (b"MISS", b"HIT"):
            response = raw_get(edge, "/file", [b"User-Agent: " + agent])
            assert response.status == 200
            got = dict(response.fields)
            assert got[b"x-cache"] == expected
            assert got[b"content-disposition"] == disposition.encode()  # the origin's octets
        assert origin.seen_headers[0]["user-agent"] == agent.decode()  # the client's octets


async def two_cookies(scope: Scope, receive: Receive, send: Send) -> None:
    """An upstream that sets two cookies, each in a field of its own, as a login does."""
    if scope["type"] != "http":
        return
    fields = [(b"set-cookie", b"sid=1; Path=/; HttpOnly"), (b"set-cookie", b"csrf=2; Path=/")]
    fields += [(b"x-list", b"one"), (b"x-list", b"two"), (b"content-length", b"2")]
    await send({"type": "http.response.start", "status": 200, "headers": fields})
    await send({"type": "http.response.body", "body": b"ok"})


def test_each_cookie_keeps_its_own_field(tmp_path: Path) -> None:
    """Set-Cookie is no list (RFC 9110 §5.3): joined with a comma a browser reads one cookie,
    so each reaches the client as it was sent, on a fill and on a pass (Authorization). Cookies
    a client sent in several fields (as HTTP/2 does) go upstream as one, joined by "; "."""
    with serve_in_thread(two_cookies) as upstream, edge_process(tmp_path, upstream) as edge:
        for sent in ([], [b"Authorization: Bearer x"]):
            response = raw_get(edge, "/login", sent)
            assert response.status == 200
            cookies = response.values(b"set-cookie")
            assert cookies == [b"sid=1; Path=/; HttpOnly", b"csrf=2; Path=/"]
            assert response.values(b"x-list") == [b"one, two"]  # a list: joined
    origin = ScriptedOrigin({"/a": Route(b"a", headers={"cache-control": "no-store"})})
    with edge_in_front(tmp_path, origin) as edge:
        assert raw_get(edge, "/a", [b"Cookie: a=1", b"Cookie: b=2; c=3"]).status == 200
        assert origin.seen_headers[-1]["cookie"] == "a=1; b=2; c=3"


class CookiesOnRevalidation:
    """An upstream of one validated page: a 200 first, then 304s, the second of which sets
    two cookies."""

    def __init__(self) -> None:
        self.requests = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        self.requests += 1
        fields = [(b"cache-control", b"public, no-cache"), (b"etag", b'"v1"')]
        if self.requests == 2:
            fields += [(b"set-cookie", b"sid=1; Path=/"), (b"set-cookie", b"csrf=2; Path=/")]
        if self.requests == 1:
            fields.append((b"content-length", b"4"))
            await send({"type": "http.response.start", "status": 200, "headers": fields})
            await send({"type": "http.response.body", "body": b"page"})
            return
        await send({"type": "http.response.start", "status": 304, "headers": fields})
        await send({"type": "http.response.body", "body": b""})


def test_cookies_a_304_sets_reach_only_their_client_each_in_its_own_field(
    tmp_path: Path,
) -> None:
    upstream_app = CookiesOnRevalidation()
    with serve_in_thread(upstream_app) as upstream, edge_process(tmp_path, upstream) as edge:
        assert raw_get(edge, "/page").values(b"set-cookie") == []
        alice = raw_get(edge, "/page")
        assert (alice.status, alice.body) == (200, b"page")
        assert alice.values(b"set-cookie") == [b"sid=1; Path=/", b"csrf=2; Path=/"]
        bob = raw_get(edge, "/page")
        assert (bob.status, bob.body, bob.values(b"set-cookie")) == (200, b"page", [])
        assert upstream_app.requests == 3
