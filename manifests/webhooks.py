"""Webhooks in the catalog: the endpoints that want events, and an outbox of deliveries.

An event is written in the same transaction as the change it reports (a video made ready or
failed), one delivery row per subscribed endpoint, so no event is lost and none is sent for a
change that did not happen. Senders on any origin claim due deliveries with a lease (at least
once: a sender that dies mid-send leaves the delivery to be claimed again)."""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from manifests.db import Cursor, PostgresDatabase, Row, SqliteDatabase
from manifests.records import Video

EVENTS = ("video.ready", "video.failed", "video.deleted", "live.started", "live.ended")
DELIVERIES_KEPT = 100  # per endpoint: older finished deliveries are dropped


@dataclass(frozen=True, slots=True)
class Webhook:
    id: str
    url: str
    events: tuple[str, ...]
    secret: str
    created_at: float


@dataclass(frozen=True, slots=True)
class Delivery:
    id: str
    webhook_id: str
    event: str
    body: str  # the JSON document sent
    status: str  # pending, delivered or failed (gave up)
    attempts: int
    next_attempt_at: float
    last_status: int | None
    last_error: str | None
    created_at: float
    delivered_at: float | None


def _webhook(row: Row) -> Webhook:
    return Webhook(
        id=row["id"],
        url=row["url"],
        events=tuple(json.loads(row["events"])),
        secret=row["secret"],
        created_at=float(row["created_at"]),
    )


def _delivery(row: Row) -> Delivery:
    return Delivery(
        id=row["id"],
        webhook_id=row["webhook_id"],
        event=row["event"],
        body=row["body"],
        status=row["status"],
        attempts=int(row["attempts"]),
        next_attempt_at=float(row["next_attempt_at"]),
        last_status=None if row["last_status"] is None else int(row["last_status"]),
        last_error=row["last_error"],
        created_at=float(row["created_at"]),
        delivered_at=None if row["delivered_at"] is None else float(row["delivered_at"]),
    )


def video_event(video: Video) -> dict[str, object]:
    """What an event says of a video: enough to act on; GET /api/videos/{id} has the rest."""
    error = (
        {"code": video.error_code, "message": video.error_message or ""}
        if video.error_code
        else None
    )
    return {"video_id": video.id, "status": video.status, "title": video.title, "error": error}


def event_body(delivery_id: str, event: str, at_s: float, data: dict[str, object]) -> str:
    """The document an endpoint receives: which event, when (Unix time), about what."""
    document = {"id": delivery_id, "type": event, "created": at_s, "data": data}
    return json.dumps(document, separators=(",", ":"))


class WebhookTable:
    """The webhooks part of the catalog (the Catalog is one)."""

    db: SqliteDatabase | PostgresDatabase
    clock: Callable[[], float]
    _skip_locked_deliveries: str  # PostgreSQL: other senders' claims are skipped

    def create_webhook(self, url: str, events: tuple[str, ...]) -> Webhook:
        hook = Webhook(
            id=uuid.uuid4().hex,
            url=url,
            events=events,
            secret=secrets.token_urlsafe(32),
            created_at=self.clock(),
        )
        with self.db.transaction() as cur:
            cur.execute(
                "INSERT INTO webhooks (id, url, events, secret, created_at) VALUES (?, ?, ?, ?, ?)",
                (hook.id, url, json.dumps(list(events)), hook.secret, hook.created_at),
            )
        return hook

    def webhooks(self) -> list[Webhook]:
        with self.db.transaction() as cur:
            cur.execute("SELECT * FROM webhooks ORDER BY created_at, id")
            return [_webhook(r) for r in cur.all()]

    def get_webhook(self, webhook_id: str) -> Webhook | None:
        with self.db.transaction() as cur:
            cur.execute("SELECT * FROM webhooks WHERE id = ?", (webhook_id,))
            row = cur.one()
            return _webhook(row) if row else None

    def delete_webhook(self, webhook_id: str) -> bool:
        with self.db.transaction() as cur:
            cur.execute("DELETE FROM webhook_deliveries WHERE webhook_id = ?", (webhook_id,))
            cur.execute("DELETE FROM webhooks WHERE id = ?", (webhook_id,))
            return cur.rowcount > 0

    def _emit(self, cur: Cursor, event: str, data: dict[str, object], now: float) -> None:
        """Queue `event` for every endpoint that wants it, in the caller's transaction."""
        cur.execute("SELECT id, events FROM webhooks")
        for row in cur.all():
            if event not in json.loads(row["events"]):
                continue
            delivery_id = uuid.uuid4().hex
            cur.execute(
                "INSERT INTO webhook_deliveries (id, webhook_id, event, body, status, attempts,"
                " next_attempt_at, created_at) VALUES (?, ?, ?, ?, 'pending', 0, ?, ?)",
                (
                    delivery_id,
                    row["id"],
                    event,
                    event_body(delivery_id, event, now, data),
                    now,
                    now,
                ),
            )

    def claim_deliveries(self, lease_s: float, limit: int = 20) -> list[tuple[Delivery, Webhook]]:
        """Due deliveries, each leased to the caller for `lease_s` (not claimed again meanwhile)."""
        now = self.clock()
        with self.db.transaction() as cur:
            cur.execute(
                "SELECT d.* FROM webhook_deliveries d WHERE d.status = 'pending'"
                " AND d.next_attempt_at <= ? ORDER BY d.next_attempt_at LIMIT ?"
                + self._skip_locked_deliveries,
                (now, limit),
            )
            due = [_delivery(r) for r in cur.all()]
            claimed = []
            for delivery in due:
                cur.execute(
                    "UPDATE webhook_deliveries SET next_attempt_at = ? WHERE id = ?"
                    " AND next_attempt_at = ?",
                    (now + lease_s, delivery.id, delivery.next_attempt_at),
                )
                if cur.rowcount != 1:
                    continue
                cur.execute("SELECT * FROM webhooks WHERE id = ?", (delivery.webhook_id,))
                row = cur.one()
                if row is not None:
                    claimed.append((delivery, _webhook(row)))
            return claimed

    def record_delivery(
        self,
        delivery_id: str,
        *,
        status_code: int | None,
        error: str | None,
        retry_at: float | None,
    ) -> None:
        """One attempt's outcome: delivered (a 2xx), due again at `retry_at`, or given up
        (`retry_at` None after a failure)."""
        now = self.clock()
        delivered = status_code is not None and 200 <= status_code < 300
        status = "delivered" if delivered else ("pending" if retry_at is not None else "failed")
        with self.db.transaction() as cur:
            cur.execute(
                "UPDATE webhook_deliveries SET status = ?, attempts = attempts + 1,"
                " next_attempt_at = ?, last_status = ?, last_error = ?, delivered_at = ?"
                " WHERE id = ?",
                (
                    status,
                    retry_at if retry_at is not None else now,
                    status_code,
                    None if delivered else (error or f"answered {status_code}")[:500],
                    now if delivered else None,
                    delivery_id,
                ),
            )

    def deliveries(self, webhook_id: str, limit: int = DELIVERIES_KEPT) -> list[Delivery]:
        """An endpoint's latest deliveries, newest first."""
        with self.db.transaction() as cur:
            cur.execute(
                "SELECT * FROM webhook_deliveries WHERE webhook_id = ?"
                " ORDER BY created_at DESC, id LIMIT ?",
                (webhook_id, limit),
            )
            return [_delivery(r) for r in cur.all()]

    def prune_deliveries(self, before: float) -> int:
        """Drop finished deliveries created before `before` (the janitor's)."""
        with self.db.transaction() as cur:
            cur.execute(
                "DELETE FROM webhook_deliveries WHERE status <> 'pending' AND created_at < ?",
                (before,),
            )
            return cur.rowcount
