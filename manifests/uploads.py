"""The tus uploads table: resumable uploads in progress, and finished ones (with their video)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable

from manifests.db import PostgresDatabase, Row, SqliteDatabase
from manifests.records import Upload


def _upload(row: Row) -> Upload:
    return Upload(
        id=row["id"],
        length_bytes=int(row["length_bytes"]),
        offset_bytes=int(row["offset_bytes"]),
        metadata=json.loads(row["metadata"]),
        created_at=float(row["created_at"]),
        video_id=row["video_id"],
    )


class UploadTable:
    """The uploads part of the catalog (the Catalog is one)."""

    db: SqliteDatabase | PostgresDatabase
    clock: Callable[[], float]

    def create_upload(
        self, length_bytes: int, metadata: dict[str, str], upload_id: str | None = None
    ) -> Upload:
        """A new upload (`upload_id`: the one a direct-upload grant names; inserting it a second
        time fails on the primary key)."""
        upload = Upload(
            id=upload_id or uuid.uuid4().hex,  # 32 hex digits, as two catalog ids were
            length_bytes=length_bytes,
            offset_bytes=0,
            metadata=metadata,
            created_at=self.clock(),
        )
        with self.db.transaction() as cur:
            cur.execute(
                "INSERT INTO uploads (id, length_bytes, offset_bytes, metadata, created_at)"
                " VALUES (?, ?, 0, ?, ?)",
                (upload.id, length_bytes, json.dumps(metadata), upload.created_at),
            )
        return upload

    def get_upload(self, upload_id: str) -> Upload | None:
        with self.db.transaction() as cur:
            cur.execute("SELECT * FROM uploads WHERE id = ?", (upload_id,))
            row = cur.one()
            return _upload(row) if row else None

    def set_upload_offset(self, upload_id: str, offset_bytes: int) -> None:
        with self.db.transaction() as cur:
            cur.execute(
                "UPDATE uploads SET offset_bytes = ? WHERE id = ?", (offset_bytes, upload_id)
            )

    def finish_upload(self, upload_id: str, video_id: str) -> None:
        with self.db.transaction() as cur:
            cur.execute("UPDATE uploads SET video_id = ? WHERE id = ?", (video_id, upload_id))

    def uploads_created_before(self, before: float, *, limit: int = 10_000) -> list[Upload]:
        """tus uploads created before `before` (the janitor's candidates), oldest first."""
        with self.db.transaction() as cur:
            cur.execute(
                "SELECT * FROM uploads WHERE created_at < ? ORDER BY created_at LIMIT ?",
                (before, limit),
            )
            return [_upload(row) for row in cur.all()]

    def delete_upload(self, upload_id: str) -> None:
        with self.db.transaction() as cur:
            cur.execute("DELETE FROM uploads WHERE id = ?", (upload_id,))
