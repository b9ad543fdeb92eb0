"""The catalog: videos, jobs with leases, published renditions/objects/playlists, tus uploads."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable

from manifests.db import Cursor, PostgresDatabase, SqliteDatabase
from manifests.errors import LeaseLost, VideoNotFound
from manifests.live_streams import LiveTable
from manifests.records import (
    Access,
    Job,
    NewVideo,
    Publication,
    Rendition,
    StoredObject,
    Video,
    VideoStatus,
)
from manifests.rows import job_of, object_of, rendition_of, video_of
from manifests.schema import ADDED_COLUMNS, column_types, schema_statements
from manifests.uploads import UploadTable
from manifests.webhooks import video_event

Clock = Callable[[], float]


def new_id() -> str:
    return uuid.uuid4().hex[:16]


FAIRNESS_WINDOW_S = 3600.0  # uploaders served longer ago than this count as never served


class Catalog(UploadTable, LiveTable):
    """All catalog reads and writes. Blocking: call from a thread in async code."""

    def __init__(self, db: SqliteDatabase | PostgresDatabase, *, clock: Clock = time.time) -> None:
        self.db = db
        self.clock = clock
        postgres = db.dialect == "postgresql"
        # Claims skip rows other workers hold; lease checks must wait for them instead.
        self._skip_locked_jobs = " FOR UPDATE OF j SKIP LOCKED" if postgres else ""
        self._for_update = " FOR UPDATE" if postgres else ""
        self._skip_locked_deliveries = " FOR UPDATE OF d SKIP LOCKED" if postgres else ""

    def create_schema(self) -> None:
        with self.db.transaction() as cur:
            if self.db.dialect == "postgresql":
                # Many processes may start at once; serialise DDL on one advisory lock.
                cur.execute("SELECT pg_advisory_xact_lock(7305)")
            for stmt in schema_statements(self.db.dialect):
                cur.execute(stmt)
            for table, column, definition in ADDED_COLUMNS:
                if column not in self._columns(cur, table):
                    typed = definition.format(**column_types(self.db.dialect))
                    cur.execute(f"ALTER TABLE {table} ADD COLUMN {column} {typed}")

    def _columns(self, cur: Cursor, table: str) -> set[str]:
        if self.db.dialect == "postgresql":
            cur.execute(
                "SELECT column_name AS name FROM information_schema.columns"
                " WHERE table_name = ? AND table_schema = current_schema()",
                (table,),
            )
        else:
            cur.execute(f"SELECT name FROM pragma_table_info('{table}')")
        return {row["name"] for row in cur.all()}

    # -- videos -------------------------------------------------------------------------

    def create_video(self, new: NewVideo, *, max_attempts: int = 3) -> tuple[Video, Job]:
        now = self.clock()
        job_id = new_id()
        with self.db.transaction() as cur:
            self._insert_video(cur, new, job_id, now, ready=False, max_attempts=max_attempts)
            video = self._get_video(cur, new.id)
            job = self._get_job(cur, job_id)
        assert video is not None
        assert job is not None
        return video, job

    @staticmethod
    def _insert_video(
        cur: Cursor, new: NewVideo, job_id: str, now: float, *, ready: bool, max_attempts: int
    ) -> None:
        """The video's row and its job's: queued for a transcode, or ready and done."""
        side = json.dumps(
            [{"kind": s.kind, "language": s.language, "key": s.key} for s in new.side_files]
        )
        cur.execute(
            "INSERT INTO videos (id, status, progress, title, source_key, source_size_bytes,"
            " segment_duration_s, audio_languages, side_files, job_id, created_at, updated_at,"
            " access, owner, listed) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                new.id,
                "ready" if ready else "queued",
                100 if ready else 0,
                new.title,
                new.source_key,
                new.source_size_bytes,
                new.segment_duration_s,
                ",".join(new.audio_languages),
                side,
                job_id,
                now,
                now,
                new.access,
                new.owner,
                1 if new.listed else 0,
            ),
        )
        cur.execute(
            "INSERT INTO jobs (id, video_id, status, attempts, max_attempts, run_after,"
            " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                job_id,
                new.id,
                "done" if ready else "queued",
                int(ready),
                max_attempts,
                now,
                now,
                now,
            ),
        )

    @staticmethod
    def _get_video(cur: Cursor, video_id: str) -> Video | None:
        cur.execute("SELECT * FROM videos WHERE id = ?", (video_id,))
        row = cur.one()
        return video_of(row) if row else None

    @staticmethod
    def _get_job(cur: Cursor, job_id: str) -> Job | None:
        cur.execute("SELECT * FROM jobs WHERE id = ?", (job_id,))
        row = cur.one()
        return job_of(row) if row else None

    def get_video(self, video_id: str) -> Video | None:
        with self.db.transaction() as cur:
            return self._get_video(cur, video_id)

    def set_access(
        self, video_id: str, access: Access | None = None, *, listed: bool | None = None
    ) -> Video:
        """Make a video public or signed, listed or not (None: unchanged); raises
        VideoNotFound."""
        with self.db.transaction() as cur:
            if access is not None:
                cur.execute(
                    "UPDATE videos SET access = ?, updated_at = ? WHERE id = ?",
                    (access, self.clock(), video_id),
                )
            if listed is not None:
                cur.execute(
                    "UPDATE videos SET listed = ?, updated_at = ? WHERE id = ?",
                    (1 if listed else 0, self.clock(), video_id),
                )
            video = self._get_video(cur, video_id)
        if video is None:
            raise VideoNotFound(video_id)
        return video

    def existing_videos(self, video_ids: list[str]) -> set[str]:
        """Which of `video_ids` the catalog has."""
        found: set[str] = set()
        for start in range(0, len(video_ids), 500):
            batch = video_ids[start : start + 500]
            marks = ", ".join("?" for _ in batch)
            with self.db.transaction() as cur:
                cur.execute(f"SELECT id FROM videos WHERE id IN ({marks})", tuple(batch))
                found |= {row["id"] for row in cur.all()}
        return found

    def list_videos(
        self,
        *,
        limit: int = 100,
        offset: int = 0,
        after: tuple[float, str] | None = None,
        listed_only: bool = False,
    ) -> list[Video]:
        """Newest first; `after`: the (created_at, id) of the last video of the page before;
        `listed_only`: only the videos flagged to be listed publicly."""
        conditions: list[str] = []
        params: list[object] = []
        if after is not None:
            conditions.append("(created_at < ? OR (created_at = ? AND id > ?))")
            params += [after[0], after[0], after[1]]
        if listed_only:
            conditions.append("listed = 1")
        where = " WHERE " + " AND ".join(conditions) if conditions else ""
        with self.db.transaction() as cur:
            cur.execute(
                f"SELECT * FROM videos{where} ORDER BY created_at DESC, id LIMIT ? OFFSET ?",
                (*params, limit, offset),
            )
            return [video_of(r) for r in cur.all()]

    def with_images(self, video_ids: list[str]) -> set[str]:
        """Which of these videos have thumbnails (a rendition of kind "images")."""
        if not video_ids:
            return set()
        marks = ",".join("?" * len(video_ids))
        with self.db.transaction() as cur:
            cur.execute(
                "SELECT DISTINCT video_id FROM renditions"
                f" WHERE kind = 'images' AND video_id IN ({marks})",
                tuple(video_ids),
            )
            return {str(r["video_id"]) for r in cur.all()}

    def renditions(self, video_id: str) -> list[Rendition]:
        with self.db.transaction() as cur:
            cur.execute(
                "SELECT * FROM renditions WHERE video_id = ? ORDER BY position", (video_id,)
            )
            return [rendition_of(r) for r in cur.all()]

    def delete_video(self, video_id: str) -> list[str]:
        """Remove the video's rows; returns every storage key that belonged to it."""
        now = self.clock()
        with self.db.transaction() as cur:
            video = self._get_video(cur, video_id)
            if video is None:
                raise VideoNotFound(video_id)
            cur.execute("SELECT key FROM objects WHERE video_id = ?", (video_id,))
            keys = [r["key"] for r in cur.all()]
            keys.append(video.source_key)
            keys.extend(s.key for s in video.side_files)
            for table in ("playlists", "objects", "renditions", "jobs"):
                cur.execute(f"DELETE FROM {table} WHERE video_id = ?", (video_id,))
            cur.execute("DELETE FROM videos WHERE id = ?", (video_id,))
            self._emit(cur, "video.deleted", {"video_id": video_id, "status": "deleted"}, now)
        return keys

    # -- published manifests ------------------------------------------------------------

    def playlists(self, video_id: str) -> dict[str, str]:
        """Every playlist of a ready video (empty until it is published)."""
        with self.db.transaction() as cur:
            cur.execute(
                "SELECT p.path, p.body FROM playlists p JOIN videos v ON v.id = p.video_id"
                " WHERE p.video_id = ? AND v.status = 'ready'",
                (video_id,),
            )
            return {r["path"]: r["body"] for r in cur.all()}

    def objects(self, video_id: str) -> list[StoredObject]:
        with self.db.transaction() as cur:
            cur.execute(
                "SELECT o.* FROM objects o JOIN videos v ON v.id = o.video_id"
                " WHERE o.video_id = ? AND v.status = 'ready' ORDER BY o.rendition, o.name",
                (video_id,),
            )
            return [object_of(r) for r in cur.all()]

    # -- jobs -----------------------------------------------------------------------------

    def get_job(self, job_id: str) -> Job | None:
        with self.db.transaction() as cur:
            return self._get_job(cur, job_id)

    def claim_job(self, worker: str, lease_s: float) -> Job | None:
        """Take a runnable job (queued and due, or running with an expired lease), fairly
        across uploaders: the owner with the fewest jobs running first, then the one served
        least recently, then the oldest job. One uploader's queue cannot hold back another's."""
        now = self.clock()
        with self.db.transaction() as cur:
            # Per-uploader figures once (not per candidate job): how many of their jobs run
            # now, and when one of theirs was last claimed (within the hour).
            cur.execute(
                "WITH running AS (SELECT v.owner, COUNT(*) AS n FROM jobs r"
                "   JOIN videos v ON v.id = r.video_id"
                "   WHERE r.status = 'running' AND r.lease_expires >= ? GROUP BY v.owner),"
                " served AS (SELECT v.owner, MAX(r.claimed_at) AS at FROM jobs r"
                "   JOIN videos v ON v.id = r.video_id"
                "   WHERE r.claimed_at >= ? GROUP BY v.owner)"
                " SELECT j.id FROM jobs j JOIN videos v ON v.id = j.video_id"
                " LEFT JOIN running ON running.owner = v.owner"
                " LEFT JOIN served ON served.owner = v.owner"
                " WHERE (j.status = 'queued' AND j.run_after <= ?)"
                " OR (j.status = 'running' AND j.lease_expires < ?)"
                " ORDER BY COALESCE(running.n, 0), COALESCE(served.at, 0), j.run_after,"
                " j.created_at LIMIT 1" + self._skip_locked_jobs,
                (now, now - FAIRNESS_WINDOW_S, now, now),
            )
            row = cur.one()
            if row is None:
                return None
            cur.execute(
                "UPDATE jobs SET status = 'running', attempts = attempts + 1, lease_owner = ?,"
                " lease_expires = ?, updated_at = ?, claimed_at = ? WHERE id = ?",
                (worker, now + lease_s, now, now, row["id"]),
            )
            return self._get_job(cur, row["id"])

    def _check_lease(self, cur: Cursor, job_id: str, worker: str) -> Job:
        cur.execute("SELECT * FROM jobs WHERE id = ?" + self._for_update, (job_id,))
        row = cur.one()
        if row is None or row["lease_owner"] != worker or row["status"] != "running":
            raise LeaseLost(job_id, worker)
        return job_of(row)

    def renew_lease(self, job_id: str, worker: str, lease_s: float) -> None:
        now = self.clock()
        with self.db.transaction() as cur:
            self._check_lease(cur, job_id, worker)
            cur.execute(
                "UPDATE jobs SET lease_expires = ?, updated_at = ? WHERE id = ?",
                (now + lease_s, now, job_id),
            )

    def set_progress(self, job_id: str, worker: str, status: VideoStatus, progress: float) -> None:
        now = self.clock()
        with self.db.transaction() as cur:
            job = self._check_lease(cur, job_id, worker)
            cur.execute(
                "UPDATE videos SET status = ?, progress = ?, updated_at = ?"
                " WHERE id = ? AND status <> 'ready'",
                (status, round(max(0.0, min(progress, 100.0)), 1), now, job.video_id),
            )

    def publish(self, job_id: str, worker: str, publication: Publication) -> Video:
        """Make a video ready in one transaction: its playlists appear with all their objects."""
        now = self.clock()
        with self.db.transaction() as cur:
            job = self._check_lease(cur, job_id, worker)
            video_id = job.video_id
            self._write_publication(cur, video_id, publication)
            cur.execute(
                "UPDATE videos SET status = 'ready', progress = 100, version = version + 1,"
                " error_code = NULL, error_message = NULL, updated_at = ? WHERE id = ?",
                (now, video_id),
            )
            cur.execute(
                "UPDATE jobs SET status = 'done', lease_owner = NULL, lease_expires = NULL,"
                " updated_at = ? WHERE id = ?",
                (now, job_id),
            )
            video = self._get_video(cur, video_id)
            assert video is not None
            self._emit(cur, "video.ready", video_event(video), now)
        return video

    @staticmethod
    def _write_publication(cur: Cursor, video_id: str, publication: Publication) -> None:
        """The video's renditions, objects and playlists, replacing any it had."""
        for table in ("playlists", "objects", "renditions"):
            cur.execute(f"DELETE FROM {table} WHERE video_id = ?", (video_id,))
        for position, r in enumerate(publication.renditions):
            cur.execute(
                "INSERT INTO renditions (video_id, name, kind, bandwidth_bps,"
                " average_bandwidth_bps, codecs, width, height, frame_rate, language, position)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    video_id,
                    r.name,
                    r.kind,
                    r.bandwidth_bps,
                    r.average_bandwidth_bps,
                    r.codecs,
                    r.resolution[0] if r.resolution else None,
                    r.resolution[1] if r.resolution else None,
                    r.frame_rate,
                    r.language,
                    position,
                ),
            )
        for o in publication.objects:
            cur.execute(
                "INSERT INTO objects (video_id, rendition, name, key, size_bytes, sha256,"
                " duration_s) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (video_id, o.rendition, o.name, o.key, o.size_bytes, o.sha256, o.duration_s),
            )
        for path, body in publication.playlists.items():
            cur.execute(
                "INSERT INTO playlists (video_id, path, body) VALUES (?, ?, ?)",
                (video_id, path, body),
            )

    def publish_recording(self, new: NewVideo, publication: Publication) -> Video:
        """A video that needs no transcode (a live stream's recording): created ready, with
        its publication and a finished job, in one transaction."""
        now = self.clock()
        job_id = new_id()
        with self.db.transaction() as cur:
            self._insert_video(cur, new, job_id, now, ready=True, max_attempts=1)
            self._write_publication(cur, new.id, publication)
            video = self._get_video(cur, new.id)
            assert video is not None
            self._emit(cur, "video.ready", video_event(video), now)
        return video

    def fail_job(
        self,
        job_id: str,
        worker: str,
        *,
        code: str,
        message: str,
        retry_after_s: float | None,
        transient: bool = False,
    ) -> Job:
        """Give the job back for a retry after a delay, or fail it and its video for good. A
        `transient` failure (a dependency down, not the media) is retried without using up
        an attempt, however often it happens: nothing is lost to an outage."""
        now = self.clock()
        with self.db.transaction() as cur:
            job = self._check_lease(cur, job_id, worker)
            error = f"{code}: {message}"
            if retry_after_s is not None and (transient or job.attempts < job.max_attempts):
                given_back = 1 if transient else 0
                cur.execute(
                    "UPDATE jobs SET status = 'queued', run_after = ?, lease_owner = NULL,"
                    " lease_expires = NULL, last_error = ?, updated_at = ?,"
                    " attempts = attempts - ?, transient_failures = transient_failures + ?"
                    " WHERE id = ?",
                    (now + retry_after_s, error, now, given_back, given_back, job_id),
                )
                cur.execute(
                    "UPDATE videos SET status = 'queued', progress = 0, updated_at = ?"
                    " WHERE id = ?",
                    (now, job.video_id),
                )
            else:
                self._fail(cur, job, code, message, now)
            updated = self._get_job(cur, job_id)
        assert updated is not None
        return updated

    def retry_video(self, video_id: str) -> Video:
        """Queue a failed video's job again, with all its attempts; raises VideoNotFound, and
        ValueError when the video has not failed."""
        now = self.clock()
        with self.db.transaction() as cur:
            video = self._get_video(cur, video_id)
            if video is None:
                raise VideoNotFound(video_id)
            if video.status != "failed":
                raise ValueError(f"the video is {video.status}, not failed")
            cur.execute(
                "UPDATE jobs SET status = 'queued', attempts = 0, transient_failures = 0,"
                " run_after = ?, lease_owner = NULL, lease_expires = NULL, updated_at = ?"
                " WHERE id = ?",
                (now, now, video.job_id),
            )
            cur.execute(
                "UPDATE videos SET status = 'queued', progress = 0, error_code = NULL,"
                " error_message = NULL, updated_at = ? WHERE id = ?",
                (now, video_id),
            )
            retried = self._get_video(cur, video_id)
        assert retried is not None
        return retried

    def fail_exhausted(self, job_id: str, worker: str) -> None:
        """A job claimed more often than allowed (its workers kept dying) fails for good."""
        now = self.clock()
        with self.db.transaction() as cur:
            job = self._check_lease(cur, job_id, worker)
            message = f"gave up after {job.attempts - 1} attempts"
            if job.last_error:
                message += f"; last error: {job.last_error}"
            self._fail(cur, job, "too_many_attempts", message, now)

    def _fail(self, cur: Cursor, job: Job, code: str, message: str, now: float) -> None:
        cur.execute(
            "UPDATE jobs SET status = 'failed', lease_owner = NULL, lease_expires = NULL,"
            " last_error = ?, updated_at = ? WHERE id = ?",
            (f"{code}: {message}", now, job.id),
        )
        cur.execute(
            "UPDATE videos SET status = 'failed', error_code = ?, error_message = ?,"
            " updated_at = ? WHERE id = ?",
            (code, message[:2000], now, job.video_id),
        )
        video = self._get_video(cur, job.video_id)
        if video is not None:
            self._emit(cur, "video.failed", video_event(video), now)
