"""The edge's one seam to the broker: publish a job to its queue, or say the broker is down.

The web process never imports the worker code: it publishes by task name through a
producer-only Celery app (`celery_producer`), so `bot` does not depend on `taskqueue`;
`taskqueue.app` extends `producer_config` with the worker settings. Broker errors become
`QueueUnavailable`, a `TransientError`.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from celery import Celery
from kombu.entity import Queue
from kombu.exceptions import KombuError, OperationalError
from redis.exceptions import RedisError

from bot.events.outcomes import ReviewJob
from bot.settings import Settings
from reviewers.errors import TransientError

log = logging.getLogger(__name__)

# Contract with taskqueue.tasks: the worker registers its shims under these names.
REVIEW_TASK = "reviewbot.review_pull_request"
DIGEST_TASK = "reviewbot.send_digest"

QUEUE_INTERACTIVE = "interactive"
QUEUE_REVIEW = "review"
QUEUE_DIGEST = "digest"
QUEUES = (QUEUE_INTERACTIVE, QUEUE_REVIEW, QUEUE_DIGEST)  # consumption priority order

_BROKER_ERRORS = (OperationalError, KombuError, RedisError, OSError)

# The edge must fail fast (503) rather than hang on a dead broker.
PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.2,
                        "interval_max": 0.5}


def producer_config(settings: Settings) -> dict[str, Any]:
    """What publisher and workers must agree on: broker, queues, routes, serialisation."""
    return {
        "broker_url": settings.broker_url,
        "broker_connection_retry_on_startup": True,
        "broker_connection_timeout": 4,
        "broker_transport_options": {
            "visibility_timeout": settings.broker_visibility_timeout_s,
            "queue_order_strategy": "priority",  # consume in the order of `task_queues`
            "socket_connect_timeout": 3,
        },
        "task_queues": tuple(
            Queue(name, routing_key=name) for name in QUEUES  # type: ignore[no-untyped-call]
        ),
        "task_default_queue": QUEUE_REVIEW,
        "task_routes": {REVIEW_TASK: {"queue": QUEUE_REVIEW}, DIGEST_TASK: {"queue": QUEUE_DIGEST}},
        "task_serializer": "json",
        "accept_content": ["json"],
        "task_ignore_result": True,
        "task_publish_retry_policy": PUBLISH_RETRY_POLICY,
        "enable_utc": True,
        "timezone": "UTC",
    }


def celery_producer(settings: Settings) -> Celery:
    """A Celery app that only publishes (no tasks registered); connects lazily."""
    app = Celery("reviewbot-edge", set_as_current=False)
    app.conf.update(producer_config(settings))
    return app


class QueueUnavailable(TransientError):
    """The broker refused or could not be reached; nothing was enqueued."""


class JobQueue(Protocol):
    """What the edge needs from the queue."""

    def enqueue(self, job: ReviewJob) -> None: ...

    def ping(self) -> None: ...


class CeleryJobQueue:
    """Publishes `ReviewJob`s through a Celery app (JSON keyword arguments, ids only)."""

    def __init__(self, celery_app: Any) -> None:
        self._app = celery_app

    def enqueue(self, job: ReviewJob) -> None:
        try:
            self._app.send_task(REVIEW_TASK, kwargs=job.task_kwargs(), queue=job.priority.value)
        except _BROKER_ERRORS as exc:
            raise QueueUnavailable(f"could not publish the job: {exc}") from exc

    def ping(self) -> None:
        """Open (or reuse) a broker connection, failing fast."""
        try:
            with self._app.connection_for_write() as connection:
                connection.ensure_connection(max_retries=1, interval_start=0, interval_step=0.2,
                                             timeout=2)
        except _BROKER_ERRORS as exc:
            raise QueueUnavailable(f"broker unreachable: {exc}") from exc
