"""Sends the catalog's webhook deliveries: each a JSON POST signed with its endpoint's secret,
retried with exponential backoff until a 2xx or the last attempt.

The signature header is `Mediacdn-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of
"<t>.<body>" with the endpoint's secret>`: a receiver recomputes it, compares in constant
time and refuses old timestamps (replays)."""

from __future__ import annotations

import hashlib
import hmac
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from manifests.catalog import Catalog
from manifests.webhooks import Delivery, Webhook

log = logging.getLogger("mediacdn.webhooks")
SIGNATURE_HEADER = "Mediacdn-Signature"


def sign(secret: str, body: bytes, at_s: int) -> str:
    mac = hmac.new(secret.encode(), f"{at_s}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={at_s},v1={mac}"


def verify_signature(
    secret: str, body: bytes, header: str, now: float, tolerance_s: float = 300
) -> bool:
    """What a receiver does (and the tests): the header's HMAC matches and is recent."""
    fields = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    if not fields.get("t", "").isdigit() or abs(now - int(fields["t"])) > tolerance_s:
        return False
    expected = sign(secret, body, int(fields["t"])).rpartition("v1=")[2]
    return hmac.compare_digest(expected, fields.get("v1", ""))


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    base_s: float = 5.0
    max_s: float = 3600.0
    max_attempts: int = 10

    def next_attempt(self, attempts_done: int, now: float) -> float | None:
        """When to try again after `attempts_done` failed attempts (None: give up)."""
        if attempts_done >= self.max_attempts:
            return None
        return now + min(self.max_s, self.base_s * 2.0 ** (attempts_done - 1))


class WebhookSender:
    def __init__(
        self,
        catalog: Catalog,
        retry: RetryPolicy,
        *,
        timeout_s: float = 10.0,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.catalog, self.retry, self.clock = catalog, retry, clock
        self.timeout_s = timeout_s
        self._client = httpx.Client(timeout=timeout_s, transport=transport, follow_redirects=False)

    def send_due(self) -> int:
        """Send every delivery due now; returns how many were attempted."""
        claimed = self.catalog.claim_deliveries(lease_s=self.timeout_s + 5)
        for delivery, hook in claimed:
            self._send(delivery, hook)
        return len(claimed)

    def _send(self, delivery: Delivery, hook: Webhook) -> None:
        body = delivery.body.encode()
        headers = {
            "content-type": "application/json",
            "user-agent": "mediacdn-webhooks",
            SIGNATURE_HEADER: sign(hook.secret, body, int(self.clock())),
            "Mediacdn-Event": delivery.event,
            "Mediacdn-Delivery": delivery.id,
        }
        status: int | None = None
        error = None
        try:
            status = self._client.post(hook.url, content=body, headers=headers).status_code
        except Exception as exc:  # a URL the client refuses fails this delivery, not the rest
            error = f"{type(exc).__name__}: {exc}"[:300]
        ok = status is not None and 200 <= status < 300
        retry_at = None if ok else self.retry.next_attempt(delivery.attempts + 1, self.clock())
        if not ok:
            log.warning(
                "webhook %s to %s: %s (%s)",
                delivery.event,
                hook.url,
                error or f"answered {status}",
                "retrying" if retry_at else "gave up",
            )
        self.catalog.record_delivery(
            delivery.id, status_code=status, error=error, retry_at=retry_at
        )

    def run(self, stop: threading.Event, interval_s: float) -> None:
        """Send what is due every `interval_s` until `stop` is set."""
        while not stop.is_set():
            try:
                self.send_due()
            except Exception:  # the database away: try again next round
                log.exception("sending webhooks")
            stop.wait(interval_s)
        self.close()

    def close(self) -> None:
        self._client.close()
