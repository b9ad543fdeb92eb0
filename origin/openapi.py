"""The OpenAPI 3.1 document for the origin's API, served at /api/openapi.json."""

from __future__ import annotations

from typing import Any

from manifests.webhooks import EVENTS
from origin.openapi_live import LIVE_STREAM, live_paths
from origin.openapi_playback import playback_paths
from origin.openapi_schemas import SCHEMAS, TIME, TOKEN_REQUEST, json_body

_ERROR = {"$ref": "#/components/schemas/Error"}
# what a write with a JSON body can be refused with: no key, wrong key, no such video, not
# configured, too large, invalid, over the rate limit
JSON_WRITE_ERRORS = (401, 403, 404, 409, 413, 422, 429)


def _responses(ok: dict[str, Any], *errors: int) -> dict[str, Any]:
    out: dict[str, Any] = dict(ok)
    for status in errors:
        out[str(status)] = {
            "description": "error",
            "content": {"application/json": {"schema": _ERROR}},
        }
    return out


def _json(schema: dict[str, Any], description: str = "ok") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def openapi_document() -> dict[str, Any]:
    video_id = {"name": "video_id", "in": "path", "required": True, "schema": {"type": "string"}}
    upload_id = {"name": "upload_id", "in": "path", "required": True, "schema": {"type": "string"}}
    webhook_id = {
        "name": "webhook_id",
        "in": "path",
        "required": True,
        "schema": {"type": "string"},
    }
    created = {"201": _json({"$ref": "#/components/schemas/Created"}, "created")}
    secured: list[dict[str, list[str]]] = [{"apiKey": []}]
    return {
        "openapi": "3.1.0",
        "info": {"title": "mediacdn origin API", "version": "1.0.0"},
        "components": {
            "securitySchemes": {"apiKey": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                **SCHEMAS,
                "LiveStream": LIVE_STREAM,
            },
        },
        "paths": {
            "/api/videos": {
                "get": {
                    "summary": "List videos, newest first",
                    "description": (
                        "A page of `limit` videos (1-1000, default 100); pass `next_cursor` "
                        "as `cursor` for the next page (null: none). `offset` (below 10^9) "
                        "is the older way; pages by offset shift when videos arrive. With an "
                        "API key: every video; without one: only videos flagged listed."
                    ),
                    "parameters": [
                        {"name": "limit", "in": "query", "schema": {"type": "integer"}},
                        {"name": "cursor", "in": "query", "schema": {"type": "string"}},
                        {"name": "offset", "in": "query", "schema": {"type": "integer"}},
                    ],
                    "responses": _responses(
                        {
                            "200": _json(
                                {
                                    "type": "object",
                                    "required": ["videos", "next_cursor"],
                                    "properties": {
                                        "videos": {
                                            "type": "array",
                                            "items": {"$ref": "#/components/schemas/Video"},
                                        },
                                        "next_cursor": {"type": ["string", "null"]},
                                    },
                                }
                            )
                        },
                        422,
                    ),
                },
                "post": {
                    "summary": "Upload a video: the raw body, or multipart with a 'file' part",
                    "description": (
                        "Extra multipart parts: 'audio:<lang>' (an audio file), "
                        "'subtitles:<lang>' (WebVTT, SubRip or ASS/SSA), 'audio_languages', "
                        "'segment_duration' (2-10 s), 'title', 'access' (public or signed), "
                        "'listed' (true: shown in GET /api/videos without a key). For a raw "
                        "body, give those as query parameters."
                    ),
                    "security": secured,
                    "parameters": [
                        {"name": "segment_duration", "in": "query", "schema": {"type": "number"}},
                        {"name": "audio_languages", "in": "query", "schema": {"type": "string"}},
                        {"name": "title", "in": "query", "schema": {"type": "string"}},
                        {
                            "name": "access",
                            "in": "query",
                            "schema": {"enum": ["public", "signed"]},
                        },
                        {"name": "listed", "in": "query", "schema": {"type": "boolean"}},
                    ],
                    "requestBody": {
                        "content": {
                            "video/*": {"schema": {"type": "string", "format": "binary"}},
                            "image/gif": {"schema": {"type": "string", "format": "binary"}},
                            "image/apng": {"schema": {"type": "string", "format": "binary"}},
                            "application/octet-stream": {
                                "schema": {"type": "string", "format": "binary"}
                            },
                            "multipart/form-data": {
                                "schema": {
                                    "type": "object",
                                    "properties": {"file": {"type": "string", "format": "binary"}},
                                }
                            },
                        }
                    },
                    "responses": _responses(created, 400, 401, 403, 413, 415, 422, 429),
                },
            },
            "/api/videos/{video_id}": {
                "parameters": [video_id],
                "get": {
                    "summary": "A video's status, progress, renditions, playback URL, thumbnails",
                    "responses": _responses(
                        {"200": _json({"$ref": "#/components/schemas/Video"})}, 404
                    ),
                },
                "delete": {
                    "summary": "Delete a video, its objects and manifests",
                    "security": secured,
                    "responses": _responses(
                        {"204": {"description": "deleted"}}, 401, 403, 404, 429
                    ),
                },
                "patch": {
                    "summary": "Make a video public or signed (its cached copies are purged), "
                    "listed or not",
                    "security": secured,
                    "requestBody": json_body(
                        {
                            "type": "object",
                            "minProperties": 1,
                            "additionalProperties": False,
                            "properties": {
                                "access": {"enum": ["public", "signed"]},
                                "listed": {"type": "boolean"},
                            },
                        }
                    ),
                    "responses": _responses(
                        {"200": _json({"$ref": "#/components/schemas/Video"})},
                        *JSON_WRITE_ERRORS,
                    ),
                },
            },
            "/api/videos/{video_id}/retry": {
                "parameters": [video_id],
                "post": {
                    "summary": "Queue a failed video's transcode again, with all its attempts",
                    "security": secured,
                    "responses": _responses(
                        {"202": _json({"$ref": "#/components/schemas/Video"}, "queued")},
                        401,
                        403,
                        404,
                        409,
                        429,
                    ),
                },
            },
            "/api/videos/{video_id}/playback-tokens": {
                "parameters": [video_id],
                "post": {
                    "summary": "A signed playback token for the video (its path under /vod/)",
                    "description": (
                        "The token goes in the URL path right after the video's directory "
                        "(/vod/ID/~TOKEN/master.m3u8), so every playlist and segment below "
                        "carries it. 409 when the origin has no playback keys."
                    ),
                    "security": secured,
                    "requestBody": json_body(TOKEN_REQUEST),
                    "responses": _responses(
                        {"201": _json({"$ref": "#/components/schemas/PlaybackToken"}, "created")},
                        *JSON_WRITE_ERRORS,
                    ),
                },
            },
            "/api/jobs/{job_id}": {
                "parameters": [
                    {"name": "job_id", "in": "path", "required": True, "schema": {"type": "string"}}
                ],
                "get": {
                    "summary": "A transcode job",
                    "responses": _responses({"200": _json({"type": "object"})}, 404),
                },
            },
            "/api/webhooks": {
                "post": {
                    "summary": "Register an endpoint for events (all of them by default)",
                    "description": (
                        "Deliveries are JSON POSTs {id, type, created, data} signed in the "
                        "Mediacdn-Signature header (t=<unix time>,v1=<hex HMAC-SHA256 of "
                        "'<t>.<body>' with the secret>), retried with exponential backoff "
                        "until a 2xx answer."
                    ),
                    "security": secured,
                    "requestBody": json_body(
                        {
                            "type": "object",
                            "required": ["url"],
                            "properties": {
                                "url": {"type": "string"},
                                "events": {"type": "array", "items": {"enum": list(EVENTS)}},
                            },
                            "additionalProperties": False,
                        }
                    ),
                    "responses": _responses(
                        {"201": _json({"$ref": "#/components/schemas/Webhook"}, "created")},
                        *JSON_WRITE_ERRORS,
                    ),
                },
                "get": {
                    "summary": "The registered endpoints (without their secrets)",
                    "security": secured,
                    "responses": _responses(
                        {
                            "200": _json(
                                {
                                    "type": "object",
                                    "properties": {
                                        "webhooks": {
                                            "type": "array",
                                            "items": {"$ref": "#/components/schemas/Webhook"},
                                        }
                                    },
                                }
                            )
                        },
                        401,
                        403,
                    ),
                },
            },
            "/api/webhooks/{webhook_id}": {
                "parameters": [webhook_id],
                "delete": {
                    "summary": "Remove an endpoint and its deliveries",
                    "security": secured,
                    "responses": _responses({"204": {"description": "deleted"}}, 401, 403, 404),
                },
            },
            "/api/webhooks/{webhook_id}/deliveries": {
                "parameters": [webhook_id],
                "get": {
                    "summary": "An endpoint's latest deliveries, newest first",
                    "security": secured,
                    "responses": _responses(
                        {
                            "200": _json(
                                {
                                    "type": "object",
                                    "properties": {
                                        "deliveries": {
                                            "type": "array",
                                            "items": {"$ref": "#/components/schemas/Delivery"},
                                        }
                                    },
                                }
                            )
                        },
                        401,
                        403,
                        404,
                    ),
                },
            },
            "/api/direct-uploads": {
                "post": {
                    "summary": "A one-time upload URL for a browser (tus), without the API key",
                    "description": (
                        "The URL (`url`, or `token` as a bearer credential) creates one tus "
                        "upload of at most max_bytes, and then resumes, finishes or cancels "
                        "that upload only, until expires_at. The video belongs to the key "
                        "that asked. A second creation with it answers 409 upload_url_used."
                    ),
                    "security": secured,
                    "requestBody": json_body(
                        {
                            "type": "object",
                            "properties": {
                                "max_bytes": {"type": "integer", "minimum": 1},
                                "expires_in_s": {
                                    "type": "integer",
                                    "minimum": 60,
                                    "maximum": 86400,
                                },
                            },
                            "additionalProperties": False,
                        }
                    ),
                    "responses": _responses(
                        {
                            "201": _json(
                                {
                                    "type": "object",
                                    "required": [
                                        "upload_id",
                                        "url",
                                        "token",
                                        "max_bytes",
                                        "expires_at",
                                    ],
                                    "properties": {
                                        "upload_id": {"type": "string"},
                                        "url": {"type": "string"},
                                        "token": {"type": "string"},
                                        "max_bytes": {"type": "integer"},
                                        "expires_at": TIME,
                                    },
                                },
                                "created",
                            )
                        },
                        *JSON_WRITE_ERRORS,
                    ),
                },
            },
            "/api/uploads/": {
                "options": {
                    "summary": "tus 1.0 capabilities",
                    "responses": {"204": {"description": "capabilities"}},
                },
                "post": {
                    "summary": "tus creation (and creation-with-upload, concatenation)",
                    "description": (
                        "Upload-Length and Upload-Metadata make an upload (Upload-Expires says "
                        "until when it may be resumed); Upload-Concat: partial makes a piece "
                        "of a parallel upload, and Upload-Concat: final;<url> <url> joins "
                        "finished partials into a complete upload (201 with X-Video-Id). "
                        "The API key, or a direct-upload URL's token, authorizes it."
                    ),
                    "security": secured,
                    "responses": _responses(
                        {"201": {"description": "created"}}, 400, 401, 403, 409, 412, 413, 422
                    ),
                },
            },
            "/api/uploads/{upload_id}": {
                "parameters": [upload_id],
                "head": {
                    "summary": "tus offset (and X-Video-Id once complete)",
                    "security": secured,
                    "responses": _responses({"200": {"description": "offset"}}, 401, 403, 404, 410),
                },
                "patch": {
                    "summary": "tus append",
                    "description": (
                        "412 without Tus-Resumable: 1.0.0; 409 when Upload-Offset is not the "
                        "upload's offset (ask with HEAD); 410 once the upload has expired; "
                        "460 when Upload-Checksum does not match. The last byte makes the "
                        "video (X-Video-Id)."
                    ),
                    "security": secured,
                    "responses": _responses(
                        {"204": {"description": "appended"}},
                        400,
                        401,
                        403,
                        404,
                        409,
                        410,
                        412,
                        413,
                        415,
                        460,
                    ),
                },
                "delete": {
                    "summary": "tus termination",
                    "security": secured,
                    "responses": _responses(
                        {"204": {"description": "deleted"}}, 401, 403, 404, 410, 412
                    ),
                },
            },
            "/api/dashboard": {
                "get": {
                    "summary": "The CDN now: POPs (health, requests, hit ratio, load, bytes/s), "
                    "origin offload, the latest videos",
                    "responses": {"200": _json({"type": "object"})},
                },
            },
            "/api/dashboard/events": {
                "get": {
                    "summary": "The same snapshot every second as Server-Sent Events "
                    "(event: snapshot)",
                    "responses": {
                        "200": {
                            "description": "an event stream",
                            "content": {"text/event-stream": {"schema": {"type": "string"}}},
                        }
                    },
                },
            },
            **playback_paths(),
            **live_paths(),
        },
    }
