"""Pure HLS playlist model (RFC 8216): values only, no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

MediaType = Literal["AUDIO", "SUBTITLES"]


@dataclass(frozen=True, slots=True)
class ByteRange:
    """`length` bytes from `offset` of a resource (EXT-X-BYTERANGE, EXT-X-MAP's BYTERANGE)."""

    length: int
    offset: int

    @property
    def header(self) -> str:
        """As an HTTP Range header value."""
        return f"bytes={self.offset}-{self.offset + self.length - 1}"


@dataclass(frozen=True, slots=True)
class MediaPart:
    """One EXT-X-PART of a low-latency playlist: a piece of a segment, listed as it is made."""

    uri: str
    duration_s: float
    independent: bool = False  # starts with a frame decodable on its own
    byterange: ByteRange | None = None


@dataclass(frozen=True, slots=True)
class Segment:
    uri: str
    duration_s: float
    byterange: ByteRange | None = None  # a part of the resource at `uri` (EXT-X-BYTERANGE)
    parts: tuple[MediaPart, ...] = ()  # as listed before it (LL-HLS lists recent ones only)
    program_date_time_s: float | None = None  # EXT-X-PROGRAM-DATE-TIME, as epoch seconds


@dataclass(frozen=True, slots=True)
class MediaPlaylist:
    segments: tuple[Segment, ...]
    init_uri: str | None = None
    playlist_type: Literal["VOD", "EVENT"] | None = "VOD"
    ended: bool = True
    init_byterange: ByteRange | None = None
    media_sequence: int = 0  # the first segment's number (a live playlist's window moves on)
    # LL-HLS: the parts of the segment being made (after the last one listed), the part target
    # (EXT-X-PART-INF), how far behind its end a player starts (PART-HOLD-BACK), and whether
    # the server holds a reload until what it asks for is listed (CAN-BLOCK-RELOAD)
    pending_parts: tuple[MediaPart, ...] = ()
    part_target_s: float | None = None
    part_hold_back_s: float | None = None
    can_block_reload: bool = False

    @property
    def duration_s(self) -> float:
        return sum(s.duration_s for s in self.segments)


@dataclass(frozen=True, slots=True)
class MediaTrack:
    """One EXT-X-MEDIA line: an alternative audio or subtitle rendition."""

    type: MediaType
    group_id: str
    name: str
    uri: str
    language: str | None = None
    default: bool = False
    autoselect: bool = True
    channels: str | None = None


@dataclass(frozen=True, slots=True)
class Variant:
    """One EXT-X-STREAM-INF line and its URI."""

    uri: str
    bandwidth_bps: int
    average_bandwidth_bps: int | None = None
    codecs: str | None = None
    resolution: tuple[int, int] | None = None
    frame_rate: float | None = None
    audio_group: str | None = None
    subtitles_group: str | None = None


@dataclass(frozen=True, slots=True)
class MasterPlaylist:
    variants: tuple[Variant, ...]
    media: tuple[MediaTrack, ...] = ()
    independent_segments: bool = True
