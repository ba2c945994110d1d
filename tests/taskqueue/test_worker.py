"""A real `celery worker` process (solo pool) on the test Redis runs the enqueued jobs: real
reviews of a PR on the GitHub stand-in, interactive jobs first."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

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
from tests.forgestandin.fixtures import AppKey
from tests.forgestandin.github import GitHubStandin
from tests.gitbuilder import GitRepo
from tests.webhooks.conftest import REDIS_URL, Broker, make_settings

WAIT_S = 30.0


REPO = "Codertocat/Hello-World"


def job(delivery_id: str, priority: Priority = Priority.REVIEW,
        head_sha: str = "ec26c3e57ca3a959ca5aad62de7213c562f8c821") -> ReviewJob:
    return ReviewJob(forge=Forge.GITHUB, repo=REPO, number=2, head_sha=head_sha,
                     trigger=RunTrigger.OPENED, delivery_id=delivery_id, installation_id=1,
                     priority=priority)


@pytest.fixture
def pull(github_standin: GitHubStandin, git_repo: GitRepo) -> str:
    """PR #2 of Codertocat/Hello-World on the GitHub stand-in; returns its head sha."""
    git_repo.commit("base", {"hello.py": "print('hello')\n"})
    git_repo.branch("feature")
    head = git_repo.commit("greet", {"hello.py": "print('hello, world')\n"})
    git_repo.checkout("main")
    github_standin.add_repo(REPO, git_repo.root)
    github_standin.add_pull(REPO, 2)
    return head


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
    with sessions() as session:
        delivery = find_delivery(session, Forge.GITHUB, "plain-1")
        assert delivery is not None
        # a worker without GitHub credentials says so instead of dropping the delivery
        assert delivery.status is DeliveryStatus.FAILED
        assert "REVIEWBOT_GITHUB_" in (delivery.last_error or "")


Worker = Callable[[], subprocess.Popen[bytes]]


@pytest.fixture
def start_worker(sqlite_url: str, broker: Broker, github_standin: GitHubStandin,
                 github_app_key: AppKey, tmp_path: Path) -> Iterator[Worker]:
    processes: list[subprocess.Popen[bytes]] = []
    env = {**os.environ, "REVIEWBOT_DATABASE_URL": sqlite_url, "REVIEWBOT_BROKER_URL": REDIS_URL,
           "REVIEWBOT_GITHUB_APP_ID": "4242",
           "REVIEWBOT_GITHUB_PRIVATE_KEY": github_app_key.private_pem,
           "REVIEWBOT_GITHUB_API_URL": github_standin.base_url,
           "REVIEWBOT_MIRROR_DIR": str(tmp_path / "mirrors"),
           "REVIEWBOT_ENGINE_URLS": ""}

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
    sqlite_url: str, sessions: sessionmaker[Session], broker: Broker, start_worker: Worker,
    pull: str, github_standin: GitHubStandin
) -> None:
    queue = CeleryJobQueue(celery_producer(make_settings(sqlite_url)))
    reviews = [f"review-{index}" for index in range(3)]
    for delivery_id in reviews:
        record(sessions, delivery_id)
        queue.enqueue(job(delivery_id, head_sha=pull))
    commands = ["command-1", "command-2"]
    for delivery_id in commands:  # enqueued last
        record(sessions, delivery_id)
        queue.enqueue(job(delivery_id, Priority.INTERACTIVE, head_sha=pull))
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
    # five deliveries of one head: one review and one check, the rest found it done
    state = github_standin.repos[REPO]
    assert len(state.check_runs) == 1
    assert [c["conclusion"] for c in state.check_runs.values()] == ["success"]
