"""Request targets as a proxy must read them, dot segments resolved (RFC 3986 §5.2.4), and the
base URLs a server sends requests to, checked when it starts (pure)."""

from __future__ import annotations

from urllib.parse import urlsplit

DOT_SEGMENTS = (".", "..")


def has_dot_segments(path: str) -> bool:
    """Whether `path` may hold a dot segment, literal or percent-encoded (`%2e` is "."
    (RFC 3986 §6.2.2.2), which a server behind may decode and follow): a quick test for the
    common case of none."""
    return "/." in path or "%2e" in path or "%2E" in path


def without_dot_segments(path: str) -> str:
    """`path` with its "." and ".." segments resolved, never above the root: what the cache
    keys and the upstream is asked for agree, and no target climbs out of the upstream's base
    path. Empty segments ("//") stay: they are the path's own. A target that is no path ("*")
    and, at once, a path without dot segments (the common case) come back as they are."""
    if not path.startswith("/") or not has_dot_segments(path):
        return path
    segments = path.split("/")[1:]
    kept: list[str] = []
    for segment in segments:
        dots = segment.lower().replace("%2e", ".")
        if dots == "..":
            if kept:
                kept.pop()
        elif dots != ".":
            kept.append(segment)
    resolved = "/" + "/".join(kept)
    last = segments[-1].lower().replace("%2e", ".") if segments else ""
    if last in DOT_SEGMENTS and not resolved.endswith("/"):
        resolved += "/"  # "/a/b/.." is the directory "/a/"
    return resolved


def check_base_url(option: str, url: str) -> None:
    """Refuse, with what is wrong, a URL a server sends requests to (a POP's upstream, a
    router, a peer) that is not an http(s) server's: a typo would start a server that fails
    every request it sends there."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (a port that is no number raises here)
    except ValueError as exc:
        raise ValueError(f"{option} {url!r}: {exc}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{option} {url!r}: give an http:// or https:// URL with a host")
    if parts.query or parts.fragment:
        raise ValueError(f"{option} {url!r}: a base URL has no query or fragment")
