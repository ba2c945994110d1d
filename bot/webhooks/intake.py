"""Accept a routed delivery: record it once, apply bookkeeping, enqueue its jobs, mark it.

Order matters and is the at-least-once contract: the delivery row is committed as
ACCEPTED *before* anything is enqueued, then moved to ENQUEUED. A broker failure leaves it
ACCEPTED (the edge answers 503; the forge's redelivery or the reconciler picks it up). A
repeated delivery id enqueues nothing, except when the first attempt never reached the
queue (still ACCEPTED after a grace period): then the redelivery is what retries it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker

from bot.errors import HistoryError
from bot.events.outcomes import (
    FeedbackUpdate,
    InstallationAction,
    InstallationUpdate,
    Outcome,
    ReviewJob,
)
from bot.history import installations
from bot.history.db import translate_errors
from bot.history.deliveries import (
    claim_deliveries,
    delivery_row,
    find_delivery,
    mark_enqueued,
)
from bot.history.enums import DeliveryStatus, Forge
from bot.history.feedback import feedback_findings, record_thread_resolved
from bot.history.models import WebhookDelivery
from bot.history.schema import utcnow
from bot.webhooks.queueing import JobQueue, QueueUnavailable
from bot.webhooks.routing import WebhookEvent

log = logging.getLogger(__name__)

DEFAULT_REDELIVERY_GRACE = timedelta(seconds=30)


class IntakeStatus(StrEnum):
    ACCEPTED = "accepted"  # recorded, jobs enqueued (or bookkeeping applied)
    DUPLICATE = "duplicate"  # seen before; nothing enqueued
    REQUEUED = "requeued"  # seen before but never enqueued; enqueued now


@dataclass(frozen=True)
class IntakeResult:
    status: IntakeStatus
    jobs: int


def apply_installation_update(session: Session, update: InstallationUpdate) -> None:
    """Reflect an installation webhook in the installations/repositories tables."""
    external_id = str(update.installation_id)
    added = [(str(ref.external_id), ref.full_name) for ref in update.repositories_added]
    removed = [(str(ref.external_id), ref.full_name) for ref in update.repositories_removed]
    if update.action is InstallationAction.DELETED:
        installations.uninstall(session, update.forge, external_id)
        return
    if update.action in (InstallationAction.SUSPENDED, InstallationAction.UNSUSPENDED):
        installations.set_suspended(session, update.forge, external_id, update.account,
                                    update.action is InstallationAction.SUSPENDED)
        return
    created = update.action is InstallationAction.CREATED
    installation = installations.install(session, update.forge, external_id, update.account,
                                         added, suspended=False if created else None)
    installations.detach_repositories(session, installation, removed)


def apply_feedback_update(session: Session, update: FeedbackUpdate) -> int:
    """A resolved thread settles its findings; returns how many were found in history."""
    findings = feedback_findings(session, update.forge, update.repo, update.number,
                                 update.fingerprints)
    for finding in findings:
        record_thread_resolved(session, finding)
    return len(findings)


def _apply_bookkeeping(connection: Connection,
                       updates: Sequence[InstallationUpdate | FeedbackUpdate]) -> None:
    """Installation and feedback updates, in the delivery's own transaction."""
    if not updates:
        return
    with Session(bind=connection) as session:
        for update in updates:
            if isinstance(update, InstallationUpdate):
                apply_installation_update(session, update)
            else:
                apply_feedback_update(session, update)
        session.flush()


def _summary(outcomes: Sequence[Outcome]) -> tuple[str | None, int | None]:
    for outcome in outcomes:
        if isinstance(outcome, ReviewJob | FeedbackUpdate):
            return outcome.repo, outcome.number
    accounts = [outcome.account for outcome in outcomes if isinstance(outcome, InstallationUpdate)]
    return (accounts[0] if accounts else None), None


@dataclass(frozen=True)
class Delivery:
    """A routed delivery waiting to be recorded: its event, what handlers made of it, body."""

    event: WebhookEvent
    outcomes: Sequence[Outcome]
    body: bytes

    @property
    def jobs(self) -> list[ReviewJob]:
        return [outcome for outcome in self.outcomes if isinstance(outcome, ReviewJob)]

    @property
    def bookkeeping(self) -> list[InstallationUpdate | FeedbackUpdate]:
        return [outcome for outcome in self.outcomes
                if isinstance(outcome, InstallationUpdate | FeedbackUpdate)]

    @property
    def key(self) -> tuple[Forge, str]:
        return Forge(self.event.forge), self.event.delivery_id

    def row(self) -> dict[str, Any]:
        repo, number = _summary(self.outcomes)
        jobs = self.jobs
        return delivery_row(
            self.event.forge, self.event.delivery_id, self.event.event, self.event.action,
            repository_full_name=repo, pr_number=number, payload=self.body,
            jobs=[job.task_kwargs() for job in jobs] or None,
            status=DeliveryStatus.ACCEPTED if jobs else DeliveryStatus.COMPLETED)


# What accepting a delivery came to: a result, or the error the edge answers 503.
Accepted = IntakeResult | QueueUnavailable | HistoryError


class DeliveryIntake:
    """The record -> enqueue -> mark sequence, over a session factory and a job queue.

    `accept_batch` takes many deliveries at once: one transaction records them all, one
    marks them enqueued, both on one pooled connection. The edge's throughput is bounded
    by this path, so it runs SQLAlchemy Core statements and opens an ORM session only for
    the rare bookkeeping (installations, resolved threads) and for repeated ids. A delivery
    with bookkeeping is recorded in a transaction of its own, so its failure is its own.
    """

    def __init__(self, sessions: sessionmaker[Session], queue: JobQueue, *,
                 redelivery_grace: timedelta = DEFAULT_REDELIVERY_GRACE,
                 clock: Callable[[], datetime] = utcnow) -> None:
        bind = sessions.kw.get("bind")
        if not isinstance(bind, Engine):
            raise TypeError("the delivery intake needs a session factory bound to an Engine")
        self._engine = bind
        self._queue = queue
        self._grace = redelivery_grace
        self._clock = clock

    def accept_batch(self, deliveries: Sequence[Delivery]) -> list[Accepted]:
        """Record and enqueue each delivery: its result or error, in the same order."""
        results: list[Accepted | None] = [None] * len(deliveries)
        plain = [index for index, delivery in enumerate(deliveries) if not delivery.bookkeeping]
        groups = [plain] if plain else []
        groups += [[index] for index, delivery in enumerate(deliveries) if delivery.bookkeeping]
        for group in groups:
            try:
                answers = self._accept_group([deliveries[i] for i in group])
            except Exception as exc:  # one group's bug must not sink the others' answers
                log.exception("webhook.intake_failed")
                answers = [HistoryError(f"recording failed: {type(exc).__name__}")] * len(group)
            for index, result in zip(group, answers, strict=True):
                results[index] = result
        answered = [result for result in results if result is not None]
        if len(answered) != len(deliveries):
            raise RuntimeError("a delivery of the batch was left without an answer")
        return answered

    def _accept_group(self, group: Sequence[Delivery]) -> list[Accepted]:
        outcome: list[Accepted] | None = None
        try:
            with translate_errors("history"), self._engine.connect() as connection:
                with connection.begin():
                    claims = self._claim(connection, group)
                outcome, published = self._publish(group, claims)
                with connection.begin():
                    mark_enqueued(connection, published)
        except HistoryError as exc:
            if outcome is None:  # nothing was recorded
                return [exc] * len(group)
            # Published but not marked: the rows stay ACCEPTED for the reconciler; the edge
            # still says 503 rather than claim a delivery it could not finish recording.
            return [exc if isinstance(result, IntakeResult) and result.jobs else result
                    for result in outcome]
        return outcome

    def _claim(self, connection: Connection, group: Sequence[Delivery]
               ) -> list[tuple[IntakeStatus, int | None]]:
        """Insert the group's rows; each delivery's status and the key to enqueue under."""
        first = {delivery.key: delivery for delivery in reversed(group)}  # first of a repeat
        claimed = claim_deliveries(connection, [delivery.row() for delivery in first.values()])
        claims: list[tuple[IntakeStatus, int | None]] = []
        for delivery in group:
            key = claimed.pop(delivery.key, None)
            if key is not None:
                _apply_bookkeeping(connection, delivery.bookkeeping)
                claims.append((IntakeStatus.ACCEPTED, key))
                continue
            key = self._repeated(connection, delivery.event, requeue=bool(delivery.jobs))
            claims.append((IntakeStatus.DUPLICATE, None) if key is None
                          else (IntakeStatus.REQUEUED, key))
        return claims

    def _publish(self, group: Sequence[Delivery], claims: list[tuple[IntakeStatus, int | None]]
                 ) -> tuple[list[Accepted], list[int]]:
        """Enqueue the jobs of the claimed deliveries. Once the broker failed, the rest of
        the group fails at once rather than each waiting out the publish retries."""
        outcome: list[Accepted] = []
        published: list[int] = []
        broker_down: QueueUnavailable | None = None
        for delivery, (status, key) in zip(group, claims, strict=True):
            jobs = delivery.jobs if status is not IntakeStatus.DUPLICATE else []
            if not jobs or key is None:
                outcome.append(IntakeResult(status, 0))
                continue
            if broker_down is not None:
                outcome.append(broker_down)
                continue
            try:
                for job in jobs:
                    self._queue.enqueue(job)
            except QueueUnavailable as exc:
                broker_down = exc
                outcome.append(exc)
                continue
            published.append(key)
            outcome.append(IntakeResult(status, len(jobs)))
        return outcome, published

    def _repeated(self, connection: Connection, event: WebhookEvent, *, requeue: bool
                  ) -> int | None:
        """A delivery id seen before: its key when its jobs should be enqueued now (it never
        reached the queue and the grace period is over), else None."""
        with Session(bind=connection) as session:
            delivery = find_delivery(session, event.forge, event.delivery_id)
            if delivery is None:
                raise HistoryError(f"delivery {event.delivery_id!r} clashed but was not found")
            return delivery.id if requeue and self._never_enqueued(delivery) else None

    def _never_enqueued(self, delivery: WebhookDelivery) -> bool:
        return (delivery.status is DeliveryStatus.ACCEPTED
                and self._clock() - delivery.received_at >= self._grace)
