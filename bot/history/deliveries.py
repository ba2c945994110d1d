"""Webhook deliveries: record each once, race-free, and track it through processing.

The unique `(forge, delivery_id)` constraint decides which of two concurrent receivers
of the same delivery wins; the loser sees `is_new=False` and must not enqueue it again.
Only a SHA-256 of the payload is kept, never the payload (it may quote code or names).
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.history.enums import DeliveryStatus, Forge
from bot.history.models import ReviewRun, WebhookDelivery
from bot.history.schema import utcnow
from bot.history.store import insert_or_get


def find_delivery(session: Session, forge: Forge, delivery_id: str) -> WebhookDelivery | None:
    return session.scalars(select(WebhookDelivery).where(
        WebhookDelivery.forge == Forge(forge),
        WebhookDelivery.delivery_id == delivery_id)).one_or_none()


def record_delivery(session: Session, forge: Forge, delivery_id: str, event: str,
                    action: str | None = None, *, repository_full_name: str | None = None,
                    pr_number: int | None = None, payload: bytes | None = None,
                    now: datetime | None = None, jobs: list[dict[str, Any]] | None = None,
                    ) -> tuple[WebhookDelivery, bool]:
    """Record a delivery as ACCEPTED; `(delivery, False)` if that id was recorded before.

    The insert runs in a SAVEPOINT, so a duplicate leaves the caller's transaction usable.
    Commit before acknowledging: a concurrent receiver of the same id then blocks on the
    unique index until this commit and sees the duplicate.
    """
    forge = Forge(forge)
    delivery = WebhookDelivery(
        forge=forge, delivery_id=delivery_id, event=event, action=action,
        status=DeliveryStatus.ACCEPTED, repository_full_name=repository_full_name,
        pr_number=pr_number, attempts=0, received_at=now or utcnow(),
        payload_sha256=hashlib.sha256(payload).hexdigest() if payload is not None else None,
        jobs=jobs,
    )
    return insert_or_get(session, delivery,
                         lambda: find_delivery(session, forge, delivery_id))


def update_delivery(delivery: WebhookDelivery, status: DeliveryStatus, *,
                    error: str | None = None, run: ReviewRun | None = None,
                    attempt: bool = False) -> None:
    """Move a delivery on (enqueued, processing, completed, failed...).

    `attempt=True` counts a processing attempt; `error` is kept as `last_error`; `run`
    links the review run the delivery produced.
    """
    delivery.status = status
    if attempt:
        delivery.attempts += 1
    if error is not None:
        delivery.last_error = error
    if run is not None:
        run.delivery_id = delivery.id
