"""Request targets reach the upstream as the client sent them, through a real `mediacdn edge`
process in front of an upstream that answers with the target it received: a path that starts
with "//" (a player's sloppy join of a base URL and a path) stays a path, percent-encodings stay
as they were, an absolute-form target asks for its path of this POP's upstream and no other
host, dot segments are resolved and never climb above the base path in `--upstream`, which
comes first, and "*" is a clear 400."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest

from httprules.asgi import Receive, Scope, Send
from tests.support.asgi_server import serve_in_thread
from tests.support.edges import edge_process
from tests.support.raw_http import raw_get
from tests.support.servers import free_port, run_cli


async def echo_target(scope: Scope, receive: Receive, send: Send) -> None:
    """An upstream whose body is the request target it received, as octets."""
    if scope["type"] != "http":
        return
    target = scope["raw_path"] + (b"?" + scope["query_string"] if scope["query_string"] else b"")
    headers = [(b"cache-control", b"public, max-age=60"), (b"content-length", b"%d" % len(target))]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": target})


@pytest.mark.parametrize("base", ["", "/media"])
def test_the_upstream_is_asked_for_the_target_as_sent(tmp_path: Path, base: str) -> None:
    with (
        serve_in_thread(echo_target) as upstream,
        edge_process(tmp_path, upstream + base) as edge,
    ):
        for target, seen in [
            ("//v/abc/1.m4s", "//v/abc/1.m4s"),
            ("/v//abc/2.m4s?x=1", "/v//abc/2.m4s?x=1"),
            ("/a%3Fb", "/a%3Fb"),
            ("/a?b", "/a?b"),
            ("/a%2Fb", "/a%2Fb"),
            ("http://elsewhere.example/v/3.m4s?y=2", "/v/3.m4s?y=2"),
            ("/v/x/../abc/4.m4s", "/v/abc/4.m4s"),  # dot segments resolved (RFC 3986)
            ("/../../etc/passwd", "/etc/passwd"),  # never above the base path
            ("/v/%2e%2e/%2E%2e/etc/passwd", "/etc/passwd"),
        ]:
            for _ in range(2):  # the fill, then the stored copy
                response = raw_get(edge, target)
                assert (response.status, response.body) == (200, (base + seen).encode()), target
        refused = raw_get(edge, "*")
        assert refused.status == 400
        assert json.loads(refused.body)["error"]["code"] == "invalid_target"


def test_a_pop_that_is_its_own_upstream_refuses_the_loop(tmp_path: Path) -> None:
    """A request that comes back to a POP it went through (its Via names it: a tier set up
    in a circle, or a POP its own upstream) is a 508 at once, not a chain of requests to
    itself that ends when a timeout or a limit does."""
    port = free_port()
    with edge_process(tmp_path, f"http://127.0.0.1:{port}", port=port) as edge:
        for send in (httpx.get, httpx.post):
            started = time.monotonic()
            looped = send(edge + "/a", timeout=30)
            assert looped.status_code == 508
            assert looped.json()["error"]["code"] == "loop_detected"
            assert time.monotonic() - started < 5
        assert httpx.get(edge + "/a", headers={"via": "1.1 elsewhere"}).status_code == 508


@pytest.mark.parametrize(
    ("option", "url", "said"),
    [
        ("--upstream", "origin:8080", "give an http:// or https:// URL with a host"),
        ("--upstream", "http://", "give an http:// or https:// URL with a host"),
        ("--upstream", "http://origin/media?x=1", "a base URL has no query or fragment"),
        ("--upstream", "http://origin:port/", "--upstream 'http://origin:port/'"),
        ("--router", "router:8090", "--router 'router:8090': give an http://"),
    ],
)
def test_a_url_that_no_request_could_reach_is_refused_at_start(
    tmp_path: Path, option: str, url: str, said: str
) -> None:
    """A typo in where the POP sends requests stops it at once with what is wrong, not a POP
    that answers every miss with a 502."""
    given = [option, url] if option == "--upstream" else ["--upstream", "http://127.0.0.1:9"]
    given += [] if option == "--upstream" else [option, url]
    fixed = ["--name", "pop", "--admin-key", "a", "--data-dir", str(tmp_path)]
    done = run_cli("edge", *fixed, *given, timeout_s=60)
    assert done.returncode != 0
    assert said in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
