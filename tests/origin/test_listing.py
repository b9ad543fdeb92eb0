"""Listing videos through the API: cursor pages, ISO 8601 times, and clear refusals."""

from __future__ import annotations

import base64
from datetime import datetime

import httpx

from tests.support.playback import upload_raw
from tests.support.servers import OriginServer


def test_cursor_pages_iso_times_and_bad_cursors(origin: OriginServer, http: httpx.Client) -> None:
    for _ in range(3):  # videos to page through (not media: they fail, and are listed)
        upload_raw(http, origin.headers(), b"not a video" * 100)
    first = http.get("/api/videos", params={"limit": 1})
    assert first.status_code == 200
    page = first.json()
    assert set(page) == {"videos", "next_cursor"}
    everything = http.get("/api/videos", params={"limit": 1000}).json()["videos"]
    seen, cursor = [], None
    while True:
        params: dict[str, str | int] = {"limit": 1}
        if cursor:
            params["cursor"] = cursor
        answer = http.get("/api/videos", params=params).json()
        seen += [v["id"] for v in answer["videos"]]
        cursor = answer["next_cursor"]
        if cursor is None:
            break
    assert seen == [v["id"] for v in everything]
    assert len(seen) >= 3
    for video in everything:
        for field in ("created_at", "updated_at"):
            assert video[field].endswith("Z")
            assert datetime.fromisoformat(video[field]).year >= 2024
    forged = base64.urlsafe_b64encode(b'["x", 1]').decode()
    for bad in ("not-a-cursor", forged, base64.urlsafe_b64encode(b'[1e999, "a"]').decode()):
        refused = http.get("/api/videos", params={"cursor": bad})
        assert refused.status_code == 422, bad
        assert refused.json()["error"]["code"] == "invalid_cursor"
    both = http.get("/api/videos", params={"cursor": "x", "offset": 1})
    assert both.status_code == 422
    assert http.get("/api/videos", params={"offset": 2**63}).status_code == 422
