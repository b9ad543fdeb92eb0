"""The schemas of the OpenAPI document's components (origin/openapi.py)."""

from __future__ import annotations

from typing import Any

from manifests.webhooks import EVENTS

TIME = {"type": "string", "format": "date-time", "description": "ISO 8601, UTC"}

SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": {"type": "string"},
                    "message": {"type": "string"},
                },
            }
        },
    },
    "Created": {
        "type": "object",
        "required": ["id", "job_id", "status_url"],
        "properties": {
            "id": {"type": "string"},
            "job_id": {"type": "string"},
            "status_url": {"type": "string"},
        },
    },
    "Rendition": {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "kind": {
                "enum": ["video", "audio", "subtitles", "images"],
                "description": "images: the poster and storyboard (the thumbnails)",
            },
            "bandwidth": {"type": "integer"},
            "average_bandwidth": {"type": "integer"},
            "codecs": {"type": ["string", "null"]},
            "resolution": {"type": ["string", "null"]},
            "frame_rate": {"type": ["number", "null"]},
            "language": {"type": ["string", "null"]},
        },
    },
    "Video": {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "title": {"type": "string"},
            "status": {
                "enum": [
                    "queued",
                    "probing",
                    "transcoding",
                    "publishing",
                    "ready",
                    "failed",
                ]
            },
            "progress": {"type": "number", "minimum": 0, "maximum": 100},
            "job_id": {"type": "string"},
            "renditions": {
                "type": "array",
                "items": {"$ref": "#/components/schemas/Rendition"},
            },
            "playback": {
                "type": "object",
                "properties": {"hls": {"type": "string"}},
            },
            "thumbnails": {
                "description": "null until the video is ready (and for videos published "
                "without thumbnails)",
                "oneOf": [
                    {"type": "null"},
                    {
                        "type": "object",
                        "required": ["poster", "storyboard"],
                        "properties": {
                            "poster": {"type": "string", "description": "a JPEG frame"},
                            "storyboard": {
                                "type": "string",
                                "description": "a WebVTT track for seek previews: each cue "
                                "names a region of a sheet (N.jpg#xywh=x,y,w,h)",
                            },
                        },
                    },
                ],
            },
            "error": {
                "oneOf": [
                    {"type": "null"},
                    {
                        "type": "object",
                        "required": ["code", "message"],
                        "properties": {
                            "code": {"type": "string"},
                            "message": {"type": "string"},
                        },
                    },
                ]
            },
            "access": {"enum": ["public", "signed"]},
            "listed": {"type": "boolean"},
            "segment_duration": {"type": "number"},
            "size_bytes": {"type": "integer"},
            "created_at": TIME,
            "updated_at": TIME,
        },
    },
    "Webhook": {
        "type": "object",
        "required": ["id", "url", "events", "created_at"],
        "properties": {
            "id": {"type": "string"},
            "url": {"type": "string"},
            "events": {"type": "array", "items": {"enum": list(EVENTS)}},
            "secret": {
                "type": "string",
                "description": "signs the deliveries; shown on creation only",
            },
            "created_at": TIME,
        },
    },
    "Delivery": {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "event": {"enum": list(EVENTS)},
            "status": {"enum": ["pending", "delivered", "failed"]},
            "attempts": {"type": "integer"},
            "next_attempt_at": {"oneOf": [{"type": "null"}, TIME]},
            "last_status": {"type": ["integer", "null"]},
            "last_error": {"type": ["string", "null"]},
            "created_at": TIME,
            "delivered_at": {"oneOf": [{"type": "null"}, TIME]},
        },
    },
    "PlaybackToken": {
        "type": "object",
        "required": ["token", "expires_at", "hls"],
        "properties": {
            "token": {"type": "string"},
            "expires_at": TIME,
            "hls": {
                "type": "string",
                "description": "the master playlist's path, the token in it",
            },
            "video_id": {"type": "string"},
            "access": {"enum": ["public", "signed"]},
        },
    },
}

# a playback token's request: its lifetime and the viewer address it may be bound to
TOKEN_REQUEST = {
    "type": "object",
    "properties": {
        "ttl_s": {"type": "integer", "minimum": 10},
        "client_ip": {"type": "string"},
    },
}


def json_body(schema: dict[str, Any]) -> dict[str, Any]:
    """A request body of JSON with this schema."""
    return {"content": {"application/json": {"schema": schema}}}
