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
        parts=tuple(json.loads(row["parts"])),
        expires_at=None if row["expires_at"] is None else float(row["expires_at"]),
        concat=row["concat"],
    )


class UploadTable:
    """The uploads part of the catalog (the Catalog is one)."""

    db: SqliteDatabase | PostgresDatabase
    clock: Callable[[], float]
    _for_update: str

    def create_upload(
        self,
        length_bytes: int,
        metadata: dict[str, str],
        upload_id: str | None = None,
        *,
        expires_at: float | None = None,
        concat: str = "",
        parts: tuple[str, ...] = (),
        grant_expires_at: float | None = None,
    ) -> Upload:
        """A new upload. `upload_id`: the one a direct-upload grant names, valid until
        `grant_expires_at`; the grant is spent with it, for good (inserting it a second time
        fails on the primary key even after the upload's row is gone: cancelled, expired or
        cleaned). A final concatenation is created whole: `parts` are its partial uploads'
        pieces and its offset is its length."""
        upload = Upload(
            id=upload_id or uuid.uuid4().hex,  # 32 hex digits, as two catalog ids were
            length_bytes=length_bytes,
            offset_bytes=length_bytes if concat == "final" else 0,
            metadata=metadata,
            created_at=self.clock(),
            parts=parts,
            expires_at=expires_at,
            concat=concat,
        )
        with self.db.transaction() as cur:
            if grant_expires_at is not None:
                cur.execute(
                    "INSERT INTO spent_upload_grants (upload_id, expires_at) VALUES (?, ?)",
                    (upload.id, grant_expires_at),
                )
            cur.execute(
                "INSERT INTO uploads (id, length_bytes, offset_bytes, metadata, created_at,"
                " parts, expires_at, concat) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    upload.id,
                    length_bytes,
                    upload.offset_bytes,
                    json.dumps(metadata),
                    upload.created_at,
                    json.dumps(list(parts)),
                    expires_at,
                    concat,
                ),
            )
        return upload

    def add_upload_part(
        self, upload_id: str, offset_bytes: int, part: str, size_bytes: int, expires_at: float
    ) -> bool:
        """Append a stored piece to the upload if it is still at `offset_bytes` (another
        origin may have appended meanwhile: then False, and the piece is not the upload's)."""
        with self.db.transaction() as cur:
            cur.execute(
                "SELECT parts FROM uploads WHERE id = ? AND offset_bytes = ?" + self._for_update,
                (upload_id, offset_bytes),
            )
            row = cur.one()
            if row is None:
                return False
            parts = [*json.loads(row["parts"]), part]
            cur.execute(
                "UPDATE uploads SET offset_bytes = ?, parts = ?, expires_at = ?"
                " WHERE id = ? AND offset_bytes = ?",
                (offset_bytes + size_bytes, json.dumps(parts), expires_at, upload_id, offset_bytes),
            )
            return cur.rowcount == 1

    def get_upload(self, upload_id: str) -> Upload | None:
        with self.db.transaction() as cur:
            cur.execute("SELECT * FROM uploads WHERE id = ?", (upload_id,))
            row = cur.one()
            return _upload(row) if row else None

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

    def uploads_expired(self, now: float, *, limit: int = 10_000) -> list[Upload]:
        """Unfinished uploads past their expiry (tus expiration): the janitor removes them."""
        with self.db.transaction() as cur:
            cur.execute(
                "SELECT * FROM uploads WHERE video_id IS NULL AND expires_at IS NOT NULL"
                " AND expires_at < ? ORDER BY expires_at LIMIT ?",
                (now, limit),
            )
            return [_upload(row) for row in cur.all()]

    def grant_spent(self, upload_id: str) -> bool:
        """Whether the direct-upload grant naming `upload_id` has created its upload (an
        upload of that id is one too: created before grants were recorded as spent)."""
        with self.db.transaction() as cur:
            cur.execute(
                "SELECT 1 FROM spent_upload_grants WHERE upload_id = ?"
                " UNION ALL SELECT 1 FROM uploads WHERE id = ?",
                (upload_id, upload_id),
            )
            return cur.one() is not None

    def prune_spent_grants(self, before: float) -> int:
        """Forget grants that expired before `before` (no longer valid anyway)."""
        with self.db.transaction() as cur:
            cur.execute("DELETE FROM spent_upload_grants WHERE expires_at < ?", (before,))
            return cur.rowcount

    def delete_upload(self, upload_id: str) -> None:
        with self.db.transaction() as cur:
            cur.execute("DELETE FROM uploads WHERE id = ?", (upload_id,))
