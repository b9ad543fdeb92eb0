"""Render the HLS model to playlist text (RFC 8216)."""

from __future__ import annotations

import math

from manifests.model import MasterPlaylist, MediaPlaylist, MediaTrack, Variant

MEDIA_PLAYLIST_VERSION = 7  # RFC 8216 §4.3.2.5 / Apple: fMP4 with EXT-X-MAP wants >= 6
MASTER_PLAYLIST_VERSION = 6


def target_duration_s(durations: list[float]) -> int:
    """RFC 8216 §4.3.3.1: each EXTINF, rounded to the nearest integer, <= the target duration."""
    return max((math.floor(d + 0.5) for d in durations), default=1) or 1


def format_duration(duration_s: float) -> str:
    text = f"{duration_s:.6f}".rstrip("0")
    return text + "0" if text.endswith(".") else text


def quote(value: str) -> str:
    """RFC 8216 §4.2: a quoted-string cannot contain CR, LF or a double quote."""
    if any(c in value for c in '"\r\n'):
        raise ValueError(f"cannot quote {value!r} in a playlist attribute")
    return f'"{value}"'


def uri_line(value: str) -> str:
    """RFC 8216 §4.1: a URI line is one line, and one that is not a tag or comment."""
    if not value or value.startswith("#") or any(c in value for c in "\r\n"):
        raise ValueError(f"cannot write {value!r} as a playlist URI line")
    return value


def render_media_playlist(playlist: MediaPlaylist) -> str:
    durations = [s.duration_s for s in playlist.segments]
    lines = [
        "#EXTM3U",
        f"#EXT-X-VERSION:{MEDIA_PLAYLIST_VERSION}",
        f"#EXT-X-TARGETDURATION:{target_duration_s(durations)}",
        f"#EXT-X-MEDIA-SEQUENCE:{playlist.media_sequence}",
    ]
    if playlist.playlist_type:
        lines.append(f"#EXT-X-PLAYLIST-TYPE:{playlist.playlist_type}")
    lines.append("#EXT-X-INDEPENDENT-SEGMENTS")
    if playlist.init_uri:
        part = playlist.init_byterange
        within = f",BYTERANGE={quote(f'{part.length}@{part.offset}')}" if part else ""
        lines.append(f"#EXT-X-MAP:URI={quote(playlist.init_uri)}{within}")
    for segment in playlist.segments:
        lines.append(f"#EXTINF:{format_duration(segment.duration_s)},")
        if segment.byterange is not None:
            lines.append(f"#EXT-X-BYTERANGE:{segment.byterange.length}@{segment.byterange.offset}")
        lines.append(segment.uri)
    if playlist.ended:
        lines.append("#EXT-X-ENDLIST")
    return "\n".join(lines) + "\n"


def _media_line(track: MediaTrack) -> str:
    attrs = [
        f"TYPE={track.type}",
        f"GROUP-ID={quote(track.group_id)}",
        f"NAME={quote(track.name)}",
    ]
    if track.language:
        attrs.append(f"LANGUAGE={quote(track.language)}")
    attrs.append(f"DEFAULT={'YES' if track.default else 'NO'}")
    # RFC 8216 §4.3.4.1: if DEFAULT is YES, AUTOSELECT must be YES as well.
    attrs.append(f"AUTOSELECT={'YES' if track.autoselect or track.default else 'NO'}")
    if track.channels:
        attrs.append(f"CHANNELS={quote(track.channels)}")
    attrs.append(f"URI={quote(track.uri)}")
    return "#EXT-X-MEDIA:" + ",".join(attrs)


def _variant_line(variant: Variant) -> str:
    attrs = [f"BANDWIDTH={variant.bandwidth_bps}"]
    if variant.average_bandwidth_bps is not None:
        attrs.append(f"AVERAGE-BANDWIDTH={variant.average_bandwidth_bps}")
    if variant.codecs:
        attrs.append(f"CODECS={quote(variant.codecs)}")
    if variant.resolution:
        attrs.append(f"RESOLUTION={variant.resolution[0]}x{variant.resolution[1]}")
    if variant.frame_rate:
        attrs.append(f"FRAME-RATE={variant.frame_rate:.3f}")
    if variant.audio_group:
        attrs.append(f"AUDIO={quote(variant.audio_group)}")
    if variant.subtitles_group:
        attrs.append(f"SUBTITLES={quote(variant.subtitles_group)}")
    return "#EXT-X-STREAM-INF:" + ",".join(attrs)


def render_master_playlist(playlist: MasterPlaylist) -> str:
    lines = ["#EXTM3U", f"#EXT-X-VERSION:{MASTER_PLAYLIST_VERSION}"]
    if playlist.independent_segments:
        lines.append("#EXT-X-INDEPENDENT-SEGMENTS")
    lines.extend(_media_line(track) for track in playlist.media)
    for variant in playlist.variants:
        lines.append(_variant_line(variant))
        lines.append(variant.uri)
    return "\n".join(lines) + "\n"
