"""The Celery app factory: delivery guarantees, limits, routes and the retry policy."""

from __future__ import annotations

import pytest

from bot.webhooks.queueing import QUEUES, REVIEW_TASK
from reviewers.errors import ConfigError
from taskqueue.app import create_celery_app
from taskqueue.tasks import RETRY_BACKOFF_MAX_S, retry_countdown
from tests.webhooks.conftest import make_settings


def test_at_least_once_delivery_and_limits() -> None:
    settings = make_settings("sqlite://", job_soft_time_limit_s=100, job_time_limit_s=120,
                             broker_visibility_timeout_s=300, job_max_retries=3)
    app = create_celery_app(settings)
    conf = app.conf
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1
    assert (conf.task_soft_time_limit, conf.task_time_limit) == (100, 120)
    assert conf.broker_transport_options["visibility_timeout"] == 300
    assert [queue.name for queue in conf.task_queues] == list(QUEUES)
    assert app.amqp.router.route({}, REVIEW_TASK)["queue"].name == "review"
    task = app.tasks[REVIEW_TASK]
    assert task.max_retries == 3


def test_transient_failures_back_off_exponentially_never_at_once() -> None:
    lowest = [retry_countdown(n, draw=lambda low, high: low) for n in range(7)]
    highest = [retry_countdown(n, draw=lambda low, high: high) for n in range(7)]
    assert lowest[:5] == [5.0, 10.0, 20.0, 40.0, 80.0]  # never "retry in 0 s"
    assert highest[:5] == [10.0, 20.0, 40.0, 80.0, 160.0]
    assert highest[-1] == RETRY_BACKOFF_MAX_S
    assert sum(lowest[:5]) >= 150  # five retries outlast a database or forge restart


@pytest.mark.parametrize(("soft", "hard", "visibility"), [
    (100, 120, 120),  # a job at its hard limit would be redelivered while still running
    (100, 120, 60),
    (120, 120, 300),  # soft limit must leave time to clean up
])
def test_inconsistent_limits_are_refused(soft: int, hard: int, visibility: int) -> None:
    settings = make_settings("sqlite://", job_soft_time_limit_s=soft, job_time_limit_s=hard,
                             broker_visibility_timeout_s=visibility)
    with pytest.raises(ConfigError):
        create_celery_app(settings)
