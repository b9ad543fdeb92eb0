"""Webhooks from a real origin: a receiver registered through the API gets a signed
`video.ready` within seconds of the publish, and again after it first answered 500; a video
that cannot be transcoded sends `video.failed`; the deliveries are visible in the API."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from manifests.catalog import Catalog
from origin.webhook_sender import SIGNATURE_HEADER, RetryPolicy, WebhookSender, verify_signature
from sample_media.generate import SampleMedia
from tests.conftest import TEST_LADDER
from tests.manifests.test_webhook_table import ready_video
from tests.support.asgi_server import serve_in_thread
from tests.support.playback import upload_raw, wait_for_video
from tests.support.servers import origin_server, wait_until

pytestmark = pytest.mark.slow


@dataclass
class Receiver:
    """Answers 500 to the first request, then 200; keeps what it got and when."""

    got: list[tuple[float, dict[str, str], bytes]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def app(self) -> Starlette:
        async def hook(request: Request) -> Response:
            body = await request.body()
            with self.lock:
                self.got.append((time.time(), dict(request.headers), body))
                first = len(self.got) == 1
            return Response(status_code=500 if first else 204)

        return Starlette(routes=[Route("/hook", hook, methods=["POST"])])


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, str]]:
    got = Receiver()
    with serve_in_thread(got.app()) as url:
        yield got, url + "/hook"


def test_a_signed_video_ready_arrives_within_seconds_and_again_after_a_500(
    tmp_path: object, sample: SampleMedia, receiver: tuple[Receiver, str]
) -> None:
    got, hook_url = receiver
    env = {
        "MEDIACDN_LADDER": TEST_LADDER,
        "MEDIACDN_X264_PRESET": "ultrafast",
        "MEDIACDN_WORKERS": "1",
        "MEDIACDN_WEBHOOK_RETRY_BASE_S": "1",
    }
    with (
        origin_server(tmp_path / "origin", env) as origin,  # type: ignore[operator]
        httpx.Client(base_url=origin.url, timeout=30) as http,
    ):
        refused = http.post(
            "/api/webhooks", json={"url": "file:///etc/passwd"}, headers=origin.headers()
        )
        assert refused.status_code == 422
        created = http.post(
            "/api/webhooks",
            json={"url": hook_url, "events": ["video.ready", "video.failed"]},
            headers=origin.headers(),
        )
        assert created.status_code == 201, created.text
        hook = created.json()
        assert len(hook["secret"]) >= 32
        listed = http.get("/api/webhooks", headers=origin.headers()).json()["webhooks"]
        assert [h["id"] for h in listed] == [hook["id"]]
        assert "secret" not in listed[0]

        video_id = upload_raw(http, origin.headers(), sample.video.read_bytes())
        video = wait_for_video(http, video_id, timeout_s=180)
        assert video["status"] == "ready"
        published = datetime.fromisoformat(video["updated_at"]).timestamp()
        wait_until(lambda: len(got.got) >= 2, 30, "the retried delivery")
        (first_at, first, first_body), (second_at, second, second_body) = got.got[:2]
        assert first_at - published < 5  # within seconds of the publish
        assert second_at - first_at < 10  # retried soon after the 500
        assert first["mediacdn-delivery"] == second["mediacdn-delivery"]
        assert first_body == second_body
        assert first["mediacdn-event"] == "video.ready"
        for at, headers, body in got.got[:2]:
            assert verify_signature(hook["secret"], body, headers[SIGNATURE_HEADER.lower()], at)
        assert not verify_signature(
            "another secret", second_body, second[SIGNATURE_HEADER.lower()], second_at
        )
        event = httpx.Response(200, content=second_body).json()
        assert event["type"] == "video.ready"
        assert event["data"]["video_id"] == video_id

        def delivered() -> bool:
            found = http.get(f"/api/webhooks/{hook['id']}/deliveries", headers=origin.headers())
            (delivery,) = found.json()["deliveries"]
            return bool(delivery["status"] == "delivered" and delivery["attempts"] == 2)

        wait_until(delivered, 10, "the delivery recorded")

        broken = upload_raw(http, origin.headers(), b"this is not a video at all" * 100)
        assert wait_for_video(http, broken, timeout_s=60)["status"] == "failed"
        wait_until(lambda: len(got.got) >= 3, 30, "video.failed")
        assert got.got[2][1]["mediacdn-event"] == "video.failed"

        assert (
            http.delete(f"/api/webhooks/{hook['id']}", headers=origin.headers()).status_code == 204
        )
        assert (
            http.get(f"/api/webhooks/{hook['id']}/deliveries", headers=origin.headers()).status_code
            == 404
        )


def test_an_endpoint_the_client_refuses_fails_its_delivery_only(
    catalog: Catalog, receiver: tuple[Receiver, str]
) -> None:
    """An endpoint stored before its URL was checked as it is now (a tab in the host) makes
    the HTTP client raise before sending: that delivery fails with the reason and is retried
    later; the others due in the same round are sent."""
    got, hook_url = receiver
    bad = catalog.create_webhook("http://hooks\t.example/", ("video.ready",))
    good = catalog.create_webhook(hook_url, ("video.ready",))
    ready_video(catalog)
    sender = WebhookSender(catalog, RetryPolicy(base_s=60), clock=catalog.clock)
    try:
        assert sender.send_due() == 2
    finally:
        sender.close()
    (failed,) = catalog.deliveries(bad.id)
    assert (failed.status, failed.attempts, failed.last_status) == ("pending", 1, None)
    assert failed.last_error is not None
    assert "InvalidURL" in failed.last_error
    assert failed.next_attempt_at == catalog.clock() + 60
    (sent,) = catalog.deliveries(good.id)
    assert (sent.attempts, sent.last_status) == (1, 500)  # the receiver's first answer
    assert len(got.got) == 1


def test_retries_back_off_exponentially_and_give_up() -> None:
    policy = RetryPolicy(base_s=5, max_s=60, max_attempts=5)
    assert [policy.next_attempt(n, 0) for n in range(1, 6)] == [5, 10, 20, 40, None]
    assert RetryPolicy(base_s=5, max_s=60, max_attempts=20).next_attempt(10, 100) == 160
