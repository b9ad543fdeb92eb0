"""After a publish the worker announces the video (the origin pushes it to the CDN's edges):
best effort. An announcement that fails leaves the video published and the job done."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from manifests.catalog import Catalog
from manifests.db import open_database
from manifests.records import NewVideo, Publication
from sample_media.generate import SampleMedia
from storage.keys import source_key
from storage.local import LocalStorage
from tests.conftest import TEST_LADDER
from transcoder.ladder import LadderPolicy
from transcoder.worker import TranscodeWorker, WorkerConfig

pytestmark = pytest.mark.slow


def transcode_with(
    tmp_path: Path, sample: SampleMedia, ffmpeg: str, ffprobe: str, announce: WorkerConfig
) -> tuple[Catalog, str, str]:
    catalog = Catalog(open_database(f"sqlite:///{tmp_path / 'catalog.db'}"))
    catalog.create_schema()
    storage = LocalStorage(tmp_path / "objects")
    info = storage.put_file(source_key("v1"), sample.video)
    video, job = catalog.create_video(NewVideo("v1", source_key("v1"), info.size_bytes, 4.0))
    worker = TranscodeWorker(catalog, storage, announce)
    assert worker.run_once()
    return catalog, video.id, job.id


@pytest.mark.parametrize("fails", [False, True], ids=["announced", "announcement-fails"])
def test_a_failed_announcement_leaves_the_video_published(
    tmp_path: Path,
    sample: SampleMedia,
    ffmpeg: str,
    ffprobe: str,
    fails: bool,
    caplog: pytest.LogCaptureFixture,
) -> None:
    announced: list[tuple[str, int]] = []

    def on_published(video_id: str, publication: Publication) -> None:
        announced.append((video_id, len(publication.objects)))
        if fails:
            raise RuntimeError("the edges are unreachable")

    config = WorkerConfig(
        ffmpeg=ffmpeg,
        ffprobe=ffprobe,
        work_dir=tmp_path / "work",
        ladder=LadderPolicy.parse(TEST_LADDER),
        on_published=on_published,
    )
    with caplog.at_level(logging.INFO, logger="mediacdn.worker"):
        catalog, video_id, job_id = transcode_with(tmp_path, sample, ffmpeg, ffprobe, config)
    video = catalog.get_video(video_id)
    job = catalog.get_job(job_id)
    assert video is not None
    assert job is not None
    assert video.status == "ready"
    assert job.status == "done"
    assert job.attempts == 1
    assert announced
    assert announced[0][0] == video_id
    assert announced[0][1] > 0
    assert ("announcing published video" in caplog.text) is fails
    assert "lease lost" not in caplog.text
