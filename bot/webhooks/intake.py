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

from sqlalchemy.orm import Session, sessionmaker

from bot.events.outcomes import (
    FeedbackUpdate,
    InstallationAction,
    InstallationUpdate,
    Outcome,
    ReviewJob,
)
from bot.history import installations
from bot.history.db import session_scope
from bot.history.deliveries import record_delivery, update_delivery
from bot.history.enums import DeliveryStatus
from bot.history.feedback import feedback_findings, record_thread_resolved
from bot.history.models import WebhookDelivery
from bot.history.schema import utcnow
from bot.webhooks.queueing import JobQueue
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


def _summary(outcomes: Sequence[Outcome]) -> tuple[str | None, int | None]:
    for outcome in outcomes:
        if isinstance(outcome, ReviewJob | FeedbackUpdate):
            return outcome.repo, outcome.number
    accounts = [outcome.account for outcome in outcomes if isinstance(outcome, InstallationUpdate)]
    return (accounts[0] if accounts else None), None


class DeliveryIntake:
    """The record -> enqueue -> mark sequence, over a session factory and a job queue."""

    def __init__(self, sessions: sessionmaker[Session], queue: JobQueue, *,
                 redelivery_grace: timedelta = DEFAULT_REDELIVERY_GRACE,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self._sessions = sessions
        self._queue = queue
        self._grace = redelivery_grace
        self._clock = clock

    def accept(self, event: WebhookEvent, outcomes: Sequence[Outcome], body: bytes
               ) -> IntakeResult:
        """Record and enqueue; raises QueueUnavailable or HistoryError (the edge says 503)."""
        jobs = [outcome for outcome in outcomes if isinstance(outcome, ReviewJob)]
        updates = [outcome for outcome in outcomes if isinstance(outcome, InstallationUpdate)]
        repo, number = _summary(outcomes)
        with session_scope(self._sessions) as session:
            delivery, is_new = record_delivery(
                session, event.forge, event.delivery_id, event.event, event.action,
                repository_full_name=repo, pr_number=number, payload=body,
                jobs=[job.task_kwargs() for job in jobs] or None)
            if not is_new:
                if not (jobs and self._never_enqueued(delivery)):
                    return IntakeResult(IntakeStatus.DUPLICATE, 0)
                status = IntakeStatus.REQUEUED
            else:
                status = IntakeStatus.ACCEPTED
                for update in updates:
                    apply_installation_update(session, update)
                for feedback in (o for o in outcomes if isinstance(o, FeedbackUpdate)):
                    apply_feedback_update(session, feedback)
                if not jobs:
                    update_delivery(delivery, DeliveryStatus.COMPLETED)
            delivery_pk = delivery.id
        if not jobs:
            return IntakeResult(status, 0)
        for job in jobs:
            self._queue.enqueue(job)
        self._mark_enqueued(delivery_pk)
        return IntakeResult(status, len(jobs))

    def _never_enqueued(self, delivery: WebhookDelivery) -> bool:
        return (delivery.status is DeliveryStatus.ACCEPTED
                and self._clock() - delivery.received_at >= self._grace)

    def _mark_enqueued(self, delivery_pk: int) -> None:
        """ACCEPTED -> ENQUEUED, unless a worker already moved it further on."""
        with session_scope(self._sessions) as session:
            delivery = session.get(WebhookDelivery, delivery_pk, with_for_update=True)
            if delivery is not None and delivery.status is DeliveryStatus.ACCEPTED:
                update_delivery(delivery, DeliveryStatus.ENQUEUED)
