"""A POP's worker that stops while another worker's clients read a fill it owns finishes that
fill first: its own clients may all be done, the POP's are not."""

from __future__ import annotations

import os
import threading
from contextlib import ExitStack
from pathlib import Path

import httpx

from edge.pop.app import Edge, EdgeConfig
from tests.support.asgi_server import serve_in_thread
from tests.support.scripted_origin import Route, ScriptedOrigin

BODY = os.urandom(6 << 20)


def test_a_stopping_worker_finishes_the_fill_another_worker_serves(tmp_path: Path) -> None:
    resume = threading.Event()
    route = Route(BODY, headers={"cache-control": "max-age=60"}, pause_at=1 << 20, resume=resume)
    with serve_in_thread(ScriptedOrigin({"/big.bin": route})) as upstream:
        config = EdgeConfig(
            name="pop",
            upstream=upstream,
            cache_dir=str(tmp_path),
            disk_capacity_bytes=64 << 20,
            workers=2,
            grace_s=20,
        )
        workers = [Edge(config), Edge(config)]
        assert all(w.cluster is not None for w in workers)
        owner = next(w for w in workers if w.cluster is not None and w.cluster.owns("/big.bin"))
        other = next(w for w in workers if w is not owner)
        with ExitStack() as owner_running, ExitStack() as other_running:
            owner_running.enter_context(serve_in_thread(owner, lifespan="on"))
            url = other_running.enter_context(serve_in_thread(other, lifespan="on"))
            with (
                httpx.Client(timeout=30) as client,
                client.stream("GET", url + "/big.bin") as response,
            ):
                chunks = response.iter_raw(64 << 10)
                body = bytearray(next(chunks))  # the fill is under way, paused upstream
                stopping = threading.Thread(target=owner_running.close)
                stopping.start()  # the owner has no client of its own: it stops at once
                stopping.join(1.0)
                assert stopping.is_alive(), "the owner waits for the fill it lends"
                resume.set()
                for chunk in chunks:
                    body += chunk
                stopping.join(20)
                assert not stopping.is_alive()
            assert bytes(body) == BODY
