"""A real Celery worker with a prefork pool exports its children's metrics on its own port.

The job runs in a child process; its forge call (to a closed port: the forge is down) is
counted there and must show up at the parent's exporter, merged through
PROMETHEUS_MULTIPROC_DIR. Slow: it starts a worker process.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis

from bot.events.outcomes import ReviewJob
from bot.history.db import make_engine, session_factory, session_scope, upgrade_database
from bot.history.deliveries import record_delivery
from bot.history.enums import Forge, RunTrigger
from bot.webhooks.queueing import CeleryJobQueue, celery_producer
from tests.conftest import REPO_ROOT
from tests.forgestandin.fixtures import AppKey
from tests.ops.conftest import OPS_REDIS_URL, value
from tests.webhooks.conftest import make_settings

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture
def worker(tmp_path: Path, ops_redis: redis.Redis, github_app_key: AppKey
           ) -> Iterator[tuple[int, str]]:
    database = f"sqlite:///{tmp_path / 'history.sqlite3'}"
    upgrade_database(database)
    multiproc = tmp_path / "prom"
    multiproc.mkdir()
    (multiproc / "counter_999999.db").write_bytes(b"stale")  # a previous run's leftovers
    port = free_port()
    env = {**os.environ, "REVIEWBOT_DATABASE_URL": database, "REVIEWBOT_BROKER_URL": OPS_REDIS_URL,
           "REVIEWBOT_GITHUB_APP_ID": "4242",
           "REVIEWBOT_GITHUB_PRIVATE_KEY": github_app_key.private_pem,
           "REVIEWBOT_GITHUB_API_URL": f"http://127.0.0.1:{free_port()}",
           "REVIEWBOT_MIRROR_DIR": str(tmp_path / "mirrors"), "REVIEWBOT_ENGINE_URLS": "",
           "REVIEWBOT_METRICS_PORT": str(port), "REVIEWBOT_JOB_MAX_RETRIES": "0",
           "PROMETHEUS_MULTIPROC_DIR": str(multiproc)}
    log = (tmp_path / "worker.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "taskqueue.worker", "worker", "--pool", "prefork",
         "--concurrency", "2", "--queues", "interactive,review,digest", "--loglevel", "WARNING",
         "--without-heartbeat", "--without-mingle", "--without-gossip"],
        cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        yield port, database
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def scrape(port: int, deadline: float) -> str:
    while True:
        try:
            return httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_prefork_children_metrics_reach_the_parents_exporter(worker: tuple[int, str]) -> None:
    port, database = worker
    deadline = time.monotonic() + 60
    first = scrape(port, deadline)  # the exporter is up before any job ran
    assert value(first, "reviewbot_forge_api_calls_total", forge="github",
                 outcome="unavailable") == 0
    settings = make_settings(database, broker_url=OPS_REDIS_URL)
    engine = make_engine(database)
    with session_scope(session_factory(engine)) as session:
        record_delivery(session, Forge.GITHUB, "metrics-1", "pull_request", "opened")
    engine.dispose()
    CeleryJobQueue(celery_producer(settings)).enqueue(ReviewJob(
        forge=Forge.GITHUB, repo="acme/widgets", number=1, head_sha="a" * 40,
        trigger=RunTrigger.OPENED, delivery_id="metrics-1", installation_id=1))
    while True:
        text = scrape(port, deadline)
        if value(text, "reviewbot_forge_api_calls_total", forge="github",
                 outcome="unavailable") >= 1:
            break
        assert time.monotonic() < deadline, text[-2000:]
        time.sleep(0.3)
