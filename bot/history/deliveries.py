"""Webhook deliveries: record each once, race-free, and track it through processing.

The unique `(forge, delivery_id)` constraint decides which of two concurrent receivers
of the same delivery wins; the loser sees `is_new=False` and must not enqueue it again.
Only a SHA-256 of the payload is kept, never the payload (it may quote code or names).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, Executable, Table, bindparam, insert, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.errors import HistoryError
from bot.history.enums import DeliveryStatus, Forge
from bot.history.models import ReviewRun, WebhookDelivery
from bot.history.schema import utcnow

_TABLE = cast(Table, WebhookDelivery.__table__)
# Built once: SQLAlchemy caches their compiled form, so the edge pays only for execution.
_UPSERTS: dict[str, Executable] = {
    dialect.name: dialect_insert(_TABLE)
    .on_conflict_do_nothing(index_elements=["forge", "delivery_id"])
    .returning(_TABLE.c.id, _TABLE.c.forge, _TABLE.c.delivery_id)
    for dialect, dialect_insert in ((postgresql.dialect, postgresql.insert),
                                    (sqlite.dialect, sqlite.insert))
}
_ASYNC_COMMIT = text("SET LOCAL synchronous_commit TO OFF")


def find_delivery(session: Session, forge: Forge, delivery_id: str) -> WebhookDelivery | None:
    return session.scalars(select(WebhookDelivery).where(
        WebhookDelivery.forge == Forge(forge),
        WebhookDelivery.delivery_id == delivery_id)).one_or_none()


def delivery_row(forge: Forge, delivery_id: str, event: str, action: str | None = None, *,
                 repository_full_name: str | None = None, pr_number: int | None = None,
                 payload: bytes | None = None, now: datetime | None = None,
                 jobs: list[dict[str, Any]] | None = None,
                 status: DeliveryStatus = DeliveryStatus.ACCEPTED) -> dict[str, Any]:
    """The column values of a newly received delivery, for `claim_deliveries`."""
    received = now or utcnow()
    return {
        "forge": Forge(forge), "delivery_id": delivery_id, "event": event, "action": action,
        "status": status, "repository_full_name": repository_full_name,
        "pr_number": pr_number, "attempts": 0, "received_at": received,
        "updated_at": received, "last_error": None,
        "payload_sha256": hashlib.sha256(payload).hexdigest() if payload is not None else None,
        "jobs": jobs,
    }


def claim_deliveries(connection: Connection, rows: Sequence[dict[str, Any]]
                     ) -> dict[tuple[Forge, str], int]:
    """Insert the deliveries whose `(forge, delivery_id)` was not recorded before.

    Returns the new rows' keys by `(forge, delivery_id)`; an id missing from it was seen
    before. On PostgreSQL and SQLite all rows go in one `INSERT ... ON CONFLICT DO NOTHING
    RETURNING`, with no SAVEPOINT and no ORM unit of work: this is the webhook edge's hot
    path. The unique index decides a race: a concurrent receiver of the same id waits on
    it until this transaction ends, then does not get that id back. Rows must not repeat
    an id among themselves.
    """
    if not rows:
        return {}
    upsert = _UPSERTS.get(connection.dialect.name)
    if upsert is not None:
        result = connection.execute(upsert, list(rows))
        return {(Forge(forge), delivery_id): key for key, forge, delivery_id in result}
    claimed: dict[tuple[Forge, str], int] = {}
    for row in rows:  # another backend: a SAVEPOINT each keeps the transaction usable
        try:
            with connection.begin_nested():
                key = connection.execute(insert(_TABLE).returning(_TABLE.c.id), row)
                claimed[(Forge(row["forge"]), row["delivery_id"])] = int(key.scalar_one())
        except IntegrityError:
            continue
    return claimed


def record_delivery(session: Session, forge: Forge, delivery_id: str, event: str,
                    action: str | None = None, *, repository_full_name: str | None = None,
                    pr_number: int | None = None, payload: bytes | None = None,
                    now: datetime | None = None, jobs: list[dict[str, Any]] | None = None,
                    ) -> tuple[WebhookDelivery, bool]:
    """Record a delivery as ACCEPTED; `(delivery, False)` if that id was recorded before.

    A duplicate leaves the caller's transaction usable. Commit before acknowledging: a
    concurrent receiver of the same id then blocks on the unique index until this commit
    and sees the duplicate.
    """
    row = delivery_row(forge, delivery_id, event, action,
                       repository_full_name=repository_full_name, pr_number=pr_number,
                       payload=payload, now=now, jobs=jobs)
    key = claim_deliveries(session.connection(), [row]).get((Forge(forge), delivery_id))
    delivery = (session.get(WebhookDelivery, key) if key is not None
                else find_delivery(session, Forge(forge), delivery_id))
    if delivery is None:
        raise HistoryError(f"delivery {delivery_id!r} was neither inserted nor found")
    return delivery, key is not None


def mark_enqueued(connection: Connection, keys: Sequence[int]) -> int:
    """ACCEPTED -> ENQUEUED for the deliveries `keys`, unless a worker already moved them on.

    On PostgreSQL this transaction's commit does not wait for the WAL flush: were the mark
    lost in a crash, the delivery would stay ACCEPTED and the reconciler would publish its
    jobs again (jobs are idempotent), so the edge need not pay a second fsync per delivery.
    Returns how many rows moved.
    """
    if not keys:
        return 0
    if connection.dialect.name == "postgresql":
        connection.execute(_ASYNC_COMMIT)
    result = connection.execute(
        update(_TABLE)
        .where(_TABLE.c.id.in_(bindparam("keys", expanding=True)),
               _TABLE.c.status == DeliveryStatus.ACCEPTED)
        .values(status=DeliveryStatus.ENQUEUED, updated_at=bindparam("now")),
        {"keys": list(keys), "now": utcnow()})
    return int(result.rowcount)


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
