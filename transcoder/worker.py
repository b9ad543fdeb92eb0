"""The transcode worker: claim a job under a lease, keep the lease alive, encode, publish.

A worker that dies loses its lease; the job is claimed again once the lease expires. Every
effect is idempotent (deterministic object keys, one publish transaction per video).
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from manifests.catalog import Catalog
from manifests.db import database_unavailable
from manifests.errors import LeaseLost
from manifests.records import Job, Publication, Video, VideoStatus
from storage import Storage, StorageError
from storage.errors import InvalidKey
from storage.keys import video_prefix
from transcoder.command import EncodeOptions, build_transcode_argv, output_names
from transcoder.errors import InvalidMedia, TranscodeError, public_text
from transcoder.ladder import LadderPolicy
from transcoder.limits import MediaLimits
from transcoder.plan import (
    MAX_SUBTITLE_BYTES,
    LocalInputs,
    plan_encode,
    thumbnail_plan,
    with_embedded_subtitles,
)
from transcoder.publish import collect_outputs, store_outputs
from transcoder.runner import Cancelled, run_ffmpeg
from transcoder.text_subtitles import convert_side_subtitles, extract_text_subtitles
from transcoder.thumbnails import RENDITION as THUMBNAILS

log = logging.getLogger("mediacdn.worker")
RENEW_EVERY_S = 2.0


@dataclass(frozen=True, slots=True)
class WorkerConfig:
    ffmpeg: str
    ffprobe: str
    work_dir: Path
    ladder: LadderPolicy = field(default_factory=LadderPolicy)
    x264_preset: str = "veryfast"
    lease_s: float = 30.0
    retry_base_s: float = 5.0
    retry_max_s: float = 600.0  # the longest wait before a retry
    poll_s: float = 1.0
    # what a source may cost (checked before encoding) and what its encode may spend
    limits: MediaLimits = field(default_factory=MediaLimits)
    # Told of each video once it is published (the origin pushes it to the CDN's edges);
    # best effort: a failure is logged, the video stays published.
    on_published: Callable[[str, Publication], None] | None = None


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class _LeaseKeeper:
    """Renews the job's lease in the background; sets `lost` if it cannot or on shutdown."""

    def __init__(
        self,
        catalog: Catalog,
        job: Job,
        worker: str,
        lease_s: float,
        shutdown: threading.Event | None,
    ) -> None:
        self.lost = threading.Event()
        self._done = threading.Event()
        self._catalog, self._job_id, self._worker, self._lease_s = catalog, job.id, worker, lease_s
        self._shutdown = shutdown
        self._thread = threading.Thread(target=self._run, daemon=True, name=f"lease-{job.id}")

    def _run(self) -> None:
        renewed = time.monotonic()
        while not self._done.wait(0.25):
            if self._shutdown is not None and self._shutdown.is_set():
                self.lost.set()
                return
            # often enough that a deleted video's job (its lease gone with it) stops in seconds
            if time.monotonic() - renewed < min(self._lease_s / 3, RENEW_EVERY_S):
                continue
            try:
                self._catalog.renew_lease(self._job_id, self._worker, self._lease_s)
                renewed = time.monotonic()
            except LeaseLost:
                log.warning("lost the lease on job %s", self._job_id)
                self.lost.set()
                return
            except Exception:  # a DB hiccup: try again soon, the lease still runs
                log.exception("could not renew the lease on job %s", self._job_id)

    def __enter__(self) -> _LeaseKeeper:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join(timeout=10)


class TranscodeWorker:
    def __init__(
        self,
        catalog: Catalog,
        storage: Storage,
        config: WorkerConfig,
        *,
        name: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.catalog = catalog
        self.storage = storage
        self.config = config
        self.name = name or worker_name()
        self.clock = clock

    def run(self, stop: threading.Event) -> None:
        """Work until `stop` is set, polling for jobs when idle."""
        while not stop.is_set():
            try:
                worked = self.run_once(stop)
            except Exception:
                log.exception("worker %s: unexpected error; continuing", self.name)
                worked = False
            if not worked:
                stop.wait(self.config.poll_s)

    def run_once(self, stop: threading.Event | None = None) -> bool:
        job = self.catalog.claim_job(self.name, self.config.lease_s)
        if job is None:
            return False
        if job.attempts > job.max_attempts:
            self.catalog.fail_exhausted(job.id, self.name)
            return True
        video = self.catalog.get_video(job.video_id)
        if video is None:
            return True
        log.info(
            "worker %s: job %s (video %s), attempt %d", self.name, job.id, video.id, job.attempts
        )
        with _LeaseKeeper(self.catalog, job, self.name, self.config.lease_s, stop) as keeper:
            self._process(job, video, keeper.lost)
        return True

    def _process(self, job: Job, video: Video, cancel: threading.Event) -> None:
        cfg = self.config
        cfg.work_dir.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=f"job-{job.id}-", dir=cfg.work_dir))
        last_update = [0.0]

        def progress(status: VideoStatus, pct: float, *, force: bool = False) -> None:
            now = self.clock()
            if force or now - last_update[0] >= 0.5:
                last_update[0] = now
                try:
                    self.catalog.set_progress(job.id, self.name, status, pct)
                except LeaseLost:
                    cancel.set()

        try:
            progress("probing", 1, force=True)
            files = self._fetch_inputs(video, work)
            subtitles = convert_side_subtitles(
                cfg.ffmpeg,
                list(files.subtitles),
                work / "subtitles",
                max_bytes=MAX_SUBTITLE_BYTES,
                timeout_s=cfg.limits.budget_base_s,
                cancel=cancel,
            )
            files = replace(files, subtitles=tuple(subtitles))
            plan = plan_encode(
                files,
                ffprobe=cfg.ffprobe,
                ladder=cfg.ladder,
                audio_languages=video.audio_languages,
            )
            cfg.limits.check(plan.source)
            embedded = extract_text_subtitles(
                cfg.ffmpeg,
                plan.inputs[0],
                plan.source,
                work / "subtitles",
                max_bytes=MAX_SUBTITLE_BYTES,
                timeout_s=cfg.limits.budget_s(plan.expected_duration_s),
                memory_mb=cfg.limits.memory_mb,
                cancel=cancel,
            )
            plan = with_embedded_subtitles(plan, embedded)
            progress("transcoding", 2, force=True)
            out_dir = work / "out"
            thumbnails = thumbnail_plan(plan)
            names = output_names(plan.renditions, list(plan.audio))
            for name in names + ([THUMBNAILS] if thumbnails else []):
                (out_dir / name).mkdir(parents=True, exist_ok=True)
            argv = build_transcode_argv(
                cfg.ffmpeg,
                list(plan.inputs),
                plan.renditions,
                list(plan.audio),
                out_dir,
                EncodeOptions(
                    segment_duration_s=video.segment_duration_s,
                    frame_rate=plan.video.frame_rate,
                    source_size=plan.video.frame_size,
                    x264_preset=cfg.x264_preset,
                    audio_bitrate_bps=cfg.ladder.audio_bitrate_bps,
                    thumbnails=thumbnails,
                    video_stream=plan.video.index,
                    constant_rate=plan.video.constant_rate,
                    interlaced=plan.video.interlaced,
                    hdr=plan.video.hdr,
                    length_s=plan.expected_duration_s,
                    video_pad_s=plan.video_pad_s,
                    video_lead_s=plan.video_lead_s,
                ),
            )
            run_ffmpeg(
                argv,
                duration_s=plan.expected_duration_s,
                on_progress=lambda f: progress("transcoding", 2 + 86 * f),
                cancel=cancel,
                timeout_s=cfg.limits.budget_s(plan.expected_duration_s),
                memory_mb=cfg.limits.memory_mb,
                max_output_s=cfg.limits.max_output_s(plan.expected_duration_s),
            )
            outputs = collect_outputs(plan, out_dir, thumbnails)
            progress("publishing", 90, force=True)
            publication = store_outputs(
                video.id, outputs, self.storage, lambda f: progress("publishing", 90 + 9 * f)
            )
            if cancel.is_set():
                raise Cancelled("lease lost before publishing")
            self.catalog.publish(job.id, self.name, publication)
            log.info("published video %s (%d objects)", video.id, len(publication.objects))
            self._announce(video.id, publication)
        except (Cancelled, LeaseLost) as exc:
            log.warning("job %s abandoned: %s", job.id, exc)
            self._clean_up_if_deleted(video.id)
        except InvalidMedia as exc:
            self._fail(job, exc.code, exc.reason, retry=False)
        except TranscodeError as exc:
            self._fail(job, exc.code, str(exc), retry=True)
        except InvalidKey as exc:  # a name the encode made up, not storage being down
            self._fail(job, "internal_error", str(exc), retry=True)
        except StorageError as exc:  # storage down: retried for as long as it takes
            self._fail(job, "storage_unavailable", str(exc), retry=True, transient=True)
        except Exception as exc:
            if database_unavailable(exc):
                self._fail(job, "database_unavailable", str(exc), retry=True, transient=True)
                return
            log.exception("job %s failed unexpectedly", job.id)
            self._fail(job, "internal_error", f"{type(exc).__name__}: {exc}", retry=True)
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def _announce(self, video_id: str, publication: Publication) -> None:
        """Best effort: the video is published whatever happens to its announcement."""
        if self.config.on_published is None:
            return
        try:
            self.config.on_published(video_id, publication)
        except Exception:
            log.exception("announcing published video %s failed", video_id)

    def _clean_up_if_deleted(self, video_id: str) -> None:
        """A video deleted mid-transcode: remove what this worker stored after the delete."""
        try:
            if self.catalog.get_video(video_id) is None:
                self.storage.delete_prefix(video_prefix(video_id))
        except Exception:
            log.exception("could not clean up after deleted video %s", video_id)

    def _fail(
        self, job: Job, code: str, message: str, *, retry: bool, transient: bool = False
    ) -> None:
        cfg = self.config
        failures = job.transient_failures if transient else max(0, job.attempts - 1)
        delay = min(cfg.retry_max_s, cfg.retry_base_s * 2 ** min(failures, 30)) if retry else None
        log.warning("job %s failed (%s): %s", job.id, code, message)
        try:
            self.catalog.fail_job(
                job.id,
                self.name,
                code=code,
                message=public_text(message),
                retry_after_s=delay,
                transient=transient,
            )
        except LeaseLost:
            log.warning("job %s: lease lost before recording the failure", job.id)

    def _fetch_inputs(self, video: Video, work: Path) -> LocalInputs:
        def local(key: str, name: str) -> Path:
            path = self.storage.local_path(key)
            if path is not None and path.exists():
                return path
            dest = work / name
            self.storage.download(key, dest)
            return dest

        audio = tuple(
            (s.language, local(s.key, f"audio-{s.language}"))
            for s in video.side_files
            if s.kind == "audio"
        )
        subtitles = tuple(
            (s.language, local(s.key, f"subs-{s.language}.vtt"))
            for s in video.side_files
            if s.kind == "subtitles"
        )
        return LocalInputs(local(video.source_key, "source"), audio, subtitles)
