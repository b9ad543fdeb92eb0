"""Parse HLS media playlists (RFC 8216) into the model; used to read encoder output."""

from __future__ import annotations

from manifests.errors import ManifestError
from manifests.model import (
    MasterPlaylist,
    MediaPlaylist,
    MediaTrack,
    MediaType,
    Segment,
    Variant,
)


def _attribute(value: str, name: str) -> str | None:
    for part in value.split(","):
        key, _, raw = part.partition("=")
        if key.strip() == name:
            return raw.strip().strip('"')
    return None


def parse_media_playlist(text: str) -> MediaPlaylist:
    lines = text.splitlines()
    if not lines or lines[0].strip() != "#EXTM3U":
        raise ManifestError(1, lines[0] if lines else "", "playlist must start with #EXTM3U")
    segments: list[Segment] = []
    init_uri: str | None = None
    pending: float | None = None
    ended = False
    playlist_type: str | None = None
    for lineno, raw in enumerate(lines[1:], start=2):
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#EXTINF:"):
            duration = line[len("#EXTINF:") :].split(",", 1)[0]
            try:
                pending = float(duration)
            except ValueError as exc:
                raise ManifestError(lineno, raw, "EXTINF duration is not a number") from exc
            if pending < 0:
                raise ManifestError(lineno, raw, "EXTINF duration is negative")
        elif line.startswith("#EXT-X-MAP:"):
            init_uri = _attribute(line[len("#EXT-X-MAP:") :], "URI")
            if not init_uri:
                raise ManifestError(lineno, raw, "EXT-X-MAP without URI")
        elif line.startswith("#EXT-X-PLAYLIST-TYPE:"):
            playlist_type = line.split(":", 1)[1]
        elif line == "#EXT-X-ENDLIST":
            ended = True
        elif line.startswith("#"):
            continue
        else:
            if pending is None:
                raise ManifestError(lineno, raw, "segment URI without a preceding EXTINF")
            segments.append(Segment(uri=line, duration_s=pending))
            pending = None
    if playlist_type not in (None, "VOD", "EVENT"):
        raise ManifestError(0, playlist_type, "unknown playlist type")
    return MediaPlaylist(
        segments=tuple(segments),
        init_uri=init_uri,
        playlist_type=playlist_type,  # type: ignore[arg-type]
        ended=ended,
    )


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
            if "BANDWIDTH" not in pending:
                raise ManifestError(lineno, raw, "EXT-X-STREAM-INF without BANDWIDTH")
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
                    if width.isascii() and width.isdigit() and height.isascii() and height.isdigit()
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
