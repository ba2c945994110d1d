"""The Celery app factory: Redis broker, three queues by priority, at-least-once delivery.

Queues are consumed strictly in the order `interactive` > `review` > `digest`. A job is
acknowledged only after it finished (`acks_late`) and is redelivered when its worker dies
(`task_reject_on_worker_lost`, and Redis' visibility timeout, which must exceed the hard
time limit or a slow job would run twice). Jobs raising the project's `TransientError`
are retried with exponential backoff and jitter.
"""

from __future__ import annotations

from typing import Any

from celery import Celery

from bot.settings import Settings
from bot.webhooks.queueing import producer_config
from reviewers.errors import ConfigError
from taskqueue.digest import beat_schedule, register_digest_tasks
from taskqueue.tasks import register_tasks


def celery_config(settings: Settings) -> dict[str, Any]:
    """The worker's Celery configuration; refuses inconsistent time limits."""
    soft, hard = settings.job_soft_time_limit_s, settings.job_time_limit_s
    visibility = settings.broker_visibility_timeout_s
    if not 0 < soft < hard:
        raise ConfigError(f"job_soft_time_limit_s ({soft}) must be below job_time_limit_s ({hard})")
    if visibility <= hard:
        raise ConfigError(
            f"broker_visibility_timeout_s ({visibility}) must exceed job_time_limit_s ({hard}),"
            " or a long job is redelivered while it still runs"
        )
    return {
        **producer_config(settings),
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "task_acks_on_failure_or_timeout": True,
        "worker_prefetch_multiplier": 1,
        "worker_cancel_long_running_tasks_on_connection_loss": True,
        "worker_hijack_root_logger": False,
        "task_soft_time_limit": soft,
        "task_time_limit": hard,
        "task_annotations": {"*": {"max_retries": settings.job_max_retries}},
        # Beat's crontab is read in this zone (messages stay in UTC: enable_utc).
        "timezone": settings.digest_timezone,
        "beat_schedule": beat_schedule(settings),
    }


def create_celery_app(settings: Settings) -> Celery:
    """A configured Celery app with the task shims of `taskqueue.tasks` registered."""
    app = Celery("reviewbot", set_as_current=False)
    app.conf.update(celery_config(settings))
    register_tasks(app, settings)
    register_digest_tasks(app, settings)
    return app
