"""The reconciler over the real edge, Postgres and Redis: stranded deliveries come back.

Deliveries are created the way production creates them (signed requests through the app);
the broker is made unreachable for some of them, and the sweep runs with a clock moved on.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.events.outcomes import ReviewJob
from bot.history.db import session_scope
from bot.history.enums import DeliveryStatus
from bot.history.models import WebhookDelivery
from bot.history.schema import utcnow
from bot.reconcile import ReconcilePolicy, reconcile
from bot.settings import Settings
from bot.webhooks.app import create_app
from bot.webhooks.queueing import REVIEW_TASK, CeleryJobQueue, celery_producer
from bot.webhooks.signature import github_signature
from tests.conftest import FIXTURES
from tests.hostile.conftest import HOSTILE_REDIS_URL, QueueProbe

pytestmark = pytest.mark.postgres

SECRET = "reconcile-test-webhook-secret"
DEAD_BROKER = "redis://127.0.0.1:9/0"  # discard port: nothing listens
OPENED = json.loads((FIXTURES / "github/pull_request/opened.payload.json").read_bytes())


def _settings(url: str, broker: str) -> Settings:
    return Settings(database_url=url, broker_url=broker,
                    github_webhook_secret=SecretStr(SECRET))


def _deliver(client: TestClient, number: int) -> tuple[str, int]:
    payload = {**OPENED, "pull_request": {**OPENED["pull_request"], "number": number}}
    body = json.dumps(payload).encode()
    delivery = str(uuid.uuid4())
    response = client.post("/webhooks/github", content=body, headers={
        "X-GitHub-Event": "pull_request", "X-GitHub-Delivery": delivery,
        "X-Hub-Signature-256": github_signature(SECRET, body),
        "Content-Type": "application/json"})
    return delivery, response.status_code


def _status(sessions: sessionmaker[Session]) -> dict[str, DeliveryStatus]:
    with sessions() as session:
        return {d.delivery_id: d.status for d in session.scalars(select(WebhookDelivery))}


def _queued_numbers(probe: QueueProbe) -> list[int]:
    import base64

    numbers = []
    for raw in probe.client.lrange("review", 0, -1):
        message = json.loads(raw)
        assert message["headers"]["task"] == REVIEW_TASK
        _, kwargs, _ = json.loads(base64.b64decode(message["body"]))
        numbers.append(int(kwargs["number"]))
    return sorted(numbers)


def test_stranded_deliveries_are_published_again_once_and_exhausted_ones_given_up(
        pg_url: str, pg_sessions: sessionmaker[Session], queue_probe: QueueProbe) -> None:
    healthy = _settings(pg_url, HOSTILE_REDIS_URL)
    queue = CeleryJobQueue(celery_producer(healthy))
    dead = _settings(pg_url, DEAD_BROKER)
    with TestClient(create_app(dead, sessions=pg_sessions,
                               job_queue=CeleryJobQueue(celery_producer(dead)))) as broken:
        lost_at_edge, refused = _deliver(broken, 101)
    with TestClient(create_app(healthy, sessions=pg_sessions, job_queue=queue)) as edge:
        lost_in_redis, _ = _deliver(edge, 102)
        died_in_worker, _ = _deliver(edge, 103)
        exhausted, _ = _deliver(edge, 104)
        finished, _ = _deliver(edge, 105)
        fresh, _ = _deliver(edge, 106)
    assert refused == 503
    queue_probe.client.flushdb()  # Redis restarted without persistence: every message gone
    with session_scope(pg_sessions) as session:
        rows = {d.delivery_id: d for d in session.scalars(select(WebhookDelivery))}
        rows[died_in_worker].status, rows[died_in_worker].attempts = DeliveryStatus.PROCESSING, 1
        rows[exhausted].status, rows[exhausted].attempts = DeliveryStatus.PROCESSING, 6
        rows[exhausted].last_error = "worker lost"
        rows[finished].status = DeliveryStatus.COMPLETED
    given_up: list[tuple[ReviewJob, str]] = []
    policy = ReconcilePolicy(accepted_after=timedelta(minutes=2),
                             stalled_after=timedelta(hours=1), max_attempts=6)
    later = utcnow() + timedelta(hours=2)

    def clock() -> datetime:
        return later

    with session_scope(pg_sessions) as session:  # the fresh one just arrived
        session.scalars(select(WebhookDelivery).where(
            WebhookDelivery.delivery_id == fresh)).one().updated_at = later

    report = reconcile(pg_sessions, queue, policy, clock=clock,
                       on_give_up=lambda job, why: given_up.append((job, why)))
    again = reconcile(pg_sessions, queue, policy, clock=clock)

    assert sorted(report.requeued) == sorted([lost_at_edge, lost_in_redis, died_in_worker])
    assert report.given_up == [exhausted]
    assert [(job.number, "worker lost" in why) for job, why in given_up] == [(104, True)]
    assert _queued_numbers(queue_probe) == [101, 102, 103]
    statuses = _status(pg_sessions)
    assert statuses[exhausted] is DeliveryStatus.FAILED
    assert statuses[finished] is DeliveryStatus.COMPLETED
    assert statuses[fresh] is DeliveryStatus.ENQUEUED
    assert all(statuses[d] is DeliveryStatus.ENQUEUED
               for d in (lost_at_edge, lost_in_redis, died_in_worker))
    assert (again.requeued, again.given_up) == ([], [])


def test_a_sweep_with_the_broker_down_changes_nothing(
        pg_url: str, pg_sessions: sessionmaker[Session], queue_probe: QueueProbe) -> None:
    dead = _settings(pg_url, DEAD_BROKER)
    with TestClient(create_app(dead, sessions=pg_sessions,
                               job_queue=CeleryJobQueue(celery_producer(dead)))) as broken:
        delivery, _ = _deliver(broken, 201)

    report = reconcile(pg_sessions, CeleryJobQueue(celery_producer(dead)),
                       clock=lambda: utcnow() + timedelta(hours=1))

    assert report.requeued == []
    assert report.error is not None
    assert _status(pg_sessions)[delivery] is DeliveryStatus.ACCEPTED
