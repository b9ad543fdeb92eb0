"""Parse HLS media playlists (RFC 8216) into the model; used to read encoder output."""

from __future__ import annotations

from manifests.errors import ManifestError
from manifests.model import MediaPlaylist, Segment


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
