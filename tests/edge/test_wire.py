"""The records that cross the wire between POPs, the router and players: each encodes and
decodes back to itself, and a message that does not decode is refused with `WireError`."""

from __future__ import annotations

from typing import Any

import pytest

from edge.wire import (
    BeatReply,
    PopBeat,
    PopUrl,
    RouteDecision,
    SignatureError,
    WireError,
    check_pop_name,
    check_url,
    sign_beat,
    verify_beat,
)

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
        pytest.param({"lat": 91}, "between -90 and 90", id="lat"),
        pytest.param({"lon": "east"}, "number", id="lon-text"),
        pytest.param({"lat": "48.8"}, "number", id="number-as-text"),
        pytest.param({"in_flight": -1}, "between", id="negative-load"),
        pytest.param({"max_in_flight": 1e12}, "between", id="huge-capacity"),
        pytest.param({"in_flight": 2.5}, "whole", id="fractional-count"),
        pytest.param({"healthy": "yes"}, "true or false", id="healthy-text"),
        pytest.param({"name": "paris\n#EXT-X-ENDLIST"}, "POP name", id="injecting-name"),
        pytest.param({"extra": {"deep": 1}}, "unknown", id="unknown-field"),
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


KEY = "paris-heartbeat-key-0123456789"


def test_a_signed_beat_verifies_and_says_when_it_was_signed() -> None:
    body = b'{"name": "paris"}'
    header = sign_beat(KEY, body, 1000.0)
    assert verify_beat(KEY, body, header, now_s=1010.0) == 1000.0


@pytest.mark.parametrize(
    ("key", "body", "header", "status"),
    [
        pytest.param(KEY, b"{}", None, 401, id="no-signature"),
        pytest.param(KEY, b"{}", "garbage", 401, id="malformed"),
        pytest.param(None, b"{}", sign_beat(KEY, b"{}", 1000.0), 403, id="unknown-pop"),
        pytest.param(
            "another-key-0123456789", b"{}", sign_beat(KEY, b"{}", 1000.0), 403, id="wrong-key"
        ),
        pytest.param(KEY, b'{"x": 1}', sign_beat(KEY, b"{}", 1000.0), 403, id="tampered-body"),
        pytest.param(
            KEY,
            b"{}",
            sign_beat(KEY, b"{}", 1000.0).replace("t=1000", "t=1001"),
            403,
            id="tampered-time",
        ),
        pytest.param(KEY, b"{}", sign_beat(KEY, b"{}", 960.0), 403, id="too-old"),
        pytest.param(KEY, b"{}", sign_beat(KEY, b"{}", 1040.0), 403, id="from-the-future"),
        pytest.param(KEY, b"{}", "t=nan,sig=00", 403, id="nan-time"),
    ],
)
def test_beats_that_do_not_prove_their_pop_are_refused(
    key: str | None, body: bytes, header: str | None, status: int
) -> None:
    with pytest.raises(SignatureError) as refused:
        verify_beat(key, body, header, now_s=1000.0)
    assert refused.value.status == status


@pytest.mark.parametrize(
    "name",
    ["paris", "new-york", "a", "pop-01", "x" * 63],
)
def test_pop_names_of_the_grammar(name: str) -> None:
    assert check_pop_name(name) == name


@pytest.mark.parametrize(
    "name",
    ["", "Paris", "-paris", "paris-", "pa ris", 'pa"ris', "pa\nris", "x" * 64, "pärıs", "a.b"],
)
def test_pop_names_outside_the_grammar(name: str) -> None:
    with pytest.raises(WireError):
        check_pop_name(name)


@pytest.mark.parametrize(
    "url",
    [
        "http://",
        "http:///x",
        "javascript:alert(1)",
        "http://user:pw@host",
        'http://host/"x',
        "http://host/\nEXT-X-ENDLIST",
        "http://host:99999",
        "http://host:0",
    ],
)
def test_urls_without_a_host_or_with_unsafe_characters_are_refused(url: str) -> None:
    with pytest.raises(WireError):
        check_url(url)


def test_base_urls_carry_nothing_after_the_authority() -> None:
    assert check_url("https://pop.example:8443/", base=True) == "https://pop.example:8443"
    with pytest.raises(WireError):
        check_url("https://pop.example/path", base=True)
