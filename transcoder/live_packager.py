"""Package one rendition of a live stream as its fragments arrive: each fragment is a part,
stored at once and announced in the rendition's playlist state; parts are gathered into
segments (a new one at each keyframe on a segment boundary for video, at each boundary for
audio), and every segment is stored whole too, for classic players, the DVR window and the
recording. Nothing is announced before its bytes are stored."""

from __future__ import annotations

import functools
import hashlib
import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any, Literal

from manifests.live_playlist import (
    BLOCKING_CACHE_TARGETS,
    PART_WINDOW_TARGETS,
    LiveTrack,
    Part,
    part_uri,
    segment_uri,
)
from manifests.live_streams import LiveRendition, LiveSettings
from manifests.records import StoredObject
from storage import Storage
from storage.errors import StorageError
from storage.keys import live_key
from transcoder.fragments import Fragment, FragmentError, Init, picture_size, shifted
from transcoder.live_command import audio_part_s
from transcoder.live_recording import RecordedTrack
from transcoder.mp4 import aac_codec, avc_codec

log = logging.getLogger("mediacdn.live")
Publish = Callable[[int, LiveRendition], None]
BOUNDARY_SLACK = 0.25  # of a part: a video part ending this close to a boundary ends there
ON_BOUNDARY_S = 0.001  # an audio part ending this close to a boundary reaches it (rounding)
# A segment's parts stay in storage while a playlist may name them: as long as a playlist lists
# them, plus as long as a cached blocking playlist may be served, plus a segment. Older parts
# are deleted (the segment holds the same bytes): a recording keeps its segments only.
PARTS_KEPT_TARGETS = PART_WINDOW_TARGETS + BLOCKING_CACHE_TARGETS
TARGET_CHECKED_SEGMENTS = 2_000  # how many audio segments `target_duration_s` lays out


def audio_segment_closes(
    end_s: float,
    boundary_s: float,
    pending_s: float,
    part_s: float,
    settings: LiveSettings,
    target: int,
) -> bool:
    """Whether an audio segment is whole with a part ending at `end_s`, its parts (this one
    included) `pending_s` long, the next boundary at `boundary_s`.

    Audio parts are whole AAC frames (0.469 s for 0.5 s parts), so they do not end on the
    video's boundaries. An audio segment closes with the first part that reaches the
    boundary, so that it covers its video segment. One that ended short of it (at the nearest
    part) left a player that joined in that segment with its video buffered past its audio:
    hls.js then loaded that segment's video parts again and again, and asked for the next
    audio part only late, so that playback sometimes stalled at the audio's end. It closes
    short only near its boundary, where one more part would make it longer than the target
    duration allows (rounded, RFC 8216bis 4.4.3.1), so that no track drifts off the grid."""
    near = end_s >= boundary_s - BOUNDARY_SLACK * settings.part_s
    too_long = pending_s + part_s >= target + 0.5
    return end_s >= boundary_s - ON_BOUNDARY_S or (near and too_long)


@functools.lru_cache(maxsize=64)
def target_duration_s(settings: LiveSettings) -> int:
    """The stream's target duration: the least whole number of seconds that every segment of
    every track rounds to or under. Video segments end on keyframes at the boundaries; audio
    segments by `audio_segment_closes`, which may run almost a part past a boundary. With
    long parts (say 1 s parts of 2 s segments: 0.917 s of audio a part) that rounds past the
    segment length, so the target is the least one under which the audio of the encoder's
    parts (`audio_part_s`) never does, laid out over `TARGET_CHECKED_SEGMENTS` segments."""
    part_s = audio_part_s(settings.part_s)
    target = max(1, math.ceil(settings.segment_s))
    while _longest_audio_segment(settings, part_s, target) >= target + 0.5:
        target += 1
    return target


def _longest_audio_segment(settings: LiveSettings, part_s: float, target: int) -> float:
    longest, start_s, made, n = 0.0, 0.0, 0, 0
    while made < TARGET_CHECKED_SEGMENTS:
        n += 1
        end_s = n * part_s
        boundary_s = (made + 1) * settings.segment_s
        if audio_segment_closes(end_s, boundary_s, end_s - start_s, part_s, settings, target):
            longest = max(longest, end_s - start_s)
            start_s, made = end_s, made + 1
    return longest


class WallClock:
    """Maps media time to wall time, the same for every rendition of a stream: media time 0
    is the earliest the media could have begun by the fragments seen so far (each one's
    arrival less its end time, the least of them). The first fragments come late, made from
    what the receiver read to probe the encoder and while the transcoder starts (about a
    second after their media's end, where the ones after come within half a second); anchored
    on the first alone, every program date was that much later than the media was made. The
    anchor moves only earlier, and only until the stream is `settle`d (on air: players see
    its dates from then on)."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._anchor: float | None = None
        self._settled = False
        self._lock = threading.Lock()

    def anchored(self, arrived_end_s: float) -> float:
        """The wall time of media time 0, a fragment ending at `arrived_end_s` having arrived."""
        with self._lock:
            earliest = self._clock() - arrived_end_s
            if self._anchor is None or (not self._settled and earliest < self._anchor):
                self._anchor = earliest
            return self._anchor

    def settle(self) -> None:
        """The stream is on air: the anchor stays where it is."""
        with self._lock:
            self._settled = True

    def reset(self) -> None:
        """Anchor again at the next fragment (an encoder came back after a pause; the stream
        is on air, so that anchor stays)."""
        with self._lock:
            self._anchor = None


class Resumption:
    """Where a reconnected encoder's media goes on the stream's timeline: the first fragment
    to arrive (of any rendition) starts where the broadcast had got to, and every rendition
    moves by the same amount, so they stay in sync."""

    def __init__(self, at_s: float) -> None:
        self.at_s = at_s
        self._shift_s: float | None = None
        self._lock = threading.Lock()

    def shift_s(self, first_start_s: float) -> float:
        with self._lock:
            if self._shift_s is None:
                self._shift_s = self.at_s - first_start_s
            return self._shift_s


class EncoderChanged(FragmentError):
    """A reconnected encoder's stream cannot continue the broadcast (another picture size or
    codec setup: a new init segment)."""


class TrackPackager:
    def __init__(
        self,
        stream_id: str,
        name: str,
        kind: Literal["video", "audio"],
        position: int,
        settings: LiveSettings,
        storage: Storage,
        publish: Publish,
        wall: WallClock,
        info: dict[str, Any],
    ) -> None:
        self.stream_id, self.name, self.kind, self.position = stream_id, name, kind, position
        self.settings, self.storage, self.publish, self.wall = settings, storage, publish, wall
        self.info = dict(info)
        self.track = LiveTrack(
            target_duration_s=target_duration_s(settings),
            part_target_s=settings.part_s,
            window_s=settings.window_s,
        )
        self.init: StoredObject | None = None
        self.timescale = 1
        self.recorded: list[StoredObject] = []
        self._bytes: list[bytes] = []
        self._first_start: float | None = None
        self._with_parts: deque[tuple[int, int]] = deque()  # closed segments' (msn, parts)
        self._grid_base = 0  # segments made before the encoder (re)connected
        self._resumption: Resumption | None = None
        self._shift_ticks: int | None = None
        self._anchor: float | None = None  # the wall clock anchor its dates were set from
        self.end_s = 0.0  # where its media has got to on the stream's timeline
        keep_s = PARTS_KEPT_TARGETS * self.track.target_duration_s
        self._segments_with_parts = math.ceil(keep_s / settings.segment_s) + 1

    def _store(self, name: str, data: bytes, duration_s: float | None = None) -> StoredObject:
        key = live_key(self.stream_id, self.name, name)
        self.storage.put_bytes(key, data)
        digest = hashlib.sha256(data).hexdigest()
        return StoredObject(self.name, name, key, len(data), digest, duration_s)

    def recorded_track(self) -> RecordedTrack:
        return RecordedTrack(self.name, self.kind, self.info, self.init, tuple(self.recorded))

    def rendition(self) -> LiveRendition:
        return LiveRendition(self.name, self.kind, self.info, self.track)

    def _announce(self) -> None:
        self.publish(self.position, self.rendition())

    def on_init(self, init: Init) -> None:
        self.timescale = init.timescale
        if self.init is not None:  # a reconnected encoder: the same setup, or no going on
            if hashlib.sha256(init.data).hexdigest() != self.init.sha256:
                raise EncoderChanged(f"rendition {self.name}: a new init segment")
            return
        self.init = self._store("init.mp4", init.data)
        size = picture_size(init.data) if self.kind == "video" else None
        if size:
            self.info["resolution"] = f"{size[0]}x{size[1]}"
        codec = avc_codec(init.data) if self.kind == "video" else aac_codec(init.data)
        if codec:
            self.info["codecs"] = codec

    def _starts_segment(self, fragment: Fragment) -> bool:
        """A keyframe off the boundaries (the encoder's own) still starts a video segment."""
        return self.kind == "video" and fragment.independent and bool(self.track.pending)

    def _completes_segment(self, fragment: Fragment) -> bool:
        """Whether the segment is whole with this fragment: it reaches the next boundary (a
        multiple of the segment duration from the start, the same for every rendition, where
        video has its keyframes; audio by `audio_segment_closes`). Closed at once, the segment
        is there for classic players as soon as possible and the preload hint names the next
        segment's first part, not a part that will never exist."""
        first = self._first_start or 0.0
        made = len(self.recorded) - self._grid_base
        boundary = first + (made + 1) * self.settings.segment_s
        end = fragment.start_s + fragment.duration_s
        if self.kind == "video":
            return end >= boundary - BOUNDARY_SLACK * self.settings.part_s
        pending_s = sum(part.duration_s for part in self.track.pending)
        return audio_segment_closes(
            end,
            boundary,
            pending_s,
            fragment.duration_s,
            self.settings,
            self.track.target_duration_s,
        )

    def on_fragment(self, fragment: Fragment) -> None:
        if self._resumption is not None:
            if self._shift_ticks is None:
                shift = self._resumption.shift_s(fragment.start_s)
                self._shift_ticks = round(shift * self.timescale)
            fragment = shifted(fragment, self._shift_ticks, self.timescale)
        self.end_s = fragment.start_s + fragment.duration_s
        if self._first_start is None:
            self._first_start = fragment.start_s
        if self._starts_segment(fragment):
            self._close_segment()
        index = len(self.track.pending)
        self._store(part_uri(self.track.next_msn, index), fragment.data)
        self._bytes.append(fragment.data)
        anchor = self.wall.anchored(fragment.start_s + fragment.duration_s)
        self._dates_from(anchor)
        part = Part(round(fragment.duration_s, 6), fragment.independent)
        self.track = self.track.add_part(part, anchor + fragment.start_s)
        closed = self._completes_segment(fragment)
        if closed:
            self._close_segment()
        self._announce()
        if closed:
            self._drop_old_parts()

    def _dates_from(self, anchor: float) -> None:
        """The track's program dates moved to the stream's wall clock `anchor`, if it moved
        since they were set (it may, until the stream is on air)."""
        if self._anchor is not None and anchor != self._anchor:
            self.track = self.track.dated_from(anchor - self._anchor)
        self._anchor = anchor

    def _close_segment(self) -> None:
        if not self.track.pending:
            return
        duration = sum(p.duration_s for p in self.track.pending)
        name = segment_uri(self.track.next_msn)
        self.recorded.append(self._store(name, b"".join(self._bytes), round(duration, 6)))
        self._with_parts.append((self.track.next_msn, len(self.track.pending)))
        self._bytes = []
        self.track = self.track.close_segment()

    def pause(self) -> None:
        """The encoder left: the segment being made is closed (shorter) and announced."""
        self._close_segment()
        self._announce()
        self._drop_old_parts()

    def resume(self, resumption: Resumption) -> None:
        """An encoder came back: its media continues the timeline at `resumption`, with
        segments cut on a grid that starts there (where its keyframes are)."""
        self._resumption, self._shift_ticks = resumption, None
        self._first_start, self._grid_base = None, len(self.recorded)
        self._anchor = None  # the clock anchors again: what was made keeps its dates

    def finish(self) -> None:
        """The stream ended: the last segment is closed and the playlist ends."""
        self._close_segment()
        self.track = self.track.end()
        self._announce()
        self._drop_old_parts()

    def _drop_old_parts(self) -> None:
        while len(self._with_parts) > self._segments_with_parts:
            msn, count = self._with_parts.popleft()
            try:
                for n in range(count):
                    self.storage.delete(live_key(self.stream_id, self.name, part_uri(msn, n)))
            except StorageError as exc:  # kept: the stream goes on; deleting the video drops them
                log.warning("live %s/%s: parts of %d kept: %s", self.stream_id, self.name, msn, exc)
