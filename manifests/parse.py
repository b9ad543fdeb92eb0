"""Parse HLS media playlists (RFC 8216) into the model; used to read encoder output."""

from __future__ import annotations

import math
from datetime import UTC, datetime

from manifests.errors import ManifestError
from manifests.model import (
    ByteRange,
    MasterPlaylist,
    MediaPart,
    MediaPlaylist,
    MediaTrack,
    MediaType,
    Segment,
    Variant,
)


def _whole(text: str) -> bool:
    """Whether `text` is a decimal-integer (RFC 8216 §4.2: ASCII digits)."""
    return text.isascii() and text.isdigit()


def _byterange(text: str, follows: ByteRange | None) -> ByteRange | None:
    """`<length>[@<offset>]` (RFC 8216 §4.3.2.2); without an offset, the range starts where
    `follows` (the previous range of the same resource) ended. None if it is not one."""
    length, at, offset = text.strip().partition("@")
    if not _whole(length) or int(length) == 0 or (at and not _whole(offset)):
        return None
    if at:
        return ByteRange(int(length), int(offset))
    if follows is None:
        return None
    return ByteRange(int(length), follows.offset + follows.length)


def parse_media_playlist(text: str) -> MediaPlaylist:
    lines = text.splitlines()
    if not lines or lines[0].strip() != "#EXTM3U":
        raise ManifestError(1, lines[0] if lines else "", "playlist must start with #EXTM3U")
    segments: list[Segment] = []
    init_uri: str | None = None
    init_byterange: ByteRange | None = None
    pending: float | None = None
    pending_range: str | None = None  # an EXT-X-BYTERANGE for the next segment
    media_sequence = 0
    last_range: tuple[str, ByteRange] | None = None  # the last segment's range, and its URI
    ended = False
    playlist_type: str | None = None
    parts: list[MediaPart] = []  # listed since the last segment: the next one's
    last_part_range: tuple[str, ByteRange] | None = None
    date: float | None = None  # EXT-X-PROGRAM-DATE-TIME of the next segment
    ll = _LowLatency()
    for lineno, raw in enumerate(lines[1:], start=2):
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#EXT-X-PART:"):
            listed = _part(lineno, raw, line[len("#EXT-X-PART:") :], last_part_range)
            if listed.byterange is not None:
                last_part_range = (listed.uri, listed.byterange)
            parts.append(listed)
        elif line.startswith("#EXT-X-PROGRAM-DATE-TIME:"):
            date = _date_time(line[len("#EXT-X-PROGRAM-DATE-TIME:") :])
        elif ll.read(lineno, raw, line):
            continue
        elif line.startswith("#EXTINF:"):
            duration = line[len("#EXTINF:") :].split(",", 1)[0]
            try:
                pending = float(duration)
            except ValueError as exc:
                raise ManifestError(lineno, raw, "EXTINF duration is not a number") from exc
            if pending < 0:
                raise ManifestError(lineno, raw, "EXTINF duration is negative")
        elif line.startswith("#EXT-X-BYTERANGE:"):
            pending_range = line[len("#EXT-X-BYTERANGE:") :]
            if _byterange(pending_range, ByteRange(0, 0)) is None:
                raise ManifestError(lineno, raw, "EXT-X-BYTERANGE is not <length>[@<offset>]")
        elif line.startswith("#EXT-X-MAP:"):
            attributes = _attributes(line[len("#EXT-X-MAP:") :])
            init_uri = attributes.get("URI")
            if not init_uri:
                raise ManifestError(lineno, raw, "EXT-X-MAP without URI")
            init_byterange = None
            if "BYTERANGE" in attributes:
                init_byterange = _byterange(attributes["BYTERANGE"], None)
                if init_byterange is None:
                    raise ManifestError(lineno, raw, "EXT-X-MAP's BYTERANGE is not <n>@<o>")
        elif line.startswith("#EXT-X-MEDIA-SEQUENCE:"):
            number = line[len("#EXT-X-MEDIA-SEQUENCE:") :].strip()
            if not _whole(number):
                raise ManifestError(lineno, raw, "EXT-X-MEDIA-SEQUENCE is no whole number")
            media_sequence = int(number)
        elif line.startswith("#EXT-X-PLAYLIST-TYPE:"):
            playlist_type = line.split(":", 1)[1]
        elif line == "#EXT-X-ENDLIST":
            ended = True
        elif line.startswith("#"):
            continue
        else:
            if pending is None:
                raise ManifestError(lineno, raw, "segment URI without a preceding EXTINF")
            part = None
            if pending_range is not None:
                # without an offset, it follows the previous segment's range of the same URI
                follows = last_range[1] if last_range and last_range[0] == line else None
                part = _byterange(pending_range, follows)
                if part is None:
                    raise ManifestError(lineno, raw, "a byte range without an offset to follow")
                last_range = (line, part)
            segments.append(Segment(line, pending, part, tuple(parts), date))
            pending, pending_range, parts = None, None, []
            date = None if date is None else date + segments[-1].duration_s
    if playlist_type not in (None, "VOD", "EVENT"):
        raise ManifestError(0, playlist_type, "unknown playlist type")
    return MediaPlaylist(
        segments=tuple(segments),
        init_uri=init_uri,
        init_byterange=init_byterange,
        media_sequence=media_sequence,
        playlist_type=playlist_type,  # type: ignore[arg-type]
        ended=ended,
        pending_parts=tuple(parts),
        part_target_s=ll.part_target_s,
        part_hold_back_s=ll.part_hold_back_s,
        can_block_reload=ll.can_block_reload,
    )


class _LowLatency:
    """The playlist-wide LL-HLS tags: EXT-X-PART-INF and EXT-X-SERVER-CONTROL."""

    def __init__(self) -> None:
        self.part_target_s: float | None = None
        self.part_hold_back_s: float | None = None
        self.can_block_reload = False

    def read(self, lineno: int, raw: str, line: str) -> bool:
        """Whether `line` is one of its tags (read into it)."""
        if line.startswith("#EXT-X-PART-INF:"):
            attributes = _attributes(line[len("#EXT-X-PART-INF:") :])
            self.part_target_s = _seconds(lineno, raw, attributes.get("PART-TARGET"))
        elif line.startswith("#EXT-X-SERVER-CONTROL:"):
            attributes = _attributes(line[len("#EXT-X-SERVER-CONTROL:") :])
            self.can_block_reload = attributes.get("CAN-BLOCK-RELOAD") == "YES"
            if "PART-HOLD-BACK" in attributes:
                self.part_hold_back_s = _seconds(lineno, raw, attributes["PART-HOLD-BACK"])
        else:
            return False
        return True


def _seconds(lineno: int, raw: str, text: str | None) -> float:
    try:
        seconds = float(text) if text is not None else -1.0
    except ValueError:
        seconds = -1.0
    if not seconds >= 0 or math.isinf(seconds):
        raise ManifestError(lineno, raw, "a duration that is not a number of seconds")
    return seconds


def _part(lineno: int, raw: str, text: str, follows: tuple[str, ByteRange] | None) -> MediaPart:
    """An EXT-X-PART (a BYTERANGE without an offset follows the last part's range of its
    URI)."""
    attributes = _attributes(text)
    uri = attributes.get("URI", "")
    if not uri:
        raise ManifestError(lineno, raw, "EXT-X-PART without URI")
    duration = _seconds(lineno, raw, attributes.get("DURATION"))
    byterange = None
    if "BYTERANGE" in attributes:
        after = follows[1] if follows is not None and follows[0] == uri else None
        byterange = _byterange(attributes["BYTERANGE"], after)
        if byterange is None:
            raise ManifestError(lineno, raw, "EXT-X-PART's BYTERANGE is not <n>[@<o>]")
    return MediaPart(uri, duration, attributes.get("INDEPENDENT") == "YES", byterange)


def _date_time(text: str) -> float | None:
    """An EXT-X-PROGRAM-DATE-TIME as epoch seconds; None if it is not a date (players skip a
    date they cannot read, as hls.js does)."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def parse_master_playlist(text: str) -> MasterPlaylist:
    """Variants (and alternative renditions) of a master playlist, for players."""
    lines = text.splitlines()
    if not lines or lines[0].strip() != "#EXTM3U":
        raise ManifestError(1, lines[0] if lines else "", "playlist must start with #EXTM3U")
    variants: list[Variant] = []
    media: list[MediaTrack] = []
    pending: dict[str, str] | None = None
    for lineno, raw in enumerate(lines[1:], start=2):
        line = raw.strip()
        if line.startswith("#EXT-X-STREAM-INF:"):
            pending = _attributes(line.split(":", 1)[1])
            if not _whole(pending.get("BANDWIDTH", "")):
                raise ManifestError(lineno, raw, "EXT-X-STREAM-INF without a whole BANDWIDTH")
            if "AVERAGE-BANDWIDTH" in pending and not _whole(pending["AVERAGE-BANDWIDTH"]):
                raise ManifestError(lineno, raw, "AVERAGE-BANDWIDTH is no whole number")
        elif line.startswith("#EXT-X-MEDIA:"):
            attrs = _attributes(line.split(":", 1)[1])
            kind: MediaType | None = None
            if attrs.get("TYPE") == "AUDIO":
                kind = "AUDIO"
            elif attrs.get("TYPE") == "SUBTITLES":
                kind = "SUBTITLES"
            if kind is not None and "URI" in attrs:
                media.append(
                    MediaTrack(
                        kind,
                        attrs.get("GROUP-ID", ""),
                        attrs.get("NAME", ""),
                        attrs["URI"],
                        attrs.get("LANGUAGE"),
                        attrs.get("DEFAULT") == "YES",
                    )
                )
        elif line and not line.startswith("#") and pending is not None:
            width, _, height = pending.get("RESOLUTION", "").partition("x")
            variants.append(
                Variant(
                    uri=line,
                    bandwidth_bps=int(pending["BANDWIDTH"]),
                    average_bandwidth_bps=int(pending["AVERAGE-BANDWIDTH"])
                    if "AVERAGE-BANDWIDTH" in pending
                    else None,
                    codecs=pending.get("CODECS"),
                    resolution=(int(width), int(height))
                    if _whole(width) and _whole(height)
                    else None,
                    audio_group=pending.get("AUDIO"),
                    subtitles_group=pending.get("SUBTITLES"),
                )
            )
            pending = None
    return MasterPlaylist(variants=tuple(variants), media=tuple(media))


def _attributes(text: str) -> dict[str, str]:
    """RFC 8216 §4.2 attribute lists (quoted strings may contain commas)."""
    out: dict[str, str] = {}
    key, value, quoted, reading_key = "", "", False, True
    for ch in text + ",":
        if reading_key:
            if ch == "=":
                reading_key = False
            elif ch != ",":
                key += ch
        elif ch == '"':
            quoted = not quoted
        elif ch == "," and not quoted:
            out[key.strip()] = value
            key, value, reading_key = "", "", True
        else:
            value += ch
    return out
