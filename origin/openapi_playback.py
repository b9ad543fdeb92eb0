"""The playback endpoints in the OpenAPI document: what players, POPs and pages fetch."""

from __future__ import annotations

from typing import Any

ERROR = {"$ref": "#/components/schemas/Error"}
# a path outside the grammar, a refused token, no such file, If-Match or If-Unmodified-Since
# that does not hold, over the rate limit, storage down
PLAYBACK_ERRORS = (400, 403, 404, 412, 429, 503)
SIGNED = (
    " A signed video plays only with a token: in the path right after the video "
    "(/vod/ID/~TOKEN/…, minted by POST /api/videos/{video_id}/playback-tokens) or, from a "
    "CDN node, in the X-Playback-Token header."
)
FILE_TYPES = {
    "video/mp4": "init.mp4: a rendition's CMAF initialisation segment",
    "video/iso.segment": "N.m4s: a media segment (fMP4/CMAF)",
    "text/vtt; charset=utf-8": "N.vtt: a subtitle segment; storyboard.vtt: the thumbnail track",
    "image/jpeg": "poster.jpg: the poster; N.jpg: a sheet of storyboard pictures",
}


def _binary(description: str) -> dict[str, Any]:
    return {"description": description, "schema": {"type": "string", "format": "binary"}}


def _playback(summary: str, content: dict[str, Any], *, ranges: bool) -> dict[str, Any]:
    errors = {
        str(status): {"description": "error", "content": {"application/json": {"schema": ERROR}}}
        for status in (*PLAYBACK_ERRORS, *((416,) if ranges else ()))
    }
    ok = {"200": {"description": "the file", "content": content}}
    if ranges:
        ok["206"] = {"description": "the requested byte range", "content": content}
    operation = {
        "summary": summary,
        "description": "ETag and Last-Modified validators (304 on a match; 412 when "
        "If-Match or If-Unmodified-Since does not hold), byte ranges, "
        "CORS for any origin. Segments and pictures never change once published and are "
        "cached for a year; playlists briefly." + SIGNED,
        "responses": ok | {"304": {"description": "not modified"}} | errors,
    }
    return {"get": operation}


def _path_param(name: str, pattern: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "schema": {"type": "string", "pattern": pattern},
    }


def playback_paths() -> dict[str, Any]:
    video = _path_param("video_id", r"^[A-Za-z0-9_-]{1,64}$")
    rendition = _path_param("rendition", r"^[A-Za-z0-9_-]{1,64}$")
    file = _path_param("file", r"^(init\.mp4|\d{1,9}\.(m4s|vtt|jpg)|poster\.jpg|storyboard\.vtt)$")
    playlist = {"application/vnd.apple.mpegurl": {"schema": {"type": "string"}}}
    return {
        "/vod/{video_id}/master.m3u8": {
            "parameters": [video],
            **_playback(
                "The HLS multivariant playlist: every video rendition, audio by language, "
                "subtitles",
                playlist,
                ranges=False,
            ),
        },
        "/vod/{video_id}/{rendition}/index.m3u8": {
            "parameters": [video, rendition],
            **_playback("A rendition's media playlist", playlist, ranges=False),
        },
        "/vod/{video_id}/{rendition}/{file}": {
            "parameters": [video, rendition, file],
            **_playback(
                "A published file: a segment, an init segment, a subtitle segment or, under "
                "the `thumbs` rendition, the poster, the storyboard track and its sheets",
                {kind: _binary(what) for kind, what in FILE_TYPES.items()},
                ranges=True,
            ),
        },
    }
