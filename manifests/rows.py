"""Catalog rows read back as records (the same for SQLite and PostgreSQL rows)."""

from __future__ import annotations

import json

from manifests.db import Row
from manifests.records import Job, Rendition, SideFile, StoredObject, Video


def video_of(row: Row) -> Video:
    return Video(
        id=row["id"],
        status=row["status"],
        progress=float(row["progress"]),
        title=row["title"],
        source_key=row["source_key"],
        source_size_bytes=int(row["source_size_bytes"]),
        segment_duration_s=float(row["segment_duration_s"]),
        audio_languages=tuple(x for x in row["audio_languages"].split(",") if x),
        side_files=tuple(SideFile(**s) for s in json.loads(row["side_files"])),
        job_id=row["job_id"],
        version=int(row["version"]),
        error_code=row["error_code"],
        error_message=row["error_message"],
        created_at=float(row["created_at"]),
        updated_at=float(row["updated_at"]),
        access="signed" if row["access"] == "signed" else "public",
        listed=bool(row["listed"]),
    )


def job_of(row: Row) -> Job:
    return Job(
        id=row["id"],
        video_id=row["video_id"],
        status=row["status"],
        attempts=int(row["attempts"]),
        max_attempts=int(row["max_attempts"]),
        run_after=float(row["run_after"]),
        lease_owner=row["lease_owner"],
        lease_expires=None if row["lease_expires"] is None else float(row["lease_expires"]),
        last_error=row["last_error"],
        created_at=float(row["created_at"]),
        updated_at=float(row["updated_at"]),
        transient_failures=int(row["transient_failures"]),
    )


def rendition_of(row: Row) -> Rendition:
    width, height = row["width"], row["height"]
    return Rendition(
        name=row["name"],
        kind=row["kind"],
        bandwidth_bps=int(row["bandwidth_bps"]),
        average_bandwidth_bps=int(row["average_bandwidth_bps"]),
        codecs=row["codecs"],
        resolution=(int(width), int(height)) if width and height else None,
        frame_rate=None if row["frame_rate"] is None else float(row["frame_rate"]),
        language=row["language"],
    )


def object_of(row: Row) -> StoredObject:
    return StoredObject(
        rendition=row["rendition"],
        name=row["name"],
        key=row["key"],
        size_bytes=int(row["size_bytes"]),
        sha256=row["sha256"],
        duration_s=None if row["duration_s"] is None else float(row["duration_s"]),
    )
