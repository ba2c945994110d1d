"""A real `celery worker` process (solo pool) on the test Redis runs the enqueued jobs."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy.orm import Session, sessionmaker

from bot.events.outcomes import Priority, ReviewJob
from bot.history.db import session_scope
from bot.history.deliveries import find_delivery, record_delivery
from bot.history.enums import DeliveryStatus, Forge, RunTrigger
from bot.jobs import JobContext
from bot.webhooks.queueing import CeleryJobQueue, celery_producer
from taskqueue.tasks import review_pull_request
from tests.conftest import REPO_ROOT
from tests.webhooks.conftest import REDIS_URL, Broker, make_settings

WAIT_S = 30.0


def job(delivery_id: str, priority: Priority = Priority.REVIEW) -> ReviewJob:
    return ReviewJob(forge=Forge.GITHUB, repo="Codertocat/Hello-World", number=2,
                     head_sha="ec26c3e57ca3a959ca5aad62de7213c562f8c821",
                     trigger=RunTrigger.OPENED, delivery_id=delivery_id, installation_id=1,
                     priority=priority)


def record(sessions: sessionmaker[Session], delivery_id: str) -> None:
    with session_scope(sessions) as session:
        record_delivery(session, Forge.GITHUB, delivery_id, "pull_request", "opened")


def status_of(sessions: sessionmaker[Session], delivery_id: str) -> DeliveryStatus | None:
    with sessions() as session:
        delivery = find_delivery(session, Forge.GITHUB, delivery_id)
        return delivery.status if delivery else None


def test_the_task_body_is_a_plain_function(sqlite_url: str,
                                           sessions: sessionmaker[Session]) -> None:
    record(sessions, "plain-1")
    context = JobContext(settings=make_settings(sqlite_url), sessions=sessions)
    review_pull_request(context, **job("plain-1").task_kwargs())
    assert status_of(sessions, "plain-1") is DeliveryStatus.COMPLETED


Worker = Callable[[], subprocess.Popen[bytes]]


@pytest.fixture
def start_worker(sqlite_url: str, broker: Broker) -> Iterator[Worker]:
    processes: list[subprocess.Popen[bytes]] = []
    env = {**os.environ, "REVIEWBOT_DATABASE_URL": sqlite_url, "REVIEWBOT_BROKER_URL": REDIS_URL}

    def start() -> subprocess.Popen[bytes]:
        process = subprocess.Popen(
            [sys.executable, "-m", "taskqueue.worker", "worker", "--pool", "solo",
             "--queues", "interactive,review,digest", "--loglevel", "WARNING",
             "--without-heartbeat", "--without-mingle", "--without-gossip"],
            cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        processes.append(process)
        return process

    yield start
    for process in processes:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout:
            process.stdout.close()


def wait_for(predicate: Callable[[], bool], process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + WAIT_S
    while not predicate():
        if process.poll() is not None:
            output = process.stdout.read().decode() if process.stdout else ""
            pytest.fail(f"the worker exited ({process.returncode}): {output}")
        if time.monotonic() > deadline:
            pytest.fail(f"the worker did not finish the jobs within {WAIT_S} s")
        time.sleep(0.1)


def test_worker_runs_queued_jobs_interactive_first(
    sqlite_url: str, sessions: sessionmaker[Session], broker: Broker, start_worker: Worker
) -> None:
    queue = CeleryJobQueue(celery_producer(make_settings(sqlite_url)))
    reviews = [f"review-{index}" for index in range(3)]
    for delivery_id in reviews:
        record(sessions, delivery_id)
        queue.enqueue(job(delivery_id))
    commands = ["command-1", "command-2"]
    for delivery_id in commands:  # enqueued last
        record(sessions, delivery_id)
        queue.enqueue(job(delivery_id, Priority.INTERACTIVE))
    assert broker.total() == 5

    worker = start_worker()
    everything = [*reviews, *commands]
    wait_for(lambda: all(status_of(sessions, d) is DeliveryStatus.COMPLETED
                         for d in everything), worker)
    assert broker.total() == 0
    with sessions() as session:
        finished = {d: find_delivery(session, Forge.GITHUB, d) for d in everything}
        order = sorted(everything, key=lambda d: finished[d].updated_at)  # type: ignore[union-attr]
        attempts = {d: finished[d].attempts for d in everything}  # type: ignore[union-attr]
    assert set(order[:2]) == set(commands)  # strict priority, not round robin
    assert attempts == dict.fromkeys(everything, 1)
