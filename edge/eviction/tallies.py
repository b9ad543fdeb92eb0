"""The counts the popularity policy (edge/eviction/popularity.py) keeps, pure: requests and
distinct objects per video, rendition and depth, a video's requests per segment number, and
the heap rank of a score."""

from __future__ import annotations

import math
from collections.abc import Hashable
from typing import Final

RANK_STEPS: Final = 64  # heap ranks of scores per doubling (scores within 1.1% share a rank)
RANK_ZERO: Final = 1 << 16  # the rank of a score of 1
RANKS: Final = 2 * RANK_ZERO + 1  # rank() gives 0 .. RANKS - 1
RANK_PER_E: Final = RANK_STEPS / math.log(2.0)  # ranks per e-fold (math.log compiles natively)
NUDGE: Final = 1e-9  # away from zero: log(2**k) * RANK_PER_E lands on k * RANK_STEPS, as log2
FORGET_BELOW: Final = 0.2  # a segment number's count under this after a halving is forgotten


class Tally:
    """Requests and distinct objects counted for one video, rendition or depth; for a video,
    also its requests at each segment number (at every rung)."""

    __slots__ = ("asked", "objects", "positions", "requests")

    def __init__(self) -> None:
        self.requests = 0.0
        self.objects = 0.0
        self.asked = True  # requested since the last halving
        self.positions: dict[int, float] = {}


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


def halve_positions(video: Tally) -> None:
    """Halve a video's counts per segment number, forgetting numbers not asked for in about
    three halvings (a live stream's numbers only grow: its old ones must go)."""
    positions = video.positions
    for position in list(positions):
        asked = positions[position] / 2
        if asked < FORGET_BELOW:
            del positions[position]
        else:
            positions[position] = asked


def add_request(tally: Tally, added: float) -> None:
    """One request, `added` (1 or 0) a new distinct object."""
    tally.requests += 1.0
    tally.objects += added
    tally.asked = True


def rank(score: float) -> int:
    """The heap rank of a score: its log2 in steps of 1/RANK_STEPS, from 0 (0 and below)."""
    if score <= 0.0:
        return 0
    scaled = math.log(score) * RANK_PER_E
    step = int(scaled + NUDGE if scaled > 0.0 else scaled - NUDGE) + RANK_ZERO
    return 1 if step < 1 else min(step, 2 * RANK_ZERO)
