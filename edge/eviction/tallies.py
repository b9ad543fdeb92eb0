"""The counts the popularity policy (edge/eviction/popularity.py) keeps, pure: requests and
distinct objects per video, rendition and depth, a video's requests per segment number, and
the mark by which its memory of objects asked for before knows a key."""

from __future__ import annotations

from collections.abc import Hashable
from typing import Final

FORGET_BELOW: Final = 0.2  # a segment number's count under this after a halving is forgotten
FOLD_MAX: Final = (1 << 62) - 1  # hashes up to this are folded (compiled code: a machine word)


class Tally:
    """Requests and distinct objects counted for one video, rendition or depth; for a video,
    also its requests at each segment number (at every rung)."""

    __slots__ = ("asked", "objects", "positions", "requests")

    def __init__(self) -> None:
        self.requests = 0.0
        self.objects = 0.0
        self.asked = True  # requested since the last halving
        self.positions: dict[int, float] = {}

    def halve_positions(self) -> None:
        """Halve a video's counts per segment number, forgetting numbers not asked for in
        about three halvings (a live stream's numbers only grow: its old ones must go)."""
        positions = self.positions
        for position in list(positions):
            asked = positions[position] / 2
            if asked < FORGET_BELOW:
                del positions[position]
            else:
                positions[position] = asked


def split_group(group: Hashable) -> tuple[Hashable, Hashable]:
    """(video, rendition) of a located group: for the edge, a URL directory ("/vod/ID/720p/")
    and its Vary values; for the simulator, a (video, rendition) pair."""
    if isinstance(group, tuple) and len(group) == 2:
        first, second = group
        if isinstance(first, str):
            parent, _, name = first.rstrip("/").rpartition("/")
            return parent, (name, second)
        return first, second
    return group, None


def per_object(tally: Tally) -> float:
    return tally.requests / tally.objects if tally.objects > 0 else 1.0


def add_request(tally: Tally, added: float) -> None:
    """One request, `added` (1 or 0) a new distinct object."""
    tally.requests += 1.0
    tally.objects += added
    tally.asked = True


def seen_mark(key: Hashable) -> int:
    """The "asked for before" memory's entry for `key`: its hash, with the high bits of a
    hash in [0, 2**62) folded onto its low ones. Numbered ids laid out in fields (video, rung
    and segment; a block's address) differ in their high bits, where a dict's table, indexed by
    a hash's low bits, does not look: hundreds of thousands of them would queue on a few slots.
    Folded, they spread. The fold is one to one (each bit of the result is its own bit XOR bits
    above it), and other hashes are kept as they are, so no two hashes share an entry."""
    mark = hash(key)
    if 0 <= mark <= FOLD_MAX:
        mark ^= (mark >> 16) ^ (mark >> 32)
    return mark
