"""Catalog contract: the same behaviour on SQLite and on the real PostgreSQL."""

from __future__ import annotations

import json
import threading

import pytest

from manifests.catalog import Catalog
from manifests.errors import LeaseLost, VideoNotFound
from manifests.live_playlist import LiveTrack, Part
from manifests.live_streams import LiveRendition, LiveSettings
from manifests.records import NewVideo, Publication, Rendition, SideFile, StoredObject
from tests.support.clock import FakeClock


def new_video(video_id: str = "v1", **kw: object) -> NewVideo:
    fields: dict[str, object] = {
        "id": video_id,
        "source_key": f"uploads/{video_id}/source",
        "source_size_bytes": 1234,
        "segment_duration_s": 4.0,
        "title": "t",
        "audio_languages": ("eng", "spa"),
        "side_files": (SideFile("subtitles", "eng", f"uploads/{video_id}/subtitles-eng"),),
    }
    fields.update(kw)
    return NewVideo(**fields)  # type: ignore[arg-type]


def publication() -> Publication:
    return Publication(
        renditions=(
            Rendition("360p", "video", 900_000, 800_000, "avc1.64001e", (640, 360), 30.0),
            Rendition("audio-eng", "audio", 130_000, 128_000, "mp4a.40.2", language="eng"),
        ),
        objects=(
            StoredObject("360p", "init.mp4", "videos/v1/360p/init.mp4", 800, "a" * 64),
            StoredObject("360p", "0.m4s", "videos/v1/360p/0.m4s", 4000, "b" * 64, 4.0),
        ),
        playlists={"master.m3u8": "#EXTM3U\n", "360p/index.m3u8": "#EXTM3U\n"},
    )


def test_create_and_read_back(catalog: Catalog) -> None:
    video, job = catalog.create_video(new_video(), max_attempts=3)
    assert video.status == "queued"
    assert video.audio_languages == ("eng", "spa")
    assert video.side_files[0].language == "eng"
    assert job.video_id == "v1"
    assert job.max_attempts == 3
    assert catalog.get_video("v1") == video
    assert catalog.get_job(job.id) == job
    assert [v.id for v in catalog.list_videos()] == ["v1"]


def test_claim_takes_each_job_once(catalog: Catalog) -> None:
    catalog.create_video(new_video("a"))
    catalog.create_video(new_video("b"))
    first = catalog.claim_job("w1", lease_s=30)
    second = catalog.claim_job("w2", lease_s=30)
    assert first is not None
    assert second is not None
    assert {first.video_id, second.video_id} == {"a", "b"}
    assert first.attempts == 1
    assert catalog.claim_job("w3", lease_s=30) is None


def test_expired_lease_is_reclaimed(catalog: Catalog, clock: FakeClock) -> None:
    catalog.create_video(new_video())
    job = catalog.claim_job("dead-worker", lease_s=10)
    assert job is not None
    clock.advance(5)
    assert catalog.claim_job("w2", lease_s=10) is None
    clock.advance(6)
    again = catalog.claim_job("w2", lease_s=10)
    assert again is not None
    assert again.id == job.id
    assert again.attempts == 2
    assert again.lease_owner == "w2"
    with pytest.raises(LeaseLost):
        catalog.renew_lease(job.id, "dead-worker", 10)
    with pytest.raises(LeaseLost):
        catalog.publish(job.id, "dead-worker", publication())


def test_renewal_keeps_the_job(catalog: Catalog, clock: FakeClock) -> None:
    catalog.create_video(new_video())
    job = catalog.claim_job("w1", lease_s=10)
    assert job is not None
    for _ in range(5):
        clock.advance(8)
        catalog.renew_lease(job.id, "w1", 10)
        assert catalog.claim_job("w2", lease_s=10) is None


def test_retry_with_backoff_then_fail(catalog: Catalog, clock: FakeClock) -> None:
    catalog.create_video(new_video(), max_attempts=2)
    job = catalog.claim_job("w1", 30)
    assert job is not None
    retried = catalog.fail_job(job.id, "w1", code="transcode_failed", message="x", retry_after_s=5)
    assert retried.status == "queued"
    assert catalog.claim_job("w1", 30) is None  # not before the backoff
    clock.advance(5)
    job = catalog.claim_job("w1", 30)
    assert job is not None
    assert job.attempts == 2
    final = catalog.fail_job(job.id, "w1", code="transcode_failed", message="boom", retry_after_s=5)
    assert final.status == "failed"
    video = catalog.get_video("v1")
    assert video is not None
    assert video.status == "failed"
    assert video.error_code == "transcode_failed"
    assert video.error_message == "boom"


def test_no_retry_for_invalid_media(catalog: Catalog) -> None:
    catalog.create_video(new_video())
    job = catalog.claim_job("w1", 30)
    assert job is not None
    catalog.fail_job(job.id, "w1", code="invalid_media", message="text", retry_after_s=None)
    video = catalog.get_video("v1")
    assert video is not None
    assert video.status == "failed"
    assert catalog.claim_job("w1", 30) is None


def test_publish_is_all_or_nothing(catalog: Catalog) -> None:
    catalog.create_video(new_video())
    job = catalog.claim_job("w1", 30)
    assert job is not None
    catalog.set_progress(job.id, "w1", "transcoding", 50)
    assert catalog.playlists("v1") == {}
    assert catalog.objects("v1") == []
    video = catalog.publish(job.id, "w1", publication())
    assert video.status == "ready"
    assert video.progress == 100
    assert set(catalog.playlists("v1")) == {"master.m3u8", "360p/index.m3u8"}
    assert [o.name for o in catalog.objects("v1")] == ["0.m4s", "init.mp4"]
    assert [r.name for r in catalog.renditions("v1")] == ["360p", "audio-eng"]
    job_after = catalog.get_job(job.id)
    assert job_after is not None
    assert job_after.status == "done"


def test_videos_with_thumbnails_are_those_published_with_an_images_rendition(
    catalog: Catalog,
) -> None:
    for video_id in ("v1", "v2", "v3"):
        catalog.create_video(new_video(video_id))
    plain = publication()
    with_images = Publication(
        renditions=(
            *plain.renditions,
            Rendition("thumbs", "images", 9_000, 9_000, "jpeg", (160, 90)),
        ),
        objects=(
            *plain.objects,
            StoredObject("thumbs", "poster.jpg", "videos/v2/thumbs/poster.jpg", 900, "c" * 64),
        ),
        playlists=plain.playlists,
    )
    published = []
    for publishing in (plain, with_images):
        job = catalog.claim_job("w1", 30)
        assert job is not None
        catalog.publish(job.id, "w1", publishing)
        published.append(job.video_id)
    assert catalog.with_images(["v1", "v2", "v3", "nope"]) == {published[1]}
    assert catalog.with_images([]) == set()
    kinds = [r.kind for r in catalog.renditions(published[1])]
    assert kinds == ["video", "audio", "images"]


def test_delete_returns_every_key(catalog: Catalog) -> None:
    catalog.create_video(new_video())
    job = catalog.claim_job("w1", 30)
    assert job is not None
    catalog.publish(job.id, "w1", publication())
    keys = catalog.delete_video("v1")
    assert "videos/v1/360p/0.m4s" in keys
    assert "uploads/v1/source" in keys
    assert "uploads/v1/subtitles-eng" in keys
    assert catalog.get_video("v1") is None
    assert catalog.playlists("v1") == {}
    with pytest.raises(VideoNotFound):
        catalog.delete_video("v1")


def test_uploads(catalog: Catalog) -> None:
    upload = catalog.create_upload(100, {"filename": "a.mp4"}, expires_at=5000.0)
    assert catalog.add_upload_part(upload.id, 0, "tus/x/0", 40, expires_at=6000.0)
    assert not catalog.add_upload_part(upload.id, 0, "tus/x/0-late", 40, expires_at=6000.0)
    assert catalog.add_upload_part(upload.id, 40, "tus/x/40", 10, expires_at=7000.0)
    loaded = catalog.get_upload(upload.id)
    assert loaded is not None
    assert loaded.offset_bytes == 50
    assert loaded.parts == ("tus/x/0", "tus/x/40")
    assert loaded.expires_at == 7000.0
    assert loaded.metadata == {"filename": "a.mp4"}
    assert [u.id for u in catalog.uploads_expired(7001.0)] == [upload.id]
    assert catalog.uploads_expired(6999.0) == []
    final = catalog.create_upload(50, {}, concat="final", parts=loaded.parts)
    assert (final.offset_bytes, final.concat) == (50, "final")
    catalog.finish_upload(upload.id, "v9")
    finished = catalog.get_upload(upload.id)
    assert finished is not None
    assert finished.video_id == "v9"
    catalog.delete_upload(upload.id)
    assert catalog.get_upload(upload.id) is None


def test_a_direct_upload_grant_is_spent_for_good(catalog: Catalog) -> None:
    """Its upload cancelled or cleaned, a grant still may not create another; the record goes
    once the grant has expired."""
    assert not catalog.grant_spent("g1")
    catalog.create_upload(10, {}, "g1", grant_expires_at=9000.0)
    assert catalog.grant_spent("g1")
    catalog.delete_upload("g1")
    assert catalog.grant_spent("g1")
    with pytest.raises(Exception):  # noqa: B017, PT011 - each driver's own integrity error
        catalog.create_upload(10, {}, "g1", grant_expires_at=9000.0)
    assert catalog.get_upload("g1") is None  # nothing half-made
    catalog.create_upload(10, {}, "older")  # an upload made before grants were recorded
    assert catalog.grant_spent("older")
    assert catalog.prune_spent_grants(before=9000.0) == 0
    assert catalog.prune_spent_grants(before=9000.5) == 1
    assert not catalog.grant_spent("g1")


def test_concurrent_claims_never_share_a_job(catalog: Catalog) -> None:
    for i in range(12):
        catalog.create_video(new_video(f"v{i}"))
    claimed: list[str] = []
    lock = threading.Lock()

    def claim(worker: str) -> None:
        while (job := catalog.claim_job(worker, 30)) is not None:
            with lock:
                claimed.append(job.id)

    threads = [threading.Thread(target=claim, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(claimed) == 12
    assert len(set(claimed)) == 12


def test_lease_check_waits_for_a_concurrent_holder(catalog: Catalog) -> None:
    """A renewal while another transaction holds the job row waits; it never reads as lost."""
    catalog.create_video(new_video())
    job = catalog.claim_job("w1", 30)
    assert job is not None
    lock = " FOR UPDATE" if catalog.db.dialect == "postgresql" else ""
    errors: list[Exception] = []
    done = threading.Event()

    def renew() -> None:
        try:
            catalog.renew_lease(job.id, "w1", 30)
        except Exception as exc:
            errors.append(exc)
        done.set()

    with catalog.db.transaction() as cur:
        cur.execute("SELECT * FROM jobs WHERE id = ?" + lock, (job.id,))
        cur.execute("UPDATE jobs SET updated_at = updated_at WHERE id = ?", (job.id,))
        thread = threading.Thread(target=renew)
        thread.start()
        assert not done.wait(0.3)  # blocked behind the holder
    thread.join(timeout=30)
    assert done.is_set()
    assert errors == []


def test_access_is_public_unless_asked_and_can_change(catalog: Catalog) -> None:
    video, _ = catalog.create_video(new_video("v1"))
    assert video.access == "public"
    signed, _ = catalog.create_video(new_video("v2", access="signed"))
    assert signed.access == "signed"
    assert catalog.set_access("v1", "signed").access == "signed"
    got = catalog.get_video("v1")
    assert got is not None
    assert got.access == "signed"
    with pytest.raises(VideoNotFound):
        catalog.set_access("nope", "public")


def test_a_catalog_made_before_access_existed_gains_it(catalog: Catalog) -> None:
    catalog.create_video(new_video("old"))
    with catalog.db.transaction() as cur:  # as an older release left it
        cur.execute("ALTER TABLE videos DROP COLUMN access")
    catalog.create_schema()
    catalog.create_schema()  # twice: nothing to add the second time
    video = catalog.get_video("old")
    assert video is not None
    assert video.access == "public"


def test_transient_failures_use_up_no_attempt(catalog: Catalog, clock: FakeClock) -> None:
    catalog.create_video(new_video("v1"), max_attempts=2)
    for _ in range(5):  # an outage longer than every attempt together
        claimed = catalog.claim_job("w1", 30)
        assert claimed is not None
        back = catalog.fail_job(
            claimed.id, "w1", code="storage_unavailable", message="down", retry_after_s=1,
            transient=True,
        )  # fmt: skip
        assert back.status == "queued"
        assert back.attempts == 0
        clock.advance(2)
    assert back.transient_failures == 5
    video = catalog.get_video("v1")
    assert video is not None
    assert video.status == "queued"


def test_a_failed_video_is_queued_again_with_all_its_attempts(
    catalog: Catalog, clock: FakeClock
) -> None:
    _, job = catalog.create_video(new_video("v1"), max_attempts=1)
    claimed = catalog.claim_job("w1", 30)
    assert claimed is not None
    catalog.fail_job(claimed.id, "w1", code="invalid_media", message="x", retry_after_s=None)
    catalog.create_video(new_video("v2"))
    with pytest.raises(ValueError, match="queued"):
        catalog.retry_video("v2")
    retried = catalog.retry_video("v1")
    assert retried.status == "queued"
    assert retried.error_code is None
    again = catalog.get_job(job.id)
    assert again is not None
    assert again.status == "queued"
    assert again.attempts == 0
    with pytest.raises(VideoNotFound):
        catalog.retry_video("nope")


def test_transcodes_are_shared_fairly_between_uploaders(catalog: Catalog, clock: FakeClock) -> None:
    for n in range(3):  # one uploader queues three videos...
        catalog.create_video(new_video(f"a{n}", owner="alice"))
        clock.advance(1)
    catalog.create_video(new_video("b0", owner="bob"))  # ...then another queues one
    order = []
    for _ in range(4):
        job = catalog.claim_job("w1", 30)
        assert job is not None
        order.append(job.video_id)
        catalog.fail_job(job.id, "w1", code="x", message="done", retry_after_s=None)
        clock.advance(1)
    assert order == ["a0", "b0", "a1", "a2"]


def test_an_uploader_with_a_job_running_waits_behind_one_without(
    catalog: Catalog, clock: FakeClock
) -> None:
    catalog.create_video(new_video("a0", owner="alice"))
    clock.advance(1)
    catalog.create_video(new_video("a1", owner="alice"))
    clock.advance(1)
    catalog.create_video(new_video("b0", owner="bob"))
    first = catalog.claim_job("w1", 30)
    second = catalog.claim_job("w2", 30)
    assert first is not None
    assert second is not None
    assert (first.video_id, second.video_id) == ("a0", "b0")


def test_live_streams_hold_their_port_state_and_recording(catalog: Catalog) -> None:
    settings = LiveSettings(2.0, 0.5, 30.0)
    hook = catalog.create_webhook("http://receiver.example/hook", ("live.started", "live.ended"))
    first = catalog.create_live("one", settings, range(9000, 9002), owner="o")
    second = catalog.create_live("two", settings, range(9000, 9002))
    assert (first.ingest_port, second.ingest_port) == (9000, 9001)
    assert first.status == "idle"
    assert len(first.stream_key) == 32
    assert first.stream_key not in repr(first)
    with pytest.raises(LookupError):
        catalog.create_live("three", settings, range(9000, 9002))
    track = LiveTrack(target_duration_s=2, part_target_s=0.5).add_part(Part(0.5, True), 1.0)
    catalog.put_live_rendition(first.id, 0, LiveRendition("360p", "video", {"bandwidth": 1}, track))
    catalog.put_live_rendition(first.id, 1, LiveRendition("audio", "audio", {}, track))
    version, renditions = catalog.live_renditions(first.id)
    assert [r.name for r in renditions] == ["360p", "audio"]
    assert renditions[0].track == track
    assert renditions[0].info == {"bandwidth": 1}
    closed = track.close_segment()
    catalog.put_live_rendition(
        first.id, 0, LiveRendition("360p", "video", {"bandwidth": 2}, closed)
    )
    later, renditions = catalog.live_renditions(first.id)
    assert later > version
    assert renditions[0].track == closed
    assert renditions[0].info == {"bandwidth": 2}
    live = catalog.set_live_status(first.id, "live")
    assert live is not None
    assert live.status == "live"
    assert live.started_at is not None
    recording = catalog.publish_recording(
        new_video(first.id, source_key="", source_size_bytes=0), publication()
    )
    assert recording.status == "ready"
    assert [r.name for r in catalog.renditions(first.id)] == ["360p", "audio-eng"]
    ended = catalog.set_live_status(first.id, "ended", video_id=recording.id)
    assert ended is not None
    assert (ended.status, ended.video_id) == ("ended", first.id)
    assert catalog.set_live_status(first.id, "live").status == "ended"  # type: ignore[union-attr]
    catalog.set_live_status(first.id, "ended")  # again: no second event
    events = [(d.event, json.loads(d.body)["data"]) for d in catalog.deliveries(hook.id)]
    assert sorted(events, key=lambda e: e[0]) == [
        ("live.ended", {"stream_id": first.id, "title": "one", "video_id": first.id}),
        ("live.started", {"stream_id": first.id, "title": "one"}),
    ]
    assert [s.id for s in catalog.unfinished_live()] == [second.id]
    assert catalog.reset_live_key(first.id) is None  # an ended stream has no key to reset
    reset = catalog.reset_live_key(second.id)
    assert reset is not None
    assert len(reset.stream_key) == 32
    assert reset.stream_key != second.stream_key
    assert catalog.get_live(second.id) == reset
    # an ended stream frees its port
    assert catalog.create_live("three", settings, range(9000, 9002)).ingest_port == 9000
    catalog.delete_live(second.id)
    assert catalog.get_live(second.id) is None
    assert catalog.live_renditions(second.id) == (-1, [])
