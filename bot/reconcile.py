"""The reconciler: deliveries recorded but never completed are published to the queue again.

At-least-once needs a sweeper. A delivery can be stranded three ways: recorded while the
broker was down (still ACCEPTED: the edge answered 503 and GitHub does not redeliver by
itself), its message lost with a Redis that restarted without persistence (ENQUEUED), or
its worker killed with the message gone too (PROCESSING). Each delivery row keeps the task
kwargs of its jobs, so the same jobs are published again; posting is idempotent, so a job
that was merely slow costs a repeated review run, never a second comment. A delivery that
keeps failing is given up after `max_attempts` worker attempts and marked FAILED, and
`on_give_up` (the composition root wires it to a neutral check) says so on the PR.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, sessionmaker

from bot.events.outcomes import ReviewJob
from bot.forges.base import Forge
from bot.history.db import session_scope
from bot.history.deliveries import update_delivery
from bot.history.enums import DeliveryStatus
from bot.history.enums import Forge as ForgeName
from bot.history.models import WebhookDelivery
from bot.history.schema import utcnow
from bot.posting import CHECK_NAME, sanitize
from bot.settings import Settings
from bot.webhooks.queueing import JobQueue, QueueUnavailable
from reviewers.errors import ReviewbotError

log = logging.getLogger(__name__)

GiveUp = Callable[[ReviewJob, str], None]


@dataclass(frozen=True)
class ReconcilePolicy:
    """How long a delivery may sit in each state before it counts as stranded."""

    accepted_after: timedelta = timedelta(minutes=2)  # never reached the queue
    stalled_after: timedelta = timedelta(hours=1, minutes=50)  # enqueued/processing, no news
    max_attempts: int = 5
    batch: int = 500

    @classmethod
    def from_settings(cls, settings: Settings) -> ReconcilePolicy:
        """A job may legitimately wait for redelivery up to the visibility timeout plus
        its hard time limit; only past that is it stranded."""
        stalled = settings.broker_visibility_timeout_s + settings.job_time_limit_s
        return cls(stalled_after=timedelta(seconds=stalled),
                   max_attempts=settings.job_max_retries + 1)


@dataclass
class ReconcileReport:
    """Delivery ids by what the sweep did with them."""

    requeued: list[str] = field(default_factory=list)
    given_up: list[str] = field(default_factory=list)
    unrecoverable: list[str] = field(default_factory=list)  # recorded before jobs were kept
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"requeued": self.requeued, "given_up": self.given_up,
                "unrecoverable": self.unrecoverable, "error": self.error}


def neutral_check_on_give_up(forges: Mapping[ForgeName, Forge]) -> GiveUp:
    """Tell the PR: a neutral check on its head saying the review was given up, and why."""

    def give_up(job: ReviewJob, reason: str) -> None:
        forge = forges.get(job.forge)
        if forge is None:
            log.error("reconcile.no_forge", extra={"delivery_id": job.delivery_id})
            return
        try:
            head = job.head_sha or forge.get_pull_request(job.repo, job.number).head_sha
            check = forge.start_check(job.repo, head, CHECK_NAME)
            forge.complete_check(
                job.repo, check, head, "neutral", "Review could not run",
                f"reviewbot gave up on this change: {sanitize(reason)}\n\n"
                "Comment `/review` to try again.", [])
        except ReviewbotError as exc:  # the forge may be the part that is down
            log.error("reconcile.check_failed", extra={"delivery_id": job.delivery_id,
                                                       "error_type": type(exc).__name__})

    return give_up


def stranded(session: Session, policy: ReconcilePolicy, now: datetime
             ) -> list[WebhookDelivery]:
    """Deliveries stuck before completion longer than the policy allows (locked, oldest
    first; concurrent reconcilers skip each other's rows on Postgres)."""
    query = (select(WebhookDelivery)
             .where(or_(
                 (WebhookDelivery.status == DeliveryStatus.ACCEPTED)
                 & (WebhookDelivery.updated_at < now - policy.accepted_after),
                 WebhookDelivery.status.in_([DeliveryStatus.ENQUEUED,
                                             DeliveryStatus.PROCESSING])
                 & (WebhookDelivery.updated_at < now - policy.stalled_after)))
             .order_by(WebhookDelivery.received_at)
             .limit(policy.batch)
             .with_for_update(skip_locked=True))
    return list(session.scalars(query))


def reconcile(sessions: sessionmaker[Session], queue: JobQueue,
              policy: ReconcilePolicy | None = None, *, on_give_up: GiveUp | None = None,
              clock: Callable[[], datetime] = utcnow, dry_run: bool = False
              ) -> ReconcileReport:
    """One sweep: publish the jobs of stranded deliveries again, give up on exhausted ones."""
    policy = policy or ReconcilePolicy()
    report = ReconcileReport()
    now = clock()
    with session_scope(sessions) as session:
        for delivery in stranded(session, policy, now):
            fields = {"delivery_id": delivery.delivery_id, "status": delivery.status.value,
                      "attempts": delivery.attempts}
            jobs = [ReviewJob.from_task_kwargs(kwargs) for kwargs in delivery.jobs or []]
            if not jobs:
                report.unrecoverable.append(delivery.delivery_id)
                if not dry_run:
                    update_delivery(delivery, DeliveryStatus.FAILED,
                                    error="stranded and its jobs were not recorded")
                continue
            if delivery.attempts >= policy.max_attempts:
                reason = (f"gave up after {delivery.attempts} attempts; last error: "
                          f"{delivery.last_error or 'none recorded'}")
                report.given_up.append(delivery.delivery_id)
                if not dry_run:
                    update_delivery(delivery, DeliveryStatus.FAILED, error=reason)
                    for job in jobs:
                        if on_give_up is not None:
                            on_give_up(job, reason)
                log.warning("reconcile.given_up", extra=fields)
                continue
            if not dry_run:
                try:
                    for job in jobs:
                        queue.enqueue(job)
                except QueueUnavailable as exc:
                    report.error = f"broker unavailable: {type(exc).__name__}"
                    log.error("reconcile.enqueue_failed", extra=fields)
                    break
                update_delivery(delivery, DeliveryStatus.ENQUEUED)
                delivery.updated_at = now  # the stall clock restarts from this publish
            report.requeued.append(delivery.delivery_id)
            log.info("reconcile.requeued", extra={**fields, "jobs": len(jobs)})
    return report
