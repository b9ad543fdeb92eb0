"""The records that cross the wire between POPs, the router and players: each encodes and
decodes back to itself, and a message that does not decode is refused with `WireError`."""

from __future__ import annotations

from typing import Any

import pytest

from edge.wire import BeatReply, PopBeat, PopUrl, RouteDecision, WireError

BEAT = PopBeat("paris", "http://127.0.0.1:8081", 48.86, 2.35, "edge", 500, 800.0, 3, 1e6, 20.0, 0.4)
DECISION = RouteDecision(
    chosen=PopUrl("paris", "http://p/vod/a/master.m3u8"),
    alternatives=(PopUrl("london", "http://l/vod/a/master.m3u8"),),
    distance_km=12.0,
    rtt_ms=5.25,
    ttl_s=5,
)


@pytest.mark.parametrize(
    "record",
    [
        pytest.param(BEAT, id="beat"),
        pytest.param(BeatReply((PopUrl("london", "http://l"),)), id="reply"),
        pytest.param(BeatReply(), id="empty-reply"),
        pytest.param(DECISION, id="decision"),
    ],
)
def test_round_trip(record: PopBeat | BeatReply | RouteDecision) -> None:
    assert type(record).from_json(record.to_json()) == record


def test_beat_defaults_and_url_normalised() -> None:
    beat = PopBeat.from_json({"name": "a", "url": "https://a.example/", "lat": 1, "lon": 2})
    assert beat == PopBeat("a", "https://a.example", 1.0, 2.0)


def test_decision_ranks_the_chosen_pop_first() -> None:
    assert [p.pop for p in DECISION.ranked] == ["paris", "london"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        pytest.param({"name": None}, "missing 'name'", id="no-name"),
        pytest.param({"url": "ftp://x"}, "http", id="not-http"),
        pytest.param({"lat": 91}, "out of range", id="lat"),
        pytest.param({"lon": "east"}, "number", id="lon-text"),
        pytest.param({"lat": float("nan")}, "finite", id="nan"),
        pytest.param({"in_flight": float("inf")}, "finite", id="inf"),
        pytest.param({"max_mbps": True}, "number", id="bool"),
        pytest.param({"tier": "core"}, "tier", id="tier"),
    ],
)
def test_bad_beats_are_refused(change: dict[str, Any], message: str) -> None:
    data = {**BEAT.to_json(), **change}
    with pytest.raises(WireError, match=message):
        PopBeat.from_json(data)


@pytest.mark.parametrize(
    ("decoder", "data"),
    [
        pytest.param(PopBeat.from_json, [1, 2], id="beat-not-object"),
        pytest.param(BeatReply.from_json, {"neighbours": "x"}, id="reply-not-list"),
        pytest.param(BeatReply.from_json, {"neighbours": [{"name": "a"}]}, id="reply-no-url"),
        pytest.param(RouteDecision.from_json, {"pop": "a", "url": "http://a"}, id="decision-short"),
        pytest.param(
            RouteDecision.from_json,
            {**DECISION.to_json(), "alternatives": [7]},
            id="alt-not-object",
        ),
    ],
)
def test_malformed_messages_are_refused(decoder: Any, data: object) -> None:
    with pytest.raises(WireError):
        decoder(data)
