"""Live media playlists with Low-Latency HLS (RFC 8216bis): the state of one rendition of a
live stream, and its playlist as LL-HLS players (parts, preload hint, delta updates) and as
classic players (whole segments only) see it. Pure: values and text.

Names: segment `{msn}.m4s`, part `{msn}.{n}.m4s` (n from 0), beside `init.mp4`.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from manifests.render import format_duration, quote

LL_VERSION = 9  # EXT-X-SKIP needs 9; parts and preload hints 6 and up
CLASSIC_VERSION = 7
PART_WINDOW_TARGETS = 3  # parts are listed for the last three target durations (§4.4.4.9)
# how far behind the newest part LL-HLS players start, in part target durations: the spec's
# floor is 2 (3 recommended); 4 leaves a viewer a part's worth of slack when a part comes late
# (a loaded machine), which 3 did not always (measured: stalls in 2-minute runs)
HOLD_BACK_PARTS = 4
ON_AIR_PARTS = HOLD_BACK_PARTS + 1
BLOCKING_CACHE_TARGETS = 6  # how long (in target durations) a blocking reload's answer may be
# cached: its URL names the part it waited for, so it never goes stale, only old


def parts_listed(segment_end_s: float, whole_end_s: float, target_s: float) -> bool:
    """Whether a segment ending at `segment_end_s` has its parts listed in a playlist whose
    whole segments end at `whole_end_s`: it ends within the last PART_WINDOW_TARGETS target
    durations (the segment being made, ending later, always does)."""
    return segment_end_s > whole_end_s - PART_WINDOW_TARGETS * target_s


@dataclass(frozen=True, slots=True)
class Part:
    duration_s: float
    independent: bool = False


@dataclass(frozen=True, slots=True)
class LiveSegment:
    msn: int
    duration_s: float
    parts: tuple[Part, ...]
    started_at: float  # wall clock (epoch s) of its first frame: EXT-X-PROGRAM-DATE-TIME


@dataclass(frozen=True, slots=True)
class RenditionReport:
    uri: str  # the other rendition's playlist, relative to this one
    last_msn: int
    last_part: int | None


@dataclass(frozen=True, slots=True)
class LiveTrack:
    """One rendition: the complete segments in the DVR window, the parts of the segment being
    made, and whether the stream has ended."""

    target_duration_s: int
    part_target_s: float
    segments: tuple[LiveSegment, ...] = ()
    pending: tuple[Part, ...] = ()  # parts of segment `next_msn`
    next_msn: int = 0
    pending_started_at: float | None = None
    ended: bool = False
    init_uri: str = "init.mp4"
    window_s: float = 60.0  # DVR depth: complete segments kept this far behind the live edge

    @property
    def first_msn(self) -> int:
        return self.segments[0].msn if self.segments else self.next_msn

    @property
    def last_part(self) -> tuple[int, int] | None:
        """(msn, part index) of the newest part, or None before the first."""
        if self.pending:
            return self.next_msn, len(self.pending) - 1
        if self.segments:
            last = self.segments[-1]
            return last.msn, len(last.parts) - 1
        return None

    @property
    def on_air(self) -> bool:
        """Whether players may join: it holds a player's hold back and one part more after
        its first segment (with fewer, a player starts at the first part and waits for the
        next), or it has ended.

        Not within the first segment: hls.js, joining a stream within the segment its
        timeline starts with, loaded that segment's last part again and again (78 requests
        at the median of 12 joins, up to 212, each a hit on its POP) until its playhead
        passed the segment's end; joining within any later one, it loads each part once. A
        crowd waiting for a broadcast to begin joins at once, so going on air a segment
        later spares its POPs that many requests per viewer."""
        parts = sum(len(s.parts) for s in self.segments) + len(self.pending)
        first = len(self.segments[0].parts) if self.segments else parts
        return parts - first >= ON_AIR_PARTS or (self.ended and parts > 0)

    @property
    def advance_part_limit(self) -> int:
        """How far ahead of the newest part a blocking request may ask (§6.2.5.2)."""
        return math.ceil(3 / self.part_target_s) if self.part_target_s < 1 else 3

    def add_part(self, part: Part, started_at: float) -> LiveTrack:
        """A new part of the segment being made (`started_at`: its first frame's time)."""
        first = not self.pending
        return replace(
            self,
            pending=(*self.pending, part),
            pending_started_at=started_at if first else self.pending_started_at,
        )

    def dated_from(self, moved_s: float) -> LiveTrack:
        """The same track with every program date `moved_s` later (earlier if negative)."""
        return replace(
            self,
            segments=tuple(replace(s, started_at=s.started_at + moved_s) for s in self.segments),
            pending_started_at=None
            if self.pending_started_at is None
            else self.pending_started_at + moved_s,
        )

    def close_segment(self) -> LiveTrack:
        """The segment being made is complete: it joins the window (older ones leave it)."""
        if not self.pending:
            return self
        segment = LiveSegment(
            self.next_msn,
            sum(p.duration_s for p in self.pending),
            self.pending,
            self.pending_started_at or 0.0,
        )
        segments = (*self.segments, segment)
        kept: list[LiveSegment] = []
        total = 0.0
        for s in reversed(segments):  # the newest segments that fit the window, at least one
            if kept and total + s.duration_s > self.window_s:
                break
            kept.append(s)
            total += s.duration_s
        return replace(
            self,
            segments=tuple(reversed(kept)),
            pending=(),
            pending_started_at=None,
            next_msn=self.next_msn + 1,
        )

    def end(self) -> LiveTrack:
        return replace(self.close_segment(), ended=True)

    def skip_count(self) -> int:
        """How many of the oldest segments a delta update leaves out: those entirely before
        the skip boundary (CAN-SKIP-UNTIL seconds before the end of the playlist)."""
        boundary = self.skip_until_s
        remaining = sum(s.duration_s for s in self.segments) + sum(
            p.duration_s for p in self.pending
        )
        count = 0
        for s in self.segments:
            if remaining - s.duration_s < boundary:
                break
            remaining -= s.duration_s
            count += 1
        return count

    @property
    def skip_until_s(self) -> float:
        return 6.0 * self.target_duration_s

    @property
    def part_hold_back_s(self) -> float:
        return round(HOLD_BACK_PARTS * self.part_target_s, 3)


def segment_uri(msn: int) -> str:
    return f"{msn}.m4s"


def part_uri(msn: int, index: int) -> str:
    return f"{msn}.{index}.m4s"


def program_date_time(epoch_s: float) -> str:
    moment = datetime.fromtimestamp(epoch_s, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _part_line(msn: int, index: int, part: Part) -> str:
    attrs = f"DURATION={format_duration(part.duration_s)},URI={quote(part_uri(msn, index))}"
    return f"#EXT-X-PART:{attrs}{',INDEPENDENT=YES' if part.independent else ''}"


@dataclass(frozen=True, slots=True)
class PlaylistView:
    low_latency: bool = True
    skip: bool = False  # a delta update (_HLS_skip=YES)
    reports: tuple[RenditionReport, ...] = field(default=())


def render_live_playlist(track: LiveTrack, view: PlaylistView = PlaylistView()) -> str:
    ll = view.low_latency
    lines = [
        "#EXTM3U",
        f"#EXT-X-VERSION:{LL_VERSION if ll else CLASSIC_VERSION}",
        f"#EXT-X-TARGETDURATION:{track.target_duration_s}",
    ]
    if ll:
        lines.append(
            "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,"
            f"CAN-SKIP-UNTIL={format_duration(track.skip_until_s)},"
            f"PART-HOLD-BACK={format_duration(track.part_hold_back_s)}"
        )
        lines.append(f"#EXT-X-PART-INF:PART-TARGET={format_duration(track.part_target_s)}")
    lines.append(f"#EXT-X-MEDIA-SEQUENCE:{track.first_msn}")
    lines.append("#EXT-X-INDEPENDENT-SEGMENTS")
    skipped = track.skip_count() if ll and view.skip else 0
    if skipped:
        lines.append(f"#EXT-X-SKIP:SKIPPED-SEGMENTS={skipped}")
    lines.append(f"#EXT-X-MAP:URI={quote(track.init_uri)}")
    whole_s = sum(s.duration_s for s in track.segments)
    elapsed = 0.0
    for position, s in enumerate(track.segments):
        elapsed += s.duration_s
        if position < skipped:
            continue
        lines.append(f"#EXT-X-PROGRAM-DATE-TIME:{program_date_time(s.started_at)}")
        if ll and parts_listed(elapsed, whole_s, track.target_duration_s):
            lines += [_part_line(s.msn, i, p) for i, p in enumerate(s.parts)]
        lines.append(f"#EXTINF:{format_duration(s.duration_s)},")
        lines.append(segment_uri(s.msn))
    if ll and not track.ended:
        lines += [_part_line(track.next_msn, i, p) for i, p in enumerate(track.pending)]
        next_part = part_uri(track.next_msn, len(track.pending))
        lines.append(f"#EXT-X-PRELOAD-HINT:TYPE=PART,URI={quote(next_part)}")
        for report in view.reports:
            attrs = [f"URI={quote(report.uri)}", f"LAST-MSN={report.last_msn}"]
            if report.last_part is not None:
                attrs.append(f"LAST-PART={report.last_part}")
            lines.append("#EXT-X-RENDITION-REPORT:" + ",".join(attrs))
    if track.ended:
        lines.append("#EXT-X-ENDLIST")
    return "\n".join(lines) + "\n"


def _parts(parts: tuple[Part, ...]) -> list[list[float | bool]]:
    return [[p.duration_s, p.independent] for p in parts]


def _parts_of(raw: list[list[Any]]) -> tuple[Part, ...]:
    return tuple(Part(float(duration), bool(independent)) for duration, independent in raw)


def track_to_json(track: LiveTrack) -> str:
    """The state of a track, compactly (it is written for every part)."""
    return json.dumps(
        {
            "target": track.target_duration_s,
            "part_target": track.part_target_s,
            "segments": [
                [s.msn, s.duration_s, s.started_at, _parts(s.parts)] for s in track.segments
            ],
            "pending": _parts(track.pending),
            "next_msn": track.next_msn,
            "pending_started_at": track.pending_started_at,
            "ended": track.ended,
            "init": track.init_uri,
            "window_s": track.window_s,
        },
        separators=(",", ":"),
    )


def track_from_json(text: str) -> LiveTrack:
    raw = json.loads(text)
    return LiveTrack(
        target_duration_s=int(raw["target"]),
        part_target_s=float(raw["part_target"]),
        segments=tuple(
            LiveSegment(int(msn), float(duration), _parts_of(parts), float(started_at))
            for msn, duration, started_at, parts in raw["segments"]
        ),
        pending=_parts_of(raw["pending"]),
        next_msn=int(raw["next_msn"]),
        pending_started_at=raw["pending_started_at"],
        ended=bool(raw["ended"]),
        init_uri=str(raw["init"]),
        window_s=float(raw["window_s"]),
    )
