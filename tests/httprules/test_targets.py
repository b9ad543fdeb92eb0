"""Dot segments resolved as RFC 3986 §5.2.4 does, literal or percent-encoded, never above the
root, with empty segments kept."""

from __future__ import annotations

import pytest

from httprules.targets import has_dot_segments, without_dot_segments


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
