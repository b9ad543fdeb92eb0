"""The catalog's webhook outbox, on SQLite and on the real PostgreSQL: events are queued in the
transaction of the change they report, claimed once under a lease, retried when due, and kept
with their outcome."""

from __future__ import annotations

import json

from manifests.catalog import Catalog
from tests.manifests.test_catalog_contract import new_video, publication
from tests.support.clock import FakeClock


def ready_video(catalog: Catalog, video_id: str = "v1") -> None:
    catalog.create_video(new_video(video_id), max_attempts=3)
    job = catalog.claim_job("w1", 30)
    assert job is not None
    catalog.publish(job.id, "w1", publication())


def test_a_published_video_queues_video_ready_for_each_endpoint_that_wants_it(
    catalog: Catalog,
) -> None:
    everything = catalog.create_webhook("http://a.example/hook", ("video.ready", "video.failed"))
    failures = catalog.create_webhook("http://b.example/hook", ("video.failed",))
    ready_video(catalog)
    claimed = catalog.claim_deliveries(lease_s=15)
    assert [(d.event, hook.id) for d, hook in claimed] == [("video.ready", everything.id)]
    delivery = claimed[0][0]
    body = json.loads(delivery.body)
    assert body["type"] == "video.ready"
    assert body["id"] == delivery.id
    assert body["data"]["video_id"] == "v1"
    assert body["data"]["status"] == "ready"
    assert catalog.deliveries(failures.id) == []


def test_a_claimed_delivery_is_leased_retried_when_due_and_kept_with_its_outcome(
    catalog: Catalog, clock: FakeClock
) -> None:
    hook = catalog.create_webhook("http://a.example/hook", ("video.ready",))
    ready_video(catalog)
    (delivery, _), *rest = catalog.claim_deliveries(lease_s=15)
    assert rest == []
    assert catalog.claim_deliveries(lease_s=15) == []  # leased: no second sender gets it
    catalog.record_delivery(delivery.id, status_code=500, error=None, retry_at=clock() + 5)
    assert catalog.claim_deliveries(lease_s=15) == []  # not due yet
    clock.advance(5)
    (again, _), *_ = catalog.claim_deliveries(lease_s=15)
    assert again.id == delivery.id
    assert again.attempts == 1
    assert again.last_status == 500
    catalog.record_delivery(again.id, status_code=204, error=None, retry_at=None)
    (kept,) = catalog.deliveries(hook.id)
    assert (kept.status, kept.attempts, kept.last_status) == ("delivered", 2, 204)
    assert kept.delivered_at == clock()
    clock.advance(100)
    assert catalog.claim_deliveries(lease_s=15) == []
    assert catalog.prune_deliveries(before=clock()) == 1


def test_a_lease_that_runs_out_lets_another_sender_claim_the_delivery(
    catalog: Catalog, clock: FakeClock
) -> None:
    catalog.create_webhook("http://a.example/hook", ("video.ready",))
    ready_video(catalog)
    assert len(catalog.claim_deliveries(lease_s=15)) == 1  # that sender died mid-send
    clock.advance(16)
    assert len(catalog.claim_deliveries(lease_s=15)) == 1


def test_a_delivery_given_up_and_a_failed_or_deleted_video(
    catalog: Catalog, clock: FakeClock
) -> None:
    hook = catalog.create_webhook("http://a.example/hook", ("video.failed", "video.deleted"))
    catalog.create_video(new_video("v2"), max_attempts=1)
    job = catalog.claim_job("w1", 30)
    assert job is not None
    catalog.fail_job(job.id, "w1", code="unsupported_media", message="no video", retry_after_s=None)
    catalog.delete_video("v2")
    claimed = catalog.claim_deliveries(lease_s=15)
    events = {d.event: json.loads(d.body)["data"] for d, _ in claimed}
    assert events["video.failed"]["error"] == {"code": "unsupported_media", "message": "no video"}
    assert events["video.deleted"] == {"video_id": "v2", "status": "deleted"}
    for delivery, _ in claimed:
        catalog.record_delivery(delivery.id, status_code=None, error="refused", retry_at=None)
    assert {d.status for d in catalog.deliveries(hook.id)} == {"failed"}
    assert catalog.delete_webhook(hook.id)
    assert catalog.deliveries(hook.id) == []
    assert not catalog.delete_webhook(hook.id)
