"""The dashboard's data without a browser: POP rows, origin offload, and what the feed says
when there is no router or the router does not answer."""

from __future__ import annotations

import asyncio
from pathlib import Path

from manifests.catalog import Catalog
from manifests.db import SqliteDatabase
from manifests.records import NewVideo
from origin.dashboard import DashboardFeed, offload, pop_row
from origin.metrics import Metrics
from tests.support.servers import free_port

DESCRIBED = {"name": "paris", "tier": "edge", "lat": 48.86, "lon": 2.35, "url": "http://x"}


def test_a_pop_row_joins_the_routers_view_with_the_pops_stats() -> None:
    stats = {
        "requests": 10,
        "hit_ratio": 0.7,
        "requests_per_s": 2.5,
        "bytes_per_s": 1000.0,
        "in_flight": 5,
        "bytes_from_cache": 700,
        "bytes_from_upstream": 300,
    }
    row = pop_row({**DESCRIBED, "healthy": True, "max_in_flight": 20}, stats)
    assert row["healthy"] is True
    assert row["load"] == 0.25
    assert row["bytes_served"] == 1000
    assert row["hit_ratio"] == 0.7
    # Healthy to the router but its /stats did not answer: shown as down, with zeros.
    silent = pop_row({**DESCRIBED, "healthy": True}, None)
    assert silent["healthy"] is False
    assert silent["requests"] == 0


def test_offload_counts_edge_tier_traffic_against_what_reached_the_origin() -> None:
    rows = [
        {"tier": "edge", "requests": 80, "bytes_served": 8000},
        {"tier": "edge", "requests": 20, "bytes_served": 2000},
        {"tier": "shield", "requests": 30, "bytes_served": 3000},  # not counted twice
    ]
    result = offload(rows, origin_requests=10, origin_bytes=2500)
    assert result["requests"] == 0.9
    assert result["bytes"] == 0.75
    assert offload([], 0, 0)["requests"] is None


def test_the_feed_says_why_it_shows_no_pops(tmp_path: Path) -> None:
    catalog = Catalog(SqliteDatabase(tmp_path / "catalog.db"))
    catalog.create_schema()
    catalog.create_video(NewVideo("hidden", "uploads/hidden/source", 10, 4.0, title="hidden"))
    catalog.create_video(NewVideo("shown", "uploads/shown/source", 10, 4.0, listed=True))

    async def snapshots() -> tuple[dict[str, object], dict[str, object]]:
        none = DashboardFeed(catalog, Metrics(), "")
        dead = DashboardFeed(catalog, Metrics(), f"http://127.0.0.1:{free_port()}")
        try:
            return await none.snapshot(), await dead.snapshot()
        finally:
            await dead.aclose()

    no_router, dead_router = asyncio.run(snapshots())
    assert no_router["router"] == {
        "url": None,
        "status": "none",
        "message": "no router configured: start the origin with --router URL",
    }
    assert no_router["pops"] == []
    videos = no_router["videos"]
    assert isinstance(videos, list)
    assert [v["id"] for v in videos] == ["shown"]  # a public page shows listed videos only
    router = dead_router["router"]
    assert isinstance(router, dict)
    assert router["status"] == "unreachable"
    assert "did not answer" in router["message"]
