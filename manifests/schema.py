"""Catalog schema, one text for both dialects (types adapted per dialect)."""

from __future__ import annotations

_TABLES = """
CREATE TABLE IF NOT EXISTS videos (
    id TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    progress {real} NOT NULL DEFAULT 0,
    title TEXT NOT NULL DEFAULT '',
    source_key TEXT NOT NULL,
    source_size_bytes {bigint} NOT NULL,
    segment_duration_s {real} NOT NULL,
    audio_languages TEXT NOT NULL DEFAULT '',
    side_files TEXT NOT NULL DEFAULT '[]',
    job_id TEXT NOT NULL,
    version INTEGER NOT NULL DEFAULT 0,
    error_code TEXT,
    error_message TEXT,
    created_at {real} NOT NULL,
    updated_at {real} NOT NULL,
    access TEXT NOT NULL DEFAULT 'public',
    owner TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    video_id TEXT NOT NULL REFERENCES videos(id) ON DELETE CASCADE,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL,
    run_after {real} NOT NULL,
    lease_owner TEXT,
    lease_expires {real},
    last_error TEXT,
    created_at {real} NOT NULL,
    updated_at {real} NOT NULL,
    transient_failures INTEGER NOT NULL DEFAULT 0,
    claimed_at {real}
);
CREATE INDEX IF NOT EXISTS jobs_claim ON jobs (status, run_after);
CREATE TABLE IF NOT EXISTS renditions (
    video_id TEXT NOT NULL REFERENCES videos(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    bandwidth_bps {bigint} NOT NULL,
    average_bandwidth_bps {bigint} NOT NULL,
    codecs TEXT,
    width INTEGER,
    height INTEGER,
    frame_rate {real},
    language TEXT,
    position INTEGER NOT NULL,
    PRIMARY KEY (video_id, name)
);
CREATE TABLE IF NOT EXISTS objects (
    video_id TEXT NOT NULL REFERENCES videos(id) ON DELETE CASCADE,
    rendition TEXT NOT NULL,
    name TEXT NOT NULL,
    key TEXT NOT NULL,
    size_bytes {bigint} NOT NULL,
    sha256 TEXT NOT NULL,
    duration_s {real},
    PRIMARY KEY (video_id, rendition, name)
);
CREATE TABLE IF NOT EXISTS playlists (
    video_id TEXT NOT NULL REFERENCES videos(id) ON DELETE CASCADE,
    path TEXT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (video_id, path)
);
CREATE TABLE IF NOT EXISTS uploads (
    id TEXT PRIMARY KEY,
    length_bytes {bigint} NOT NULL,
    offset_bytes {bigint} NOT NULL,
    metadata TEXT NOT NULL,
    created_at {real} NOT NULL,
    video_id TEXT
);
CREATE TABLE IF NOT EXISTS spent_upload_grants (
    upload_id TEXT PRIMARY KEY,
    expires_at {real} NOT NULL
);
CREATE TABLE IF NOT EXISTS webhooks (
    id TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    events TEXT NOT NULL,
    secret TEXT NOT NULL,
    created_at {real} NOT NULL
);
CREATE TABLE IF NOT EXISTS webhook_deliveries (
    id TEXT PRIMARY KEY,
    webhook_id TEXT NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
    event TEXT NOT NULL,
    body TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at {real} NOT NULL,
    last_status INTEGER,
    last_error TEXT,
    created_at {real} NOT NULL,
    delivered_at {real}
);
CREATE INDEX IF NOT EXISTS webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);
CREATE TABLE IF NOT EXISTS live_streams (
    id TEXT PRIMARY KEY,
    stream_key TEXT NOT NULL,
    title TEXT NOT NULL,
    status TEXT NOT NULL,
    ingest_port INTEGER NOT NULL,
    settings TEXT NOT NULL,
    owner TEXT NOT NULL DEFAULT '',
    video_id TEXT,
    created_at {real} NOT NULL,
    started_at {real},
    ended_at {real},
    version {bigint} NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS live_tracks (
    stream_id TEXT NOT NULL REFERENCES live_streams(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    position INTEGER NOT NULL,
    info TEXT NOT NULL,
    state TEXT NOT NULL,
    PRIMARY KEY (stream_id, name)
)
"""

_TYPES = {
    "sqlite": {"real": "REAL", "bigint": "INTEGER"},
    "postgresql": {"real": "DOUBLE PRECISION", "bigint": "BIGINT"},
}


# Columns added since the first schema: (table, column, definition), added where missing.
ADDED_COLUMNS = (
    ("videos", "access", "TEXT NOT NULL DEFAULT 'public'"),
    ("jobs", "transient_failures", "INTEGER NOT NULL DEFAULT 0"),
    ("videos", "owner", "TEXT NOT NULL DEFAULT ''"),
    ("jobs", "claimed_at", "{real}"),
    ("uploads", "parts", "TEXT NOT NULL DEFAULT '[]'"),
    ("uploads", "expires_at", "{real}"),
    ("uploads", "concat", "TEXT NOT NULL DEFAULT ''"),
    ("videos", "listed", "INTEGER NOT NULL DEFAULT 0"),
    ("live_streams", "ingest_error", "TEXT"),
)


def column_types(dialect: str) -> dict[str, str]:
    return _TYPES[dialect]


def schema_statements(dialect: str) -> list[str]:
    text = _TABLES.format(**_TYPES[dialect])
    return [stmt.strip() for stmt in text.split(";") if stmt.strip()]
