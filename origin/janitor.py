"""Remove what interrupted work left behind: tus uploads never finished (expired, or idle for
`stale_s`: their pieces in storage and their rows), spool files of plain
uploads cut off mid-body, work directories of transcodes whose worker died, and objects in
storage that no video in the catalog owns (an upload that failed after storing its source, a
transcode that published for a video deleted meanwhile, a live broadcast that ended without a
recording).

Only what has been left alone for `stale_s` is touched, and nothing in progress whatever
`stale_s` is (0 included): an upload being received is marked in use (origin/in_use.py), a
running job holds a lease. `dry_run` reports without removing anything."""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from manifests.catalog import Catalog
from origin.in_use import IN_USE_DIR, held, owner_of_spool_file
from origin.tus_parts import PARTS_ROOT, drop_parts
from storage import Storage

log = logging.getLogger("mediacdn.janitor")

# storage/keys.py: <root><video id>/...; live/<stream id>/ is a live stream's, then its
# recording's (the video with the stream's id)
OBJECT_ROOTS = ("uploads/", "videos/", "live/")
DELIVERIES_KEPT_S = 7 * 86_400.0


@dataclass(frozen=True, slots=True)
class Removal:
    kind: str  # upload, upload pieces, spool, work, objects, deliveries, grants
    what: str  # an upload id, a file name, a video id
    size_bytes: int


@dataclass
class Report:
    dry_run: bool
    removals: list[Removal] = field(default_factory=list)

    @property
    def size_bytes(self) -> int:
        return sum(r.size_bytes for r in self.removals)

    def lines(self) -> list[str]:
        verb = "would remove" if self.dry_run else "removed"
        out = [f"{verb} {r.kind} {r.what} ({r.size_bytes} bytes)" for r in self.removals]
        out.append(f"{verb} {len(self.removals)} items, {self.size_bytes} bytes in all")
        return out


def _tree_size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _newest_mtime(path: Path) -> float:
    times = [path.stat().st_mtime]
    if path.is_dir():
        times += [p.stat().st_mtime for p in path.rglob("*")]
    return max(times)


@dataclass
class Janitor:
    catalog: Catalog
    storage: Storage
    data_dir: Path
    stale_s: float = 24 * 3600.0
    clock: Callable[[], float] = time.time
    tus_expiry_s: float = 86_400.0  # an upload's expiry is its last activity plus this

    def run(self, *, dry_run: bool = False) -> Report:
        report = Report(dry_run)
        cutoff = self.clock() - self.stale_s
        for step in (
            self._uploads,
            self._spool,
            self._work,
            self._objects,
            self._deliveries,
            self._spent_grants,
        ):
            try:
                step(report, cutoff)
            except Exception:  # one broken step (storage down) must not stop the others
                log.exception("janitor: %s failed", step.__name__)
        for line in report.lines():
            log.info("janitor: %s", line)
        return report

    def _remove_path(self, report: Report, kind: str, path: Path) -> None:
        report.removals.append(Removal(kind, path.name, _tree_size(path)))
        if not report.dry_run:
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)

    def _uploads(self, report: Report, cutoff: float) -> None:
        """Unfinished tus uploads expired, or idle since before `cutoff` (their pieces in
        storage and their rows), and pieces whose upload is gone."""
        stale = {u.id: u for u in self.catalog.uploads_expired(self.clock())}
        for upload in self.catalog.uploads_created_before(cutoff):
            if upload.video_id is not None:
                continue  # finished: its row answers HEAD with the video id
            last_active = (upload.expires_at or upload.created_at) - self.tus_expiry_s
            if upload.expires_at is None or max(last_active, upload.created_at) < cutoff:
                stale[upload.id] = upload
        for upload in stale.values():
            if self._in_use(f"upload-{upload.id}"):
                continue
            report.removals.append(Removal("upload", upload.id, upload.offset_bytes))
            if not report.dry_run:
                self.catalog.delete_upload(upload.id)
                drop_parts(self.storage, [upload.id])
        pieces = {k[len(PARTS_ROOT) :].split("/", 1)[0] for k in self.storage.list_keys(PARTS_ROOT)}
        for upload_id in pieces:
            if upload_id in stale or self._in_use(f"upload-{upload_id}"):
                continue
            if self.catalog.get_upload(upload_id) is None:
                report.removals.append(Removal("upload pieces", upload_id, 0))
                if not report.dry_run:
                    drop_parts(self.storage, [upload_id])
        for path in self._old_entries(self.data_dir / "tus", cutoff):  # an older version's
            self._remove_path(report, "upload", path)

    def _deliveries(self, report: Report, cutoff: float) -> None:
        """Webhook deliveries finished (delivered or given up) over a week before `cutoff`:
        kept that long for `GET /api/webhooks/{id}/deliveries`."""
        if report.dry_run:
            return
        pruned = self.catalog.prune_deliveries(before=cutoff - DELIVERIES_KEPT_S)
        if pruned:
            report.removals.append(Removal("deliveries", f"{pruned} webhook deliveries", 0))

    def _spent_grants(self, report: Report, cutoff: float) -> None:
        """Spent direct-upload grants that have expired (their URLs are refused as expired
        now, so the record that they were used is no longer needed)."""
        if report.dry_run:
            return
        pruned = self.catalog.prune_spent_grants(before=self.clock())
        if pruned:
            report.removals.append(Removal("grants", f"{pruned} spent upload grants", 0))

    def _spool(self, report: Report, cutoff: float) -> None:
        for path in self._old_entries(self.data_dir / "spool", cutoff):
            owner = owner_of_spool_file(path.name)
            if owner is None or not self._in_use(owner):
                self._remove_path(report, "spool", path)
        for mark in self._old_entries(self.data_dir / IN_USE_DIR, cutoff):
            if not report.dry_run and not self._in_use(mark.name):  # a killed origin's
                mark.unlink(missing_ok=True)

    def _work(self, report: Report, cutoff: float) -> None:
        """A job's work directory, `job-<job id>-…`, unless that job is running right now."""
        now = self.clock()
        for path in self._old_entries(self.data_dir / "work", cutoff):
            job_id = path.name.split("-")[1] if path.name.startswith("job-") else ""
            job = self.catalog.get_job(job_id) if job_id else None
            leased = job is not None and job.status == "running" and (job.lease_expires or 0) > now
            if not leased:
                self._remove_path(report, "work", path)

    def _objects(self, report: Report, cutoff: float) -> None:
        """Objects under a video id the catalog does not know, last written before `cutoff`:
        a live stream's too once it is over and has no recording (a broadcast cut short)."""
        for root in OBJECT_ROOTS:
            keys = self.storage.list_keys(root)
            by_video: dict[str, list[str]] = {}
            for key in keys:
                video_id = key[len(root) :].split("/", 1)[0]
                by_video.setdefault(video_id, []).append(key)
            known = self.catalog.existing_videos(list(by_video))
            if root == "live/":  # a stream waiting for its encoder, or on air
                known |= {s.id for s in self.catalog.unfinished_live()}
            for video_id, owned in sorted(by_video.items()):
                if video_id in known or self._in_use(f"video-{video_id}"):
                    continue
                infos = [self.storage.stat(k) for k in owned]
                # unknown times count as fresh: better kept a day longer than lost
                if any(i is not None and (i.modified_at or self.clock()) > cutoff for i in infos):
                    continue  # an upload storing its files right now
                size = sum(i.size_bytes for i in infos if i is not None)
                report.removals.append(Removal("objects", f"{root}{video_id}/", size))
                if not report.dry_run:
                    self.storage.delete_prefix(f"{root}{video_id}/")

    def _in_use(self, name: str) -> bool:
        return held(self.data_dir / IN_USE_DIR, name)

    @staticmethod
    def _old_entries(directory: Path, cutoff: float) -> Iterable[Path]:
        if not directory.is_dir():
            return []
        return [p for p in sorted(directory.iterdir()) if _newest_mtime(p) <= cutoff]
