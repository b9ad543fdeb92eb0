"""HTTP rules for serving immutable objects: ranges, validators, dates (pure; RFC 9110)."""

from __future__ import annotations

import email.utils
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ByteRange:
    start: int
    end: int  # inclusive

    @property
    def length(self) -> int:
        return self.end - self.start + 1


class Unsatisfiable(Exception):
    """RFC 9110 §15.5.17: no range overlaps the representation → 416."""


def parse_range(header: str | None, size: int) -> ByteRange | None:
    """One byte range, or None to serve the whole representation.

    §14.2: a server MAY ignore Range; we ignore multiple ranges, other units and bad syntax
    (a 200 with the full body is always a correct answer). Raises Unsatisfiable for a single
    well-formed range that lies beyond the end.
    """
    if not header:
        return None
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    first, dash, last = spec.strip().partition("-")
    if not dash:
        return None
    try:
        if first == "":  # suffix range: the last N bytes (§14.1.2)
            suffix = int(last)
            if suffix < 0:
                return None
            if suffix == 0 or size == 0:
                raise Unsatisfiable()
            return ByteRange(max(0, size - suffix), size - 1)
        start = int(first)
        end = int(last) if last else size - 1
    except ValueError:
        return None
    if start < 0 or (last and end < start):
        return None
    if start >= size:
        raise Unsatisfiable()
    return ByteRange(start, min(end, size - 1))


def etag_matches(header: str | None, etag: str) -> bool:
    """If-None-Match uses the weak comparison (§13.1.2): W/"x" matches "x"."""
    if not header:
        return False
    if header.strip() == "*":
        return True
    bare = etag.removeprefix("W/")
    return any(tag.strip().removeprefix("W/") == bare for tag in header.split(","))


def if_range_allows(header: str | None, etag: str, last_modified: str) -> bool:
    """§13.1.5: honour Range only if If-Range matches (strong comparison) or is absent."""
    if not header:
        return True
    header = header.strip()
    if header.startswith('"'):
        return header == etag
    return header == last_modified


def http_date(timestamp: float) -> str:
    return email.utils.formatdate(timestamp, usegmt=True)


def parse_http_date(text: str | None) -> float | None:
    if not text:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    return parsed.timestamp() if parsed else None


def precondition_failed(
    if_match: str | None, if_unmodified_since: str | None, etag: str, modified_at: float
) -> bool:
    """§13.2.2 steps 1 and 2, false: 412. If-Match compares strongly (a weak tag never
    matches; "*" matches the representation there is); If-Unmodified-Since counts only
    without it."""
    if if_match:
        if if_match.strip() == "*":
            return False
        return etag.startswith("W/") or all(tag.strip() != etag for tag in if_match.split(","))
    since = parse_http_date(if_unmodified_since)
    return since is not None and int(modified_at) > int(since)


def not_modified(
    if_none_match: str | None, if_modified_since: str | None, etag: str, modified_at: float
) -> bool:
    """§13.2.2: If-None-Match wins; If-Modified-Since only counts without it."""
    if if_none_match:
        return etag_matches(if_none_match, etag)
    since = parse_http_date(if_modified_since)
    return since is not None and int(modified_at) <= int(since)
