"""Blocking playlist reload and delta updates (RFC 8216bis §6.2.5): what a request's
`_HLS_msn`, `_HLS_part` and `_HLS_skip` ask for, whether a live track can answer it now, and
which requests are refused outright. Pure."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from manifests.live_playlist import LiveTrack

MAX_DIGITS = 12


class BadPlaylistRequest(ValueError):
    """Answered with 400 Bad Request."""


@dataclass(frozen=True, slots=True)
class PlaylistRequest:
    msn: int | None = None
    part: int | None = None
    skip: bool = False

    @property
    def blocking(self) -> bool:
        return self.msn is not None


def _number(params: Mapping[str, str], name: str) -> int | None:
    value = params.get(name)
    if value is None:
        return None
    if not value.isascii() or not value.isdigit() or len(value) > MAX_DIGITS:
        raise BadPlaylistRequest(f"{name} must be a whole number")
    return int(value)


def parse_playlist_request(params: Mapping[str, str]) -> PlaylistRequest:
    msn, part = _number(params, "_HLS_msn"), _number(params, "_HLS_part")
    if part is not None and msn is None:
        raise BadPlaylistRequest("_HLS_part needs _HLS_msn")
    skip = params.get("_HLS_skip")
    if skip is not None and skip not in ("YES", "v2"):
        raise BadPlaylistRequest("_HLS_skip is YES or v2")
    return PlaylistRequest(msn, part, skip is not None)


def refuse_if_too_far(track: LiveTrack, request: PlaylistRequest) -> None:
    """400 for a segment more than two past the last one, or a part further past the last
    part than the Advance Part Limit (or past any segment's last part)."""
    if request.msn is None or track.ended:
        return
    last_msn = track.next_msn if track.pending else track.next_msn - 1
    if request.msn > last_msn + 2:
        raise BadPlaylistRequest(
            f"segment {request.msn} is too far ahead: the last one is {last_msn}"
        )
    if request.part is None:
        return
    most_parts = 2 * math.ceil(track.target_duration_s / track.part_target_s)
    if request.part >= most_parts:
        raise BadPlaylistRequest(f"no segment has a part {request.part}")
    newest = track.last_part
    if (
        newest is not None
        and request.msn == newest[0]
        and request.part > newest[1] + track.advance_part_limit
    ):
        raise BadPlaylistRequest(
            f"part {request.part} is too far ahead: the last one is {newest[1]}"
        )


def satisfied(track: LiveTrack, request: PlaylistRequest) -> bool:
    """Whether the playlist holds what a blocking request waits for: segment `msn` (or a
    later one), or part `part` of segment `msn` (or a later part)."""
    if request.msn is None or track.ended:
        return True
    if request.part is None:
        return request.msn < track.next_msn
    newest = track.last_part
    return newest is not None and (request.msn, request.part) <= newest
