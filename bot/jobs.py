"""Worker-side job functions: the plain code each Celery task shim calls.

SEAM — PLACEHOLDER BODY: `run_review_job` is the function `taskqueue.tasks` calls for every
`ReviewJob`. This minimal version only tracks the delivery (processing -> completed) so
the queue can be tested end to end; the lead replaces its body with the review pipeline
(forge, checkout, engine, posting) and extends `JobContext` / `build_job_context` with
those collaborators. Keep the two signatures.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from bot.events.outcomes import ReviewJob
from bot.history.db import make_engine, session_factory, session_scope
from bot.history.deliveries import find_delivery, update_delivery
from bot.history.enums import DeliveryStatus
from bot.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobContext:
    """The collaborators a job needs, built once per worker process."""

    settings: Settings
    sessions: sessionmaker[Session]


def build_job_context(settings: Settings) -> JobContext:
    """The worker's composition root for jobs (called lazily, in the worker process)."""
    engine = make_engine(settings.database_url)
    return JobContext(settings=settings, sessions=session_factory(engine))


def _set_delivery_status(context: JobContext, job: ReviewJob, status: DeliveryStatus,
                         *, attempt: bool = False) -> None:
    with session_scope(context.sessions) as session:
        delivery = find_delivery(session, job.forge, job.delivery_id)
        if delivery is not None:
            update_delivery(delivery, status, attempt=attempt)


def run_review_job(job: ReviewJob, context: JobContext) -> None:
    """Run one PR job. PLACEHOLDER: records the delivery as processing, then completed."""
    fields = {"delivery_id": job.delivery_id, "repo": job.repo, "pr": job.number,
              "trigger": job.trigger.value}
    log.info("job.started", extra=fields)
    _set_delivery_status(context, job, DeliveryStatus.PROCESSING, attempt=True)
    _set_delivery_status(context, job, DeliveryStatus.COMPLETED)
    log.info("job.finished", extra=fields)
