"""Spilling: an overloaded POP sends new requests to a neighbour with a 307 whose query carries
`cdn-spilled-from=<pop>`. The neighbour strips the mark (it is not part of the cache key or the
upstream URL) and never spills such a request again."""

from __future__ import annotations

SPILL_MARK = b"cdn-spilled-from="


def strip_spill_mark(query: bytes) -> bytes:
    return b"&".join(p for p in query.split(b"&") if p and not p.startswith(SPILL_MARK))


def spill_location(neighbour: str, path: str, query: str, pop: str) -> str:
    """Where to send a request for `path?query` that this POP (`pop`) will not take."""
    mark = SPILL_MARK.decode() + pop
    return f"{neighbour}{path}?{query + '&' if query else ''}{mark}"
