"""Request collapsing under a thundering herd, and tiered fill (edges → shield → origin)."""

from __future__ import annotations

import asyncio
import hashlib
import os
import threading
import time
from contextlib import ExitStack
from pathlib import Path

import httpx

from edge.pop.app import Edge, EdgeConfig
from tests.support.asgi_server import serve_in_thread
from tests.support.edges import edge_process
from tests.support.scripted_origin import Route, ScriptedOrigin


def test_500_concurrent_misses_make_one_upstream_request() -> None:
    body = os.urandom(2 << 20)
    hold = threading.Event()
    origin = ScriptedOrigin(
        {"/seg/7.m4s": Route(body, hold=hold, headers={"cache-control": "max-age=600"})}
    )
    clients = 500
    with serve_in_thread(origin) as origin_url:
        edge = Edge(EdgeConfig(name="pop", upstream=origin_url))
        with serve_in_thread(edge, lifespan="on") as edge_url:

            async def herd() -> list[httpx.Response]:
                limits = httpx.Limits(max_connections=clients + 10)
                async with httpx.AsyncClient(base_url=edge_url, limits=limits, timeout=60) as http:
                    tasks = [asyncio.create_task(http.get("/seg/7.m4s")) for _ in range(clients)]
                    # The barrier: the origin answers only once every client is waiting on
                    # the one fill (the initiator plus clients - 1 collapsed waiters).
                    deadline = time.monotonic() + 60
                    while sum(f.waiters for f in list(edge.cache.fills.values())) < clients - 1:
                        assert time.monotonic() < deadline, edge.stats()
                        await asyncio.sleep(0.01)
                    hold.set()
                    return await asyncio.gather(*tasks)

            responses = asyncio.run(herd())
    assert origin.hits["/seg/7.m4s"] == 1
    assert [r.status_code for r in responses] == [200] * clients
    digest = hashlib.sha256(body).hexdigest()
    assert {hashlib.sha256(r.content).hexdigest() for r in responses} == {digest}
    assert edge.metrics.collapsed == clients - 1


def test_tiers_fill_each_object_once_from_the_origin() -> None:
    paths = [f"/vod/v/{r}/{n}.m4s" for r in ("720p", "360p") for n in range(10)]
    origin = ScriptedOrigin(
        {p: Route(os.urandom(50_000), headers={"cache-control": "max-age=600"}) for p in paths}
    )
    with ExitStack() as stack:
        origin_url = stack.enter_context(serve_in_thread(origin))
        shield = Edge(EdgeConfig(name="shield", upstream=origin_url))
        shield_url = stack.enter_context(serve_in_thread(shield, lifespan="on"))
        edges = [Edge(EdgeConfig(name=f"edge-{i}", upstream=shield_url)) for i in range(4)]
        edge_urls = [stack.enter_context(serve_in_thread(e, lifespan="on")) for e in edges]

        async def load() -> list[httpx.Response]:
            async with httpx.AsyncClient(
                timeout=60, limits=httpx.Limits(max_connections=400)
            ) as http:
                # every edge asks for every object, 3 clients at once, all interleaved
                return await asyncio.gather(
                    *(http.get(url + path) for path in paths for url in edge_urls for _ in range(3))
                )

        responses = asyncio.run(load())
        assert all(r.status_code == 200 for r in responses)
        for path in paths:
            assert origin.hits[path] == 1, path
        assert responses[0].headers["via"].endswith("1.1 shield, 1.1 edge-0")
        # a second round is served by the edges alone
        again = asyncio.run(load())
        assert [r.headers["x-cache"] for r in again] == ["HIT"] * len(again)
        assert sum(origin.hits.values()) == len(paths)
        assert shield.metrics.upstream_requests == len(paths)


def test_collapsed_pass_through_body_reaches_every_waiter_whole() -> None:
    """An uncacheable body is streamed to all waiters and let go as they send it."""
    body = os.urandom(3 << 20)
    hold = threading.Event()
    origin = ScriptedOrigin(
        {"/live": Route(body, hold=hold, headers={"cache-control": "no-store"})}
    )
    with serve_in_thread(origin) as origin_url:
        edge = Edge(EdgeConfig(name="pop", upstream=origin_url))
        with serve_in_thread(edge, lifespan="on") as edge_url:

            async def clients() -> list[httpx.Response]:
                async with httpx.AsyncClient(base_url=edge_url, timeout=60) as http:
                    tasks = [asyncio.create_task(http.get("/live")) for _ in range(3)]
                    deadline = time.monotonic() + 30
                    while sum(f.waiters for f in list(edge.cache.fills.values())) < 2:
                        assert time.monotonic() < deadline
                        await asyncio.sleep(0.01)
                    hold.set()
                    return await asyncio.gather(*tasks)

            responses = asyncio.run(clients())
        assert [r.content == body for r in responses] == [True] * 3
        assert origin.hits["/live"] == 1
        assert len(edge.cache.store) == 0


def test_a_client_with_nothing_stored_is_never_sent_a_304_it_did_not_ask_for(
    tmp_path: Path,
) -> None:
    """A stored copy purged while a request validates it: a client that comes meanwhile finds
    nothing stored, and must not join the validation, whose answer is a 304 with no body."""
    page = Route(b"page", headers={"cache-control": "public, no-cache"}, etag='"v1"')
    origin = ScriptedOrigin({"/p": page})
    with serve_in_thread(origin) as upstream, edge_process(tmp_path, upstream) as edge:
        assert httpx.get(edge + "/p").status_code == 200
        hold = page.hold = threading.Event()

        async def scenario() -> tuple[httpx.Response, httpx.Response]:
            async with httpx.AsyncClient(base_url=edge, timeout=30) as http:
                validating = asyncio.create_task(http.get("/p"))
                for _ in range(1000):  # up to 10 s for the validation to reach the origin
                    if origin.hits["/p"] == 2:
                        break
                    await asyncio.sleep(0.01)
                admin = {"authorization": "Bearer admin"}
                purged = await http.post("/admin/purge", json={"urls": ["/p"]}, headers=admin)
                assert purged.json()["purged"] == 1
                missing = asyncio.create_task(http.get("/p"))
                await asyncio.sleep(0.3)  # it reaches the POP while the validation waits
                hold.set()
                return await validating, await missing

        validated, missed = asyncio.run(scenario())
        assert (validated.status_code, validated.text) == (200, "page")
        assert validated.headers["x-cache"] == "REVALIDATED"
        assert (missed.status_code, missed.text) == (200, "page")
        assert origin.hits["/p"] == 3  # its own fetch
