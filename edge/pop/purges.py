"""A worker's memory of its latest purges, so that a fill that began before a purge of its URL
is not stored: what it brings may be older than the purge (an unsafe request's invalidation,
or an operator's purge, made while the response was still arriving)."""

from __future__ import annotations

from collections import deque

KEPT = 1024  # purges remembered; a fill older than all of them is taken as purged


class PurgeLog:
    def __init__(self, kept: int = KEPT) -> None:
        self.count = 0  # purges made so far
        self._recent: deque[tuple[int, str, bool]] = deque(maxlen=kept)  # number, target, prefix

    def record(self, target: str, *, prefix: bool) -> None:
        self.count += 1
        self._recent.append((self.count, target, prefix))

    def purged_since(self, url: str, before: int) -> bool:
        """Whether `url` was purged after the first `before` purges (when too many have been
        made since to tell, it may have been)."""
        if before == self.count:
            return False
        recent = self._recent
        if recent[0][0] > before + 1:
            return True
        return any(
            n > before and (url.startswith(t) if prefix else url == t) for n, t, prefix in recent
        )
