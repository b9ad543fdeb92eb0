"""Where a low-latency (LL-HLS) live player stands in a playlist (pure): the part it starts
from (PART-HOLD-BACK behind the newest, fetched from the part before it that starts with a
frame decodable on its own), what a playlist lists at a (segment, part) position, when, by
the wall clock, the media up to a position was made (EXT-X-PROGRAM-DATE-TIME), from which how
far behind real time a viewer plays, and how fast it plays to get back to PART-HOLD-BACK once
it is further behind (catch-up)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from enum import Enum

from manifests.model import MediaPart, MediaPlaylist

# catch-up: a player with more than PART-HOLD-BACK buffered plays faster, up to this rate
# (hls.js's `maxLiveSyncPlaybackRate`, which our pages set to the same), so that a join from
# a playlist a cache kept for a while, or a stall, does not leave it behind for good
CATCH_UP_MAX_RATE = 1.2
CATCH_UP_DEAD_ZONE_S = 0.1  # within this of the hold back it plays at 1x (no wobble)
CATCH_UP_GAIN = 0.5  # per second of excess: 0.2 s over plays 1.1x, 0.4 s or more 1.2x
STALL_BACK_S = 1.0  # each stall moves a player's aim this much further behind the edge
LIVE_START_BEHIND = 3  # a classic live player starts this many segments behind its newest
# (RFC 8216 §6.3.3)


class Listed(Enum):
    NOT_YET = "not yet"  # the playlist does not list it yet: reload (blocking) and look again
    NEXT = "next"  # its segment is whole with fewer parts: on to the next segment's first
    GONE = "gone"  # its segment's parts are no longer listed (or the segment itself): behind
    ENDED = "ended"  # the stream ended before it


def listed(playlist: MediaPlaylist, msn: int, index: int) -> MediaPart | Listed:
    """Part `index` of segment `msn` as `playlist` lists it, or what to do instead."""
    first = playlist.media_sequence
    end = first + len(playlist.segments)
    if msn < first:
        return Listed.GONE
    if msn < end:
        parts = playlist.segments[msn - first].parts
        if index < len(parts):
            return parts[index]
        return Listed.NEXT if parts else Listed.GONE
    if msn == end and index < len(playlist.pending_parts):
        return playlist.pending_parts[index]
    return Listed.ENDED if playlist.ended else Listed.NOT_YET


def _parts_newest_first(playlist: MediaPlaylist) -> Iterator[tuple[int, int, MediaPart]]:
    end = playlist.media_sequence + len(playlist.segments)
    for index in range(len(playlist.pending_parts) - 1, -1, -1):
        yield end, index, playlist.pending_parts[index]
    for offset in range(len(playlist.segments) - 1, -1, -1):
        parts = playlist.segments[offset].parts
        for index in range(len(parts) - 1, -1, -1):
            yield playlist.media_sequence + offset, index, parts[index]


@dataclass(frozen=True, slots=True)
class LiveStart:
    """Where a low-latency live player joins: it shows media from `start`, the part
    PART-HOLD-BACK behind the end of what is listed, and fetches from `key`, the independent
    part at or before it that the picture decodes from (as players seek into a segment)."""

    key: tuple[int, int]
    start: tuple[int, int]


def live_start(playlist: MediaPlaylist) -> LiveStart | None:
    """Where to join (RFC 8216bis §4.4.3.8: no nearer the end than PART-HOLD-BACK); None while
    too little is listed for it."""
    hold_back = playlist.part_hold_back_s
    if hold_back is None:
        return None
    behind = 0.0
    start: tuple[int, int] | None = None
    oldest: tuple[int, int] | None = None
    for msn, index, part in _parts_newest_first(playlist):
        behind += part.duration_s
        if start is None and behind >= hold_back - 1e-6:
            start = msn, index
        if part.independent:
            if start is not None:
                return LiveStart((msn, index), start)
            oldest = msn, index
    # a server that lists parts for less than PART-HOLD-BACK: its oldest listed independent part
    # once older segments show the list is no longer growing from the stream's start
    older = bool(playlist.segments) and not playlist.segments[0].parts
    return LiveStart(oldest, oldest) if older and oldest is not None else None


def next_position(playlist: MediaPlaylist) -> tuple[int, int]:
    """The position of the part after the last one listed (what a blocking reload waits for)."""
    end = playlist.media_sequence + len(playlist.segments)
    return end, len(playlist.pending_parts)


def made_at(playlist: MediaPlaylist, msn: int, index: int) -> float | None:
    """When (epoch seconds) the media up to the end of part `index` of segment `msn` was made,
    from the playlist's program dates; None where it gives none."""
    first = playlist.media_sequence
    start: float | None = None
    parts: tuple[MediaPart, ...] = ()
    if first <= msn < first + len(playlist.segments):
        segment = playlist.segments[msn - first]
        start = segment.program_date_time_s
        parts = segment.parts
    elif msn == first + len(playlist.segments) and playlist.segments:
        last = playlist.segments[-1]
        if last.program_date_time_s is not None:
            start = last.program_date_time_s + last.duration_s
        parts = playlist.pending_parts
    if start is None:
        return None
    return start + sum(p.duration_s for p in parts[: index + 1])


def segment_made_at(playlist: MediaPlaylist, msn: int) -> float | None:
    """When (epoch seconds) the media up to the end of segment `msn` was made."""
    first = playlist.media_sequence
    if not first <= msn < first + len(playlist.segments):
        return None
    segment = playlist.segments[msn - first]
    if segment.program_date_time_s is None:
        return None
    return segment.program_date_time_s + segment.duration_s


def live_target_s(hold_back_s: float, stalls: int, target_duration_s: float) -> float:
    """How far behind the live edge a low-latency player aims to play: PART-HOLD-BACK, and
    STALL_BACK_S more for each stall it has had, up to a target duration more (as hls.js
    does). A viewer whose link has stalled it keeps more in hand instead of catching up into
    the next stall (in the simulator, on real access-network traces, catching up to the hold
    back alone added several times the stalling this adds: BENCHMARKS.md, Live)."""
    return hold_back_s + min(STALL_BACK_S * stalls, target_duration_s)


def catch_up_rate(buffer_s: float, hold_back_s: float) -> float:
    """How fast (x real time) a low-latency live player plays with `buffer_s` of media
    fetched ahead of its picture: 1x within CATCH_UP_DEAD_ZONE_S of the hold back, faster the
    more it holds beyond, up to CATCH_UP_MAX_RATE. Judged on the buffer, not on how far the
    newest listed part is: a player behind on a slow link holds little, and playing that
    faster would only stall it sooner."""
    excess_s = buffer_s - hold_back_s
    if excess_s <= CATCH_UP_DEAD_ZONE_S:
        return 1.0
    return min(CATCH_UP_MAX_RATE, 1.0 + CATCH_UP_GAIN * excess_s)


def classic_rate(buffer_s: float, segment_s: float, stalls: int, target_duration_s: float) -> float:
    """How fast (x real time) a classic live player (whole segments of `segment_s`) plays:
    it holds about what it started behind the newest segment, LIVE_START_BEHIND of them; more
    (it joined from a playlist a cache had kept) it plays faster until it is back, aiming a
    second further back for each stall, as a low-latency player does."""
    aim_s = live_target_s(LIVE_START_BEHIND * segment_s, stalls, target_duration_s)
    return catch_up_rate(buffer_s, aim_s)


def media_played(wall_s: float, buffer_s: float, rate: float) -> float:
    """The media seconds `wall_s` of real time take from a buffer of `buffer_s` played at
    `rate`: at that rate while it lasts, then one for one, so that a playback session counts
    the stall after it in real time."""
    if rate == 1.0 or wall_s * rate <= buffer_s:
        return wall_s * rate
    return buffer_s + (wall_s - buffer_s / rate)
