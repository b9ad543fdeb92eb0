"""The values every request log writes its own way, read one way: a time (the combined
format's, HAProxy's, ISO 8601, or seconds, milliseconds, microseconds or nanoseconds since the
epoch), a request target (origin or absolute form), the site it names, and what the cache that
wrote the log did with the request."""

from __future__ import annotations

import functools
import re
from datetime import UTC, datetime

# a request target in absolute form (`http://host/path`, sent by a client that takes the POP
# for a proxy, or logged whole by a load balancer or a CDN): everything up to its path
_ABSOLUTE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://[^/?]*")
# a count since the epoch: its whole digits say in what (10 seconds, 13 milliseconds, 16
# microseconds, 19 nanoseconds: Cloudflare's `unixnano`), with a fraction or not
_EPOCH = re.compile(r"^(\d{9,20})(?:\.\d+)?$")
_EPOCH_UNITS = ((11, 1.0), (14, 1e3), (17, 1e6), (20, 1e9))  # up to so many digits: per second


def split_target(target: str) -> tuple[str, str]:
    """A logged request target as (the host it names, its path and query): one in absolute
    form names a host (the POP keys it by its path alone), one in origin form none ("")."""
    if target.startswith("/") or (absolute := _ABSOLUTE.match(target)) is None:
        return "", target
    path = target[absolute.end() :]
    return absolute[0].split("://", 1)[1], path if path.startswith("/") else "/" + path


def hosted(host: str, path: str) -> str:
    """The key of `path` on `host` (lower case, without a default port), scheme-relative:
    one object over http and https, as a shared cache keeps it."""
    host = host.lower().rsplit("@", 1)[-1].removesuffix(":80").removesuffix(":443")
    return f"//{host}{path}" if host else path


def epoch_time(text: str) -> float | None:
    """Seconds since the epoch of a count since it (None: `text` is none)."""
    match = _EPOCH.match(text)
    if match is None:
        return None
    digits = len(match[1])
    per_second = next(unit for most, unit in _EPOCH_UNITS if digits <= most)
    return float(text) / per_second


def any_time(text: str) -> float | None:
    """Seconds since the epoch of a logged time, written as a count or as a date."""
    at = epoch_time(text)
    return at if at is not None else log_time(text)


@functools.lru_cache(maxsize=4096)  # a busy log has many lines a second: parse each once
def log_time(text: str) -> float | None:
    """Seconds since the epoch of a log's time: nginx's $time_local (29/Nov/2026:12:00:00
    +0000), HAProxy's (29/Nov/2026:12:00:00.250, no zone: UTC) or $time_iso8601
    (2026-11-29T12:00:00+00:00; no zone: UTC)."""
    for layout in ("%d/%b/%Y:%H:%M:%S %z", "%d/%b/%Y:%H:%M:%S.%f"):
        try:
            at = datetime.strptime(text, layout)
        except ValueError:
            continue
        return (at if at.tzinfo else at.replace(tzinfo=UTC)).timestamp()
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        return None
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).timestamp()


# What a cache logged of a request: answered from its copy (a stale one, or one its upstream
# said is still good), or from its upstream (a miss, or a response it does not store); 0 where
# it says neither (an error, a redirect) or logs nothing of it.
HIT, MISS = 1, 2
# Words of it, as caches write them (case aside): nginx's $upstream_cache_status and the
# POP's (HIT, STALE, UPDATING, REVALIDATED; MISS, EXPIRED, BYPASS), Squid's and Traffic
# Server's result codes (TCP_HIT, TCP_MEM_HIT, TCP_REFRESH_UNMODIFIED; TCP_MISS,
# TCP_REFRESH_MODIFIED, TCP_CLIENT_REFRESH_MISS), CloudFront's (Hit, RefreshHit; Miss),
# Cloudflare's (hit, stale, revalidated, updating; miss, expired, bypass, dynamic), Azure's
# (HIT, REMOTE_HIT, PARTIAL_HIT; MISS, CONFIG_NOCACHE, UNCACHEABLE), Fastly's (HIT, HIT-STALE;
# MISS, PASS), bunny.net's (HIT; MISS), Kong's proxy cache's (Hit; Miss, Bypass, Refresh: a
# stored copy not good enough, fetched again), Akamai's (1; 0) and Google Cloud's (true;
# false).
_HIT_WORDS = ("HIT", "STALE", "REVALIDATED", "UNMODIFIED", "UPDATING")
_MISS_WORDS = ("MISS", "EXPIRED", "BYPASS", "PASS", "DYNAMIC", "MODIFIED", "NOCACHE", "UNCACHEABLE")


@functools.lru_cache(maxsize=256)
def outcome_of(word: str) -> int:
    """HIT, MISS or 0 for a cache's word of what it did. Of the words of a chain of caches, the
    one of the cache nearest the viewer counts: the child's in Akamai's "Miss from child, Hit
    from parent", the last in a list (RFC 9211's Cache-Status, Media CDN's "fetch, miss, miss")."""
    word = word.strip().upper()
    if "," in word:
        members = [member.strip() for member in word.split(",")]
        word = next((m for m in members if m.endswith("FROM CHILD")), members[-1])
    if ";" in word:
        return _cache_status_outcome(word)
    if word in ("1", "TRUE"):
        return HIT
    if word in ("0", "FALSE", "REFRESH"):  # (Kong's Refresh: Squid's TCP_REFRESH_* say more)
        return MISS
    if any(hit in word for hit in _HIT_WORDS):
        return HIT
    return MISS if any(miss in word for miss in _MISS_WORDS) else 0


def _cache_status_outcome(member: str) -> int:
    """HIT, MISS or 0 for one cache's member of an RFC 9211 Cache-Status field (upper case):
    `hit`; `fwd=...` went to its upstream (a miss, but for a stored copy its upstream said is
    still good: `fwd-status=304`). Its first part names the cache and says nothing."""
    params = [param.strip() for param in member.split(";")[1:]]
    if "HIT" in params:
        return HIT
    if not any(param.startswith("FWD=") for param in params):
        return 0
    return HIT if "FWD-STATUS=304" in params else MISS
