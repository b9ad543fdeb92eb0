"""Dot segments resolved as RFC 3986 §5.2.4 does, literal or percent-encoded, never above the
root, with empty segments kept."""

from __future__ import annotations

import re

import pytest

from httprules.targets import check_base_url, has_dot_segments, without_dot_segments


@pytest.mark.parametrize(
    ("path", "resolved"),
    [
        ("/a/b/c/./../../g", "/a/g"),  # RFC 3986 §5.2.4's own example
        ("/mid/content=5/../6", "/mid/6"),  # and its second
        ("/a/../b", "/b"),
        ("/a/b/..", "/a/"),
        ("/a/.", "/a/"),
        ("/..", "/"),
        ("/../../x", "/x"),
        ("/a/%2E%2e/b", "/b"),
        ("/a/.%2e/b", "/b"),
        ("//v/../x", "//x"),
        ("/a//b", "/a//b"),
        ("/a.b/.c/..d/...", "/a.b/.c/..d/..."),
        ("/", "/"),
    ],
)
def test_dot_segments(path: str, resolved: str) -> None:
    assert without_dot_segments(path) == resolved
    if path != resolved:  # whatever resolving changes, the quick test sends there
        assert has_dot_segments(path)


def test_the_quick_test_misses_none() -> None:
    for path in ("/a/../b", "/a/%2e/b", "/a/%2E%2E/b", "/."):
        assert has_dot_segments(path)
    assert not has_dot_segments("/vod/abc/360p/1.m4s")


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("origin:8080", "give an http:// or https:// URL with a host"),
        ("ftp://origin/", "give an http:// or https:// URL with a host"),
        ("http:///media", "give an http:// or https:// URL with a host"),
        ("http://origin/media?x=1", "a base URL has no query or fragment"),
        ("http://origin/#top", "a base URL has no query or fragment"),
        ("http://origin:port/", "--upstream 'http://origin:port/'"),
    ],
)
def test_a_base_url_no_request_could_reach_is_refused(url: str, said: str) -> None:
    with pytest.raises(ValueError, match=re.escape(said)):
        check_base_url("--upstream", url)


def test_base_urls_of_servers_pass() -> None:
    for url in ("http://origin:8080", "https://shield.example/media/", "http://[::1]:81"):
        check_base_url("--upstream", url)
