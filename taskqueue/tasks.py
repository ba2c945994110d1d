"""Celery task shims: unpack keyword-only ids, call the plain job function in `bot.jobs`.

The tasks are registered on the app passed to `register_tasks` (see `taskqueue.app`),
under the names the web edge publishes to (`bot.webhooks.queueing`). Their collaborators
(`bot.jobs.JobContext`) are built lazily, once per worker process, never at import time.
`TransientError` is retried with exponential backoff and jitter; a forge rate limit is
retried after the delay the forge asked for.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from typing import Any

from celery import Celery

from bot.errors import ForgeRateLimited
from bot.events.outcomes import ReviewJob
from bot.jobs import JobContext, build_job_context, run_review_job
from bot.logs import log_context
from bot.settings import Settings
from bot.webhooks.queueing import REVIEW_TASK
from reviewers.errors import TransientError

RETRY_BACKOFF_BASE_S = 10.0
RETRY_BACKOFF_MAX_S = 600.0


class LazyJobContext:
    """Builds the job context on first use in the process that runs the jobs."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._context: JobContext | None = None
        self._lock = threading.Lock()

    def get(self) -> JobContext:
        with self._lock:
            if self._context is None:
                self._context = build_job_context(self._settings)
            return self._context


def review_pull_request(
    context: JobContext,
    *,
    forge: str,
    repo: str,
    number: int,
    head_sha: str | None,
    trigger: str,
    delivery_id: str,
    final_attempt: bool = False,
    **optional: Any,
) -> None:
    """The body of the review task: rebuild the `ReviewJob` and run it."""
    job = ReviewJob.from_task_kwargs({
        "forge": forge, "repo": repo, "number": number, "head_sha": head_sha,
        "trigger": trigger, "delivery_id": delivery_id, **optional,
    })
    # Every log line of the job carries these; the job adds run_id (`update_log_context`).
    with log_context(delivery_id=delivery_id, repo=repo, pr=number, run_id=None):
        run_review_job(job, context, final_attempt=final_attempt)


def retry_countdown(retries: int, *, base_s: float = RETRY_BACKOFF_BASE_S,
                    draw: Callable[[float, float], float] = random.uniform) -> float:
    """Seconds before retry number `retries + 1`: exponential from `base_s`, capped, with
    jitter over the upper half only.

    Celery's own `retry_jitter` draws from zero up, so several retries can follow each other
    at once and use up the budget within a second of a database restart or a forge outage.
    The default budget (5 retries) spans about 2.5 to 5 minutes.
    """
    ceiling = min(RETRY_BACKOFF_MAX_S, base_s * 2 ** max(retries, 0))
    return draw(ceiling / 2, ceiling)


def register_tasks(app: Celery, settings: Settings) -> None:
    """Register the task shims on `app`."""
    contexts = LazyJobContext(settings)

    @app.task(name=REVIEW_TASK, bind=True)  # type: ignore[untyped-decorator]
    def review_task(self: Any, **kwargs: Any) -> None:
        try:
            final = self.request.retries >= (self.max_retries or 0)
            review_pull_request(contexts.get(), final_attempt=final, **kwargs)
        except ForgeRateLimited as exc:
            raise self.retry(exc=exc, countdown=max(1.0, exc.retry_after)) from exc
        except TransientError as exc:
            countdown = retry_countdown(self.request.retries, base_s=settings.job_retry_base_s)
            raise self.retry(exc=exc, countdown=countdown) from exc
