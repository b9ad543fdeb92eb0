"""Ranges, validators and dates for serving objects (RFC 9110)."""

from __future__ import annotations

import pytest

from httprules.serving import (
    ByteRange,
    Unsatisfiable,
    etag_matches,
    http_date,
    if_range_allows,
    not_modified,
    parse_http_date,
    parse_range,
)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        pytest.param(None, None, id="absent"),
        pytest.param("bytes=0-99", ByteRange(0, 99), id="first-100"),
        pytest.param("bytes=100-", ByteRange(100, 999), id="open-ended"),
        pytest.param("bytes=-100", ByteRange(900, 999), id="suffix"),
        pytest.param("bytes=-5000", ByteRange(0, 999), id="suffix-longer-than-file"),
        pytest.param("bytes=990-5000", ByteRange(990, 999), id="end-clamped"),
        pytest.param("bytes=0-0", ByteRange(0, 0), id="one-byte"),
        pytest.param("bytes=0-1,5-6", None, id="multi-range-ignored"),
        pytest.param("items=0-1", None, id="other-unit-ignored"),
        pytest.param("bytes=5-1", None, id="reversed-ignored"),
        pytest.param("bytes=abc", None, id="garbage-ignored"),
    ],
)
def test_parse_range(header: str | None, expected: ByteRange | None) -> None:
    assert parse_range(header, 1000) == expected


@pytest.mark.parametrize("header", ["bytes=1000-", "bytes=5000-6000", "bytes=-0"])
def test_unsatisfiable(header: str) -> None:
    with pytest.raises(Unsatisfiable):
        parse_range(header, 1000)


def test_empty_file_suffix_is_unsatisfiable() -> None:
    with pytest.raises(Unsatisfiable):
        parse_range("bytes=-10", 0)


@pytest.mark.parametrize(
    ("header", "match"),
    [('"abc"', True), ('W/"abc"', True), ('"x", "abc"', True), ("*", True), ('"abd"', False)],
)
def test_if_none_match_is_weak_comparison(header: str, match: bool) -> None:
    assert etag_matches(header, '"abc"') is match


def test_if_none_match_wins_over_if_modified_since() -> None:
    later = http_date(2_000_000_000)
    assert not_modified('"abc"', None, '"abc"', 1_000_000_000)
    assert not not_modified('"zzz"', later, '"abc"', 1_000_000_000)
    assert not_modified(None, later, '"abc"', 1_000_000_000)
    assert not not_modified(None, http_date(10), '"abc"', 1_000_000_000)
    assert not not_modified(None, "not a date", '"abc"', 1_000_000_000)


def test_if_range_uses_strong_comparison() -> None:
    date = http_date(1_000_000_000)
    assert if_range_allows(None, '"abc"', date)
    assert if_range_allows('"abc"', '"abc"', date)
    assert not if_range_allows('W/"abc"', '"abc"', date)
    assert if_range_allows(date, '"abc"', date)
    assert not if_range_allows(http_date(5), '"abc"', date)


def test_http_dates_roundtrip() -> None:
    assert parse_http_date(http_date(1_700_000_000)) == 1_700_000_000
    assert http_date(0) == "Thu, 01 Jan 1970 00:00:00 GMT"
