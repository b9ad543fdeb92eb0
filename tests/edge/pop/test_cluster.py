"""The messages between a POP's workers: slots are claimed once each, requests get their
replies (with file descriptors), a worker that is gone is skipped; figures combine into one
POP's."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import pytest

from edge.pop.cluster import Cluster, owner_of
from edge.pop.metrics import EdgeMetrics, combine_stats


def test_slots_requests_replies_descriptors_and_gone_workers(tmp_path: Path) -> None:
    async def scenario() -> None:
        first, second = Cluster(tmp_path, 3), Cluster(tmp_path, 3)
        assert (first.slot, second.slot) == (0, 1)
        secret = tmp_path / "secret"
        secret.write_bytes(b"passed by descriptor")

        async def lend(message: dict[str, Any], fds: list[int]) -> dict[str, Any]:
            fd = os.open(secret, os.O_RDONLY)
            return {"echo": message["word"], "_fds": [fd]}

        second.handlers["lend"] = lend
        first.start()
        second.start()
        try:
            answer = await first.ask(1, {"op": "lend", "word": "hello"}, 5)
            assert answer is not None
            reply, fds = answer
            assert reply["echo"] == "hello"
            assert os.pread(fds[0], 100, 0) == b"passed by descriptor"
            os.close(fds[0])
            assert await first.ask(2, {"op": "lend", "word": "x"}, 5) is None  # slot 2: nobody
            second.handlers["stats"] = lambda m, f: _reply({"n": 7})
            assert [reply["n"] for reply in await first.gather({"op": "stats"}, 1)] == [7]
        finally:
            first.close()
            second.close()
        third = Cluster(tmp_path, 3)  # a slot is free again once its worker is gone
        assert third.slot == 0
        third.close()

    asyncio.run(scenario())


async def _reply(value: dict[str, Any]) -> dict[str, Any]:
    return value


def test_all_slots_taken_is_a_clear_error(tmp_path: Path) -> None:
    only = Cluster(tmp_path, 1)
    try:
        with pytest.raises(RuntimeError, match="all 1 worker slots"):
            Cluster(tmp_path, 1)
    finally:
        only.close()


def test_every_url_has_one_owner_and_urls_spread() -> None:
    owners = [owner_of(f"/vod/v/720p/{i}.m4s", 4) for i in range(400)]
    assert owners == [owner_of(f"/vod/v/720p/{i}.m4s", 4) for i in range(400)]
    assert all(60 <= owners.count(slot) <= 140 for slot in range(4))


def test_workers_figures_combine_into_the_pops() -> None:
    parts: list[dict[str, object]] = []
    for hits, misses in ((3, 1), (5, 3)):
        metrics = EdgeMetrics()
        for _ in range(hits):
            metrics.served("HIT", 200, 100)
        for _ in range(misses):
            metrics.served("MISS", 200, 100)
        stats = metrics.stats(name="p", used_bytes=50, capacity_bytes=100, objects=2, evictions=1)
        parts.append(stats | {"disk_rebuild_s": 0.5 * len(parts) + 1})
    combined = combine_stats(parts)
    assert combined["results"] == {"HIT": 8, "MISS": 4}
    assert combined["requests"] == 12
    assert combined["hit_ratio"] == 8 / 12
    assert (combined["cache_used_bytes"], combined["cache_capacity_bytes"]) == (100, 200)
    assert combined["cache_fill"] == 0.5
    assert combined["disk_rebuild_s"] == 1.5  # the longest, not the sum
    assert combined["worker_requests"] == [4, 8]
    assert 'mediacdn_edge_responses_total{cache="HIT",status="200"} 8' in EdgeMetrics.prometheus(
        combined
    )
