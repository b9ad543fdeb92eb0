"""Surrogate-Control through tiers of real `mediacdn edge` processes (client → edge POP →
parent POP → origin): each POP obeys it, a POP of a lower tier is sent it as the origin sent it,
and no client ever sees it."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.support.asgi_server import serve_in_thread
from tests.support.edges import edge_process
from tests.support.scripted_origin import Route, ScriptedOrigin

# browsers must not keep it; the CDN keeps it an hour, the parent tier ten minutes more
FOR_CDN = {"cache-control": "no-store", "surrogate-control": "max-age=3600, max-age=4200;parent"}


def test_a_lower_tier_obeys_surrogate_control_the_origin_sent(tmp_path: Path) -> None:
    origin = ScriptedOrigin({"/seg/1.m4s": Route(b"segment", headers=FOR_CDN)})
    with (
        serve_in_thread(origin) as origin_url,
        edge_process(tmp_path, origin_url, name="parent") as parent,
        edge_process(tmp_path, parent, name="edge") as edge,
    ):
        first = httpx.get(edge + "/seg/1.m4s", timeout=10)
        again = httpx.get(edge + "/seg/1.m4s", timeout=10)
        assert (first.headers["x-cache"], again.headers["x-cache"]) == ("MISS", "HIT")
        assert origin.hits["/seg/1.m4s"] == 1
        for response in (first, again):
            assert response.content == b"segment"
            assert "surrogate-control" not in response.headers
            assert response.headers["cache-control"] == "no-store"  # for the browser
        # both tiers said who they are upstream; the parent tells the edge what the origin said
        assert origin.seen_headers[-1]["surrogate-capability"] == (
            'edge="Surrogate/1.0", parent="Surrogate/1.0"'
        )
        as_edge = {"surrogate-capability": 'edge="Surrogate/1.0"'}
        from_parent = httpx.get(parent + "/seg/1.m4s", headers=as_edge, timeout=10)
        assert from_parent.headers["x-cache"] == "HIT"
        assert from_parent.headers["surrogate-control"] == FOR_CDN["surrogate-control"]
