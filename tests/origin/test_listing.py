"""Listing videos through the API: behind a key (without one, only videos flagged listed),
cursor pages, ISO 8601 times, and clear refusals."""

from __future__ import annotations

import base64
from datetime import datetime

import httpx

from tests.support.playback import upload_raw
from tests.support.servers import OriginServer

NOT_MEDIA = b"not a video" * 100  # the videos fail to transcode, and are listed all the same


def test_cursor_pages_iso_times_and_bad_cursors(origin: OriginServer, http: httpx.Client) -> None:
    key = origin.headers()
    for _ in range(3):
        upload_raw(http, key, NOT_MEDIA)
    first = http.get("/api/videos", params={"limit": 1}, headers=key)
    assert first.status_code == 200
    assert set(first.json()) == {"videos", "next_cursor"}
    everything = http.get("/api/videos", params={"limit": 1000}, headers=key).json()["videos"]
    seen, cursor = [], None
    while True:
        params: dict[str, str | int] = {"limit": 1}
        if cursor:
            params["cursor"] = cursor
        answer = http.get("/api/videos", params=params, headers=key).json()
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
        refused = http.get("/api/videos", params={"cursor": bad}, headers=key)
        assert refused.status_code == 422, bad
        assert refused.json()["error"]["code"] == "invalid_cursor"
    both = http.get("/api/videos", params={"cursor": "x", "offset": 1}, headers=key)
    assert both.status_code == 422
    assert http.get("/api/videos", params={"offset": 2**63}, headers=key).status_code == 422


def test_without_a_key_only_listed_videos_are_listed(
    origin: OriginServer, http: httpx.Client
) -> None:
    key = origin.headers()
    hidden = upload_raw(http, key, NOT_MEDIA)
    shown = upload_raw(http, key, NOT_MEDIA, "?listed=true")
    later = upload_raw(http, key, NOT_MEDIA)

    def public() -> list[str]:
        return [v["id"] for v in http.get("/api/videos", params={"limit": 1000}).json()["videos"]]

    assert shown in public()
    assert hidden not in public()
    assert http.get(f"/api/videos/{hidden}").json()["listed"] is False  # still readable by id
    changed = http.patch(f"/api/videos/{later}", json={"listed": True}, headers=key)
    assert changed.status_code == 200
    assert changed.json()["listed"] is True
    assert changed.json()["access"] == "public"
    assert later in public()
    assert all(v["listed"] for v in http.get("/api/videos").json()["videos"])
    keyed = [
        v["id"]
        for v in http.get("/api/videos", params={"limit": 1000}, headers=key).json()["videos"]
    ]
    assert {hidden, shown, later} <= set(keyed)
    wrong = http.get("/api/videos", headers={"Authorization": "Bearer not-the-key"})
    assert wrong.status_code == 403  # a wrong key is refused, not treated as none
    bad = http.patch(f"/api/videos/{later}", json={"listed": "yes"}, headers=key)
    assert bad.status_code == 422
    assert upload_raw_status(http, key, "?listed=maybe") == 422


def upload_raw_status(http: httpx.Client, key: dict[str, str], query: str) -> int:
    answer = http.post(
        f"/api/videos{query}",
        content=NOT_MEDIA,
        headers={**key, "Content-Type": "application/octet-stream"},
    )
    return answer.status_code
