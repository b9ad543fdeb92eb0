"""Answers kept for the request heads a POP sees again and again: every viewer of a stream
reloads the same playlists with the same head, and most of what answering one costs is the
deciding (admission, lookup, freshness, the response's bytes), not the sending.

A kept answer is given again only while it is exactly what the full decision would give: the
same entry is still stored under the same key (neither evicted, purged nor replaced), its
headers and age clock are those it was kept with (not refreshed by a validation), and it is
still fresh. Each answer given again touches the entry in the eviction policy and is counted
as the full path counts it; only its Age is worked out again (once a second).

Only small bodies (sent in one write with their head) are kept, up to `KEPT_BYTES` per worker
(what they hold, an evicted entry's body included), forgotten all at once when full.

Whoever keeps an answer vouches that the request's head alone decided it: no token to check
against the clock, no access record to write per request, no rate limit to count."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from edge.pop.cache import plainly_fresh
from edge.pop.metrics import EdgeMetrics
from edge.pop.responses import ONE_WRITE_BODY
from edge.pop.store import Entry, ResponseStore, StoreKey
from httprules.caching import AgeClock

KEPT_BYTES = 4 << 20
NO_HEADERS: dict[str, str] = {}  # a kept head carries no Cache-Control (the front leaves those)


@dataclass(slots=True)
class _Kept:
    entry: Entry
    key: StoreKey
    clock: AgeClock  # the entry's age clock when kept: a validation replaces it
    prefix: bytes  # the response up to its Age field
    suffix: bytes  # after the Age field: the request id and the blank line
    body: bytes  # b"" for HEAD
    age: int = -1  # the age `answer` says
    answer: bytes = b""


class QuickAnswers:
    def __init__(
        self, store: ResponseStore[Entry], metrics: EdgeMetrics, clock: Callable[[], float]
    ) -> None:
        self.store = store
        self.metrics = metrics
        self.clock = clock
        self._kept: dict[bytes, _Kept] = {}
        self._bytes = 0

    def keep(self, head: bytes, entry: Entry, prefix: bytes, suffix: bytes, body: bool) -> None:
        """Keep the answer `prefix`, Age, `suffix` (and the body when `body`) for the request
        `head`, if `entry` is a small memory hit still stored."""
        if not head or entry.path is not None or entry.length > ONE_WRITE_BODY:
            return
        key = entry.key
        if self.store.get(key) is not entry:
            return
        size = len(head) + 2 * (len(prefix) + len(suffix) + entry.length)
        if self._bytes + size > KEPT_BYTES:
            self._kept.clear()
            self._bytes = 0
        self._bytes += size
        self._kept[head] = _Kept(
            entry,
            key,
            entry.clock,
            prefix,
            suffix,
            entry.body if body else b"",
        )

    def answer(self, head: bytes) -> list[bytes] | None:
        """The answer kept for `head` if it is still what the full path would send, else None
        (and it is forgotten)."""
        kept = self._kept.get(head)
        if kept is None:
            return None
        entry = kept.entry
        age = plainly_fresh(entry, NO_HEADERS, self.clock())
        if age is None or entry.clock is not kept.clock or not self.store.touch(kept.key, entry):
            del self._kept[head]  # its bytes are counted until everything is forgotten
            return None
        self.metrics.served("HIT", entry.status, len(kept.body))
        whole = int(age)
        if whole != kept.age:
            kept.answer = b"%sage: %d\r\n%s%s" % (kept.prefix, whole, kept.suffix, kept.body)
            kept.age = whole
        return [kept.answer]
