"""The live endpoints in the OpenAPI document: the API that makes and ends live streams, and
their LL-HLS playback under /live/{stream_id}/."""

from __future__ import annotations

from typing import Any

from origin.openapi_schemas import TIME, TOKEN_REQUEST, json_body

ERROR = {"$ref": "#/components/schemas/Error"}
MAYBE_TIME = {"oneOf": [{"type": "null"}, TIME]}
LIVE_STREAM = {
    "type": "object",
    "required": ["id", "status", "playback"],
    "properties": {
        "id": {"type": "string"},
        "title": {"type": "string"},
        "status": {
            "enum": ["idle", "live", "ended"],
            "description": "idle: waiting for the encoder; live: on air; ended: over, its "
            "recording is the video `video_id`",
        },
        "access": {
            "enum": ["public", "signed"],
            "description": "signed: playback (and the recording's) needs a token from POST "
            "/api/live/{stream_id}/playback-tokens",
        },
        "playback": {
            "type": "object",
            "description": "hls: LL-HLS (players without it ignore the parts); classic: the "
            "same renditions with whole segments only",
            "properties": {"hls": {"type": "string"}, "classic": {"type": "string"}},
        },
        "video_id": {"type": ["string", "null"]},
        "stream_key": {
            "type": "string",
            "description": "with an API key only: the SRT passphrase the encoder must use",
        },
        "ingest_url": {
            "type": "string",
            "description": "with an API key only: where the encoder pushes MPEG-TS over SRT "
            "(srt://host:port?passphrase=KEY&pbkeylen=16)",
        },
        "ingest": {
            "type": "object",
            "description": "with an API key only: every way to push. SRT (MPEG-TS; the key is "
            "the passphrase) on the stream's UDP port, RTMP (FLV) on the same port number over "
            "TCP: `rtmp` whole, or `rtmp_server` plus the key as the stream name (OBS); `http`: "
            "PUT or POST CMAF (fragmented MP4) or MPEG-TS to this URL followed by any file name, "
            "in one long request or a file per request (ffmpeg's hls muxer)",
            "properties": {
                "srt": {"type": "string"},
                "rtmp": {"type": "string"},
                "rtmp_server": {"type": "string"},
                "http": {"type": "string"},
            },
            "required": ["srt", "rtmp", "rtmp_server", "http"],
        },
        "ingest_error": {
            "description": "with an API key only: why the last contribution that came could "
            "not be broadcast (what the receiving ffmpeg said: a wrong passphrase, data it "
            "cannot read, an encoder gone before its streams were known); null once one is "
            "on air",
            "oneOf": [
                {"type": "null"},
                {
                    "type": "object",
                    "required": ["at", "protocol", "message"],
                    "properties": {
                        "at": TIME,
                        "protocol": {"enum": ["srt", "rtmp", "http"]},
                        "message": {"type": "string"},
                    },
                },
            ],
        },
        "segment_duration": {"type": "number"},
        "part_duration": {
            "type": "number",
            "description": "the part length asked for; the playlists' PART-TARGET is the "
            "encoder's video part, the most whole frames within it that divide a segment "
            "evenly (0.4 s at 25 fps for 0.5 s)",
        },
        "dvr_window": {"type": "number"},
        "created_at": TIME,
        "started_at": MAYBE_TIME,
        "ended_at": MAYBE_TIME,
    },
}

PUSHED_SEGMENT = "[A-Za-z0-9_()-][A-Za-z0-9_.()-]{0,127}"  # one path segment, not . or ..


LIVE_TOKEN = {
    "type": "object",
    "required": ["token", "expires_at", "hls", "classic", "stream_id", "access"],
    "properties": {
        "token": {"type": "string"},
        "expires_at": TIME,
        "hls": {"type": "string"},
        "classic": {"type": "string"},
        "stream_id": {"type": "string"},
        "access": {"enum": ["public", "signed"]},
    },
}


def _errors(*statuses: int) -> dict[str, Any]:
    return {
        str(s): {"description": "error", "content": {"application/json": {"schema": ERROR}}}
        for s in statuses
    }


def _stream(description: str, status: str = "200") -> dict[str, Any]:
    schema = {"$ref": "#/components/schemas/LiveStream"}
    return {
        status: {"description": description, "content": {"application/json": {"schema": schema}}}
    }


def live_paths() -> dict[str, Any]:
    secured: list[dict[str, list[str]]] = [{"apiKey": []}]
    stream_id = {"name": "stream_id", "in": "path", "required": True, "schema": {"type": "string"}}
    name = {"type": "string", "pattern": r"^[A-Za-z0-9_-]{1,64}$"}
    playlist = {"application/vnd.apple.mpegurl": {"schema": {"type": "string"}}}
    media = {
        "video/mp4": {"schema": {"type": "string", "format": "binary"}},
        "video/iso.segment": {"schema": {"type": "string", "format": "binary"}},
    }
    ll = (
        "LL-HLS (RFC 8216bis): parts, a preload hint, rendition reports. Blocking reload: "
        "_HLS_msn (and _HLS_part) hold the answer until the playlist has that segment (part) "
        "or later, at most three target durations (then 503); _HLS_part without _HLS_msn, a "
        "segment more than two ahead or a part past the Advance Part Limit get 400. "
        "_HLS_skip=YES|v2: a delta update (EXT-X-SKIP)."
    )
    push = {
        "requestBody": {
            "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
            }
        },
        "responses": {"204": {"description": "handed on to the stream's ingest"}}
        | _errors(400, 403, 409, 413, 415, 503),
    }
    return {
        "/ingest/{stream_key}/{name}": {
            "parameters": [
                {
                    "name": "stream_key",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string", "pattern": r"^[0-9a-f]{32}$"},
                },
                {
                    "name": "name",
                    "in": "path",
                    "required": True,
                    "schema": {  # a file name, or a few path segments (none . or ..)
                        "type": "string",
                        "pattern": f"^{PUSHED_SEGMENT}(/{PUSHED_SEGMENT}){{0,3}}$",
                    },
                },
            ],
            "put": {
                "summary": "Push a live contribution over HTTP: CMAF (fragmented MP4) or "
                "MPEG-TS bodies, in order, to the stream's ingest; the stream key is the "
                "credential. Tracks pushed separately (CMAF ingest; the track is the "
                "Streams(<track>) name in the path, else the directory and the numbers in the "
                "name but the last) are joined. A track's requests are handed on one at a time "
                "in the order they arrive (one may start before the one before it has "
                "finished). Playlists (.m3u8, .mpd) carry no media (an MPD's lang names the "
                "languages of sounds whose init segments do not): one with #EXT-X-ENDLIST "
                "(or an MPD of type static) ends the contribution, as does a last segment "
                "(lmsg brand) on every track, or 8 s without a request. A request of over 8 s that "
                "carried a track's init segment and media ends the receiver's input when the "
                "encoder ends it (every track's, if several): the broadcast then waits its "
                "reconnect wait for the encoder to come back. 400: the encoder went away "
                "mid-body, or unreadable CMAF; 403: unknown key; "
                "409: another encoder is on air (or a request still receiving its body after "
                "3 s is ahead of this one), or this contribution has ended; 415: a body that is "
                "neither fragmented MP4 (or an MP4 with its index first) nor MPEG-TS, told from "
                "its first bytes; 503: the ingest is "
                "not ready here (push again)",
                **push,
            },
            "post": {"summary": "The same as PUT", **push},
            "delete": {
                "summary": "Acknowledged and ignored (an encoder removing an old segment)",
                "responses": {"204": {"description": "nothing to remove"}} | _errors(403, 503),
            },
        },
        "/api/live": {
            "post": {
                "summary": "Create a live stream: its SRT ingest URL and key",
                "security": secured,
                "requestBody": json_body(
                    {
                        "type": "object",
                        "additionalProperties": False,
                        "properties": {
                            "title": {"type": "string", "maxLength": 200},
                            "access": {"enum": ["public", "signed"]},
                        },
                    }
                ),
                "responses": _stream("created", "201")
                | _errors(400, 401, 403, 409, 413, 422, 429, 503),
            }
        },
        "/api/live/{stream_id}/playback-tokens": {
            "parameters": [stream_id],
            "post": {
                "summary": "A playback token for a signed live stream (its path under /live/): "
                "/live/ID/~TOKEN/master.m3u8. 409 when the origin has no playback keys",
                "security": secured,
                "requestBody": json_body(TOKEN_REQUEST),
                "responses": {
                    "201": {
                        "description": "created",
                        "content": {"application/json": {"schema": LIVE_TOKEN}},
                    }
                }
                | _errors(400, 401, 403, 404, 409, 413, 422, 429),
            },
        },
        "/api/live/{stream_id}/reset-stream-key": {
            "parameters": [stream_id],
            "post": {
                "summary": "Replace the stream's key: the old one stops working at once (an "
                "encoder on air with it is cut; the broadcast waits for one with the new key, "
                "as for a dropped connection). 409 for an ended stream",
                "security": secured,
                "responses": _stream("the stream with its new key and ingest URLs")
                | _errors(401, 403, 404, 409, 429),
            },
        },
        "/api/live/{stream_id}": {
            "parameters": [stream_id],
            "get": {
                "summary": "A live stream's status (with an API key, its ingest URL and key)",
                "responses": _stream("the stream") | _errors(401, 403, 404),
            },
            "delete": {
                "summary": "End a live stream: its key stops working; a broadcast on air "
                "ends and its recording becomes a video",
                "security": secured,
                "responses": _stream("ended") | _errors(401, 403, 404, 429),
            },
        },
        "/live/{stream_id}/master.m3u8": {
            "parameters": [{**stream_id, "schema": name}],
            "get": {
                "summary": "The live multivariant playlist (404 until the stream is on air)",
                "responses": {"200": {"description": "the playlist", "content": playlist}}
                | _errors(403, 404),
            },
        },
        "/live/{stream_id}/classic.m3u8": {
            "parameters": [{**stream_id, "schema": name}],
            "get": {
                "summary": "The live multivariant playlist for players without LL-HLS: each "
                "rendition's classic.m3u8 (404 until the stream is on air)",
                "responses": {"200": {"description": "the playlist", "content": playlist}}
                | _errors(403, 404),
            },
        },
        "/live/{stream_id}/{rendition}/classic.m3u8": {
            "parameters": [
                {**stream_id, "schema": name},
                {"name": "rendition", "in": "path", "required": True, "schema": name},
            ],
            "get": {
                "summary": "A rendition's live playlist with whole segments only (no parts, "
                "no blocking reload)",
                "responses": {"200": {"description": "the playlist", "content": playlist}}
                | _errors(403, 404),
            },
        },
        "/live/{stream_id}/{rendition}/index.m3u8": {
            "parameters": [
                {**stream_id, "schema": name},
                {"name": "rendition", "in": "path", "required": True, "schema": name},
                *(
                    {"name": q, "in": "query", "required": False, "schema": {"type": "string"}}
                    for q in ("_HLS_msn", "_HLS_part", "_HLS_skip")
                ),
            ],
            "get": {
                "summary": "A rendition's live playlist",
                "description": ll,
                "responses": {"200": {"description": "the playlist", "content": playlist}}
                | _errors(400, 403, 404, 503),
            },
        },
        "/live/{stream_id}/{rendition}/{file}": {
            "parameters": [
                {**stream_id, "schema": name},
                {"name": "rendition", "in": "path", "required": True, "schema": name},
                {
                    "name": "file",
                    "in": "path",
                    "required": True,
                    "schema": {
                        "type": "string",
                        "pattern": r"^(init\.mp4|\d{1,12}(\.\d{1,4})?\.m4s)$",
                    },
                },
            ],
            "get": {
                "summary": "The init segment, a segment ({msn}.m4s) or a part ({msn}.{n}.m4s); "
                "the next part (the preload hint) is answered as soon as it is made",
                "responses": {"200": {"description": "the file", "content": media}}
                | _errors(403, 404, 503),
            },
        },
    }
