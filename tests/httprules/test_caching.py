"""RFC 9111 rules for a shared cache, table by table: what may be stored, for how long it is
fresh, what its age is, when a stale response may still be used, Vary, and 304 updates."""

from __future__ import annotations

import pytest

from httprules.caching import (
    UNKNOWN_AGE_S,
    AgeClock,
    age_clock,
    age_value_s,
    downstream_surrogate_control,
    freshness_lifetime_s,
    is_personal,
    is_storable,
    judge,
    merge_304,
    parse_cache_control,
    stored_policy,
    surrogate_control_for,
    vary_names,
    vary_values,
)
from httprules.headers import with_capability, with_forwarded_for

DATE = "Sun, 29 Nov 2026 12:00:00 GMT"
HOUR_BEFORE = "Sun, 29 Nov 2026 11:00:00 GMT"
MINUTE_AFTER = "Sun, 29 Nov 2026 12:01:00 GMT"


@pytest.mark.parametrize(
    ("method", "status", "asked", "response", "storable"),
    [
        pytest.param("GET", 200, {}, {"cache-control": "max-age=60"}, True, id="max-age"),
        pytest.param("GET", 200, {}, {"cache-control": "s-maxage=60"}, True, id="s-maxage"),
        pytest.param("GET", 200, {}, {"expires": DATE}, True, id="expires"),
        pytest.param("GET", 200, {}, {"cache-control": "public"}, True, id="public"),
        pytest.param("GET", 200, {}, {"cache-control": "no-cache"}, True, id="no-cache-stored"),
        pytest.param("GET", 200, {}, {"last-modified": DATE}, True, id="heuristic"),
        pytest.param("GET", 200, {}, {}, False, id="nothing-says-cacheable"),
        pytest.param("HEAD", 200, {}, {"cache-control": "max-age=60"}, True, id="head"),
        pytest.param("POST", 200, {}, {"cache-control": "max-age=60"}, False, id="post"),
        pytest.param("GET", 500, {}, {"cache-control": "max-age=60"}, False, id="500"),
        pytest.param("GET", 404, {}, {"last-modified": DATE}, True, id="404-heuristic"),
        pytest.param("GET", 302, {}, {"last-modified": DATE}, False, id="302-no-heuristic"),
        pytest.param("GET", 307, {}, {"cache-control": "max-age=5"}, True, id="307-explicit"),
        pytest.param("GET", 200, {}, {"cache-control": "no-store"}, False, id="no-store"),
        pytest.param(
            "GET",
            200,
            {"cache-control": "no-store"},
            {"cache-control": "max-age=60"},
            False,
            id="request-no-store",
        ),
        pytest.param("GET", 200, {}, {"cache-control": "private, max-age=60"}, False, id="private"),
        pytest.param(
            "GET",
            200,
            {},
            {"cache-control": "public, max-age=60", "set-cookie": "s=1"},
            False,
            id="set-cookie",
        ),
        pytest.param(
            "GET", 200, {}, {"cache-control": "max-age=60", "vary": "*"}, False, id="vary-star"
        ),
        pytest.param(
            "GET",
            200,
            {"authorization": "Bearer k"},
            {"cache-control": "max-age=60"},
            False,
            id="authorized",
        ),
        pytest.param(
            "GET",
            200,
            {"authorization": "Bearer k"},
            {"cache-control": "public, max-age=60"},
            True,
            id="authorized-public",
        ),
    ],
)
def test_is_storable(
    method: str, status: int, asked: dict[str, str], response: dict[str, str], storable: bool
) -> None:
    assert is_storable(method, status, asked, response) is storable


@pytest.mark.parametrize(
    ("status", "headers", "lifetime_s"),
    [
        pytest.param(200, {"cache-control": "max-age=60"}, 60, id="max-age"),
        pytest.param(200, {"cache-control": "max-age=60, s-maxage=5"}, 5, id="s-maxage-wins"),
        pytest.param(200, {"cache-control": "max-age=abc"}, 0, id="invalid-is-stale"),
        pytest.param(200, {"cache-control": "max-age=-5"}, 0, id="negative"),
        pytest.param(200, {"expires": MINUTE_AFTER, "date": DATE}, 60, id="expires-minus-date"),
        pytest.param(200, {"expires": "0", "date": DATE}, 0, id="invalid-expires"),
        pytest.param(
            200,
            {"cache-control": "max-age=7", "expires": MINUTE_AFTER, "date": DATE},
            7,
            id="max-age-over-expires",
        ),
        pytest.param(200, {"last-modified": HOUR_BEFORE, "date": DATE}, 360, id="heuristic-10pc"),
        pytest.param(302, {"last-modified": HOUR_BEFORE, "date": DATE}, 0, id="302-no-heuristic"),
        pytest.param(200, {}, 0, id="nothing"),
    ],
)
def test_freshness_lifetime(status: int, headers: dict[str, str], lifetime_s: float) -> None:
    assert freshness_lifetime_s(status, headers) == pytest.approx(lifetime_s)


@pytest.mark.parametrize(
    ("clock", "now", "age_s"),
    [
        pytest.param(AgeClock(100, 100, None, 0), 130, 30, id="resident-time"),
        pytest.param(AgeClock(100, 100, None, 20), 100, 20, id="age-header"),
        pytest.param(AgeClock(98, 100, None, 20), 100, 22, id="plus-response-delay"),
        pytest.param(AgeClock(100, 100, 60, 0), 100, 40, id="apparent-age-from-date"),
        pytest.param(AgeClock(100, 100, 200, 0), 100, 0, id="date-in-the-future"),
    ],
)
def test_current_age(clock: AgeClock, now: float, age_s: float) -> None:
    """§4.2.3: corrected initial age plus the time resident in the cache."""
    assert clock.current_age_s(now) == pytest.approx(age_s)


def test_age_clock_reads_age_and_date() -> None:
    clock = age_clock({"age": "12", "date": DATE}, 5.0, 6.0)
    assert clock.age_value == 12
    assert clock.date is not None


@pytest.mark.parametrize(
    ("age", "value_s"),
    [
        pytest.param(None, 0, id="absent"),
        pytest.param("7200", 7200, id="integer"),
        pytest.param(" 30 ", 30, id="spaces"),
        pytest.param("99999999999", 2**31, id="capped"),
        pytest.param("abc", UNKNOWN_AGE_S, id="non-numeric"),
        pytest.param("-7200", UNKNOWN_AGE_S, id="negative"),
        pytest.param("7200.0", UNKNOWN_AGE_S, id="float"),
        pytest.param("0, 0", UNKNOWN_AGE_S, id="list"),
        pytest.param("7200;foo=bar", UNKNOWN_AGE_S, id="parameter"),
        pytest.param("٣", UNKNOWN_AGE_S, id="non-ascii-digit"),
    ],
)
def test_an_age_that_is_not_one_integer_makes_the_response_stale(
    age: str | None, value_s: float
) -> None:
    """§5.1: Age is one non-negative integer; anything else is taken as old as can be."""
    headers = {} if age is None else {"age": age}
    assert age_value_s(headers) == value_s
    policy = stored_policy(200, {"cache-control": "max-age=3600", **headers})
    fresh = judge(policy, age_clock(headers, 0, 0), 0).fresh
    assert fresh is (value_s < 3600)


@pytest.mark.parametrize(
    ("value", "ours"),
    [
        ("max-age=60;pop, no-store", "no-store, max-age=60"),
        ("max-age=10, max-age=600;pop", "max-age=600"),
        ("max-age=10, max-age=600;other", "max-age=10"),
        ("no-store;other, max-age=30;pop", "max-age=30"),
        ("max-age=5", "max-age=5"),
    ],
)
def test_surrogate_control_targeted_at_this_pop(value: str, ours: str) -> None:
    """Edge Architecture 1.0: directives targeted at this surrogate's token replace its
    untargeted ones of the same name; those targeted at others are not its own."""
    headers = surrogate_control_for(
        {"surrogate-control": value, "cache-control": "no-store"}, "pop"
    )
    assert headers["surrogate-control"] == ours
    assert headers["cache-control"] == "no-store"
    # a surrogate downstream is sent it as received (its own directives are its own to pick);
    # a client never is
    downstream = {"surrogate-capability": 'edge="Surrogate/1.0"'}
    assert downstream_surrogate_control(headers, downstream) == value
    assert downstream_surrogate_control(headers, {"accept": "*/*"}) is None


def test_each_tier_appends_its_token_to_surrogate_capability() -> None:
    first = with_capability({"accept": "*/*"}, "edge-1")
    assert first["surrogate-capability"] == 'edge-1="Surrogate/1.0"'
    second = with_capability(first, "shield")
    assert second["surrogate-capability"] == 'edge-1="Surrogate/1.0", shield="Surrogate/1.0"'


@pytest.mark.parametrize(
    ("headers", "storable", "lifetime_s"),
    [
        pytest.param(
            {"cdn-cache-control": "max-age=60", "cache-control": "no-store"},
            True,
            60,
            id="cdn-cache-control-wins",
        ),
        pytest.param(
            {"surrogate-control": "no-store", "cache-control": "max-age=60"},
            False,
            0,
            id="surrogate-no-store",
        ),
        pytest.param(
            {"surrogate-control": "max-age=60;other-cdn", "cache-control": "max-age=5"},
            False,
            0,
            id="targeted-elsewhere",
        ),
        pytest.param({"surrogate-control": "max-age=120"}, True, 120, id="surrogate-max-age"),
    ],
)
def test_cdn_targeted_fields_override_cache_control(
    headers: dict[str, str], storable: bool, lifetime_s: float
) -> None:
    """RFC 9213 (CDN-Cache-Control) and Surrogate-Control: a CDN obeys them instead."""
    assert is_storable("GET", 200, {}, headers) is storable
    assert freshness_lifetime_s(200, headers) == lifetime_s


@pytest.mark.parametrize(
    "headers",
    [
        {"cdn-cache-control": "private, max-age=60", "cache-control": "max-age=60"},
        {"surrogate-control": 'private="x-user", max-age=60'},
        {"cdn-cache-control": "max-age=60", "cache-control": "private"},
        {"cdn-cache-control": "PRIVATE", "last-modified": "Mon, 01 Jan 2024 00:00:00 GMT"},
    ],
)
def test_private_anywhere_the_cdn_reads_is_personal(headers: dict[str, str]) -> None:
    """A response its origin calls private, in Cache-Control or in the field targeted at CDNs,
    is never stored nor shared with anyone who asked at the same time."""
    assert is_personal(headers)
    assert not is_storable("GET", 200, {}, headers | {"date": "Mon, 01 Jan 2024 01:00:00 GMT"})


@pytest.mark.parametrize("vary", ["*", "accept, *", "*, *", ", *", "* ,foo"])
def test_vary_star_anywhere_makes_a_response_personal(vary: str) -> None:
    assert is_personal({"vary": vary})
    assert not is_storable("GET", 200, {}, {"cache-control": "max-age=60", "vary": vary})


@pytest.mark.parametrize(
    ("cache_control", "age_s", "request_cc", "fresh", "swr", "sie"),
    [
        pytest.param("max-age=60", 30, None, True, False, False, id="fresh"),
        pytest.param("max-age=60", 90, None, False, False, False, id="stale"),
        pytest.param("max-age=60", 30, "no-cache", False, False, False, id="request-no-cache"),
        pytest.param("max-age=60", 30, "max-age=10", False, False, False, id="request-max-age"),
        pytest.param("max-age=60", 30, "max-age=40", True, False, False, id="request-max-age-ok"),
        pytest.param("no-cache, max-age=60", 1, None, False, False, False, id="no-cache"),
        pytest.param(
            "max-age=60, stale-while-revalidate=30", 80, None, False, True, False, id="swr"
        ),
        pytest.param(
            "max-age=60, stale-while-revalidate=30",
            100,
            None,
            False,
            False,
            False,
            id="swr-too-old",
        ),
        pytest.param("max-age=60, stale-if-error=30", 80, None, False, False, True, id="sie"),
        pytest.param(
            "max-age=60, must-revalidate, stale-while-revalidate=30, stale-if-error=30",
            80,
            None,
            False,
            False,
            False,
            id="must-revalidate-forbids-stale",
        ),
        pytest.param(
            "s-maxage=60, stale-if-error=30",
            80,
            None,
            False,
            False,
            False,
            id="s-maxage-forbids-stale",
        ),
        pytest.param(
            "max-age=60, proxy-revalidate, stale-if-error=30",
            80,
            None,
            False,
            False,
            False,
            id="proxy-revalidate",
        ),
    ],
)
def test_judge(
    cache_control: str, age_s: float, request_cc: str | None, fresh: bool, swr: bool, sie: bool
) -> None:
    policy = stored_policy(200, {"cache-control": cache_control})
    verdict = judge(policy, AgeClock(0, 0, None, 0), age_s, request_cc)
    assert verdict.fresh is fresh
    assert verdict.may_serve_stale_while_revalidating is swr
    assert verdict.may_serve_stale_on_error is sie
    assert verdict.age_s == pytest.approx(age_s)


@pytest.mark.parametrize(
    ("value", "directives"),
    [
        pytest.param("max-age=60, public", {"max-age": "60", "public": None}, id="plain"),
        pytest.param('MAX-AGE="60"', {"max-age": "60"}, id="case-and-quotes"),
        pytest.param(" , no-store,,", {"no-store": None}, id="empty-parts"),
        pytest.param(None, {}, id="absent"),
    ],
)
def test_parse_cache_control(value: str | None, directives: dict[str, str | None]) -> None:
    assert dict(parse_cache_control(value).directives) == directives


@pytest.mark.parametrize(
    ("vary", "asked", "names", "values"),
    [
        pytest.param(
            "Accept-Encoding",
            {"accept-encoding": "gzip"},
            ("accept-encoding",),
            ("gzip",),
            id="one",
        ),
        pytest.param("x-b, X-A ,x-b", {"x-a": "1"}, ("x-a", "x-b"), ("1", ""), id="sorted-unique"),
        pytest.param("x-a", {"x-a": "a   b"}, ("x-a",), ("a b",), id="whitespace-normalised"),
        pytest.param("", {"x-a": "1"}, (), (), id="none"),
    ],
)
def test_vary(
    vary: str, asked: dict[str, str], names: tuple[str, ...], values: tuple[str, ...]
) -> None:
    assert vary_names({"vary": vary}) == names
    assert vary_values(names, asked) == values


def test_merge_304_updates_headers_but_not_what_describes_the_body() -> None:
    stored = {"etag": '"a"', "cache-control": "max-age=1", "content-length": "10"}
    fresh = {
        "cache-control": "max-age=60",
        "content-length": "0",
        "x-new": "1",
        "etag": '"b"',
        "content-md5": "N7UdGUp1E+RbVvZSTy1R8g==",
    }
    assert merge_304(stored, fresh) == {
        "etag": '"a"',
        "cache-control": "max-age=60",
        "content-length": "10",
        "x-new": "1",
    }


def test_the_client_is_appended_to_x_forwarded_for_and_forwarded() -> None:
    sent = {"x-forwarded-for": "203.0.113.9", "forwarded": 'for="_hidden"'}
    out = with_forwarded_for(sent, "2001:db8::17", "https")
    assert out["x-forwarded-for"] == "203.0.113.9, 2001:db8::17"
    assert out["forwarded"] == 'for="_hidden", for="[2001:db8::17]";proto=https'
    assert with_forwarded_for({}, "192.0.2.1")["forwarded"] == "for=192.0.2.1"
    assert with_forwarded_for({}, "/run/pop.sock", "http")["forwarded"] == "for=unknown;proto=http"
    assert with_forwarded_for({}, "hôte")["forwarded"] == "for=unknown"  # not a token
    assert with_forwarded_for(sent, None) == sent  # no address known: nothing to append
