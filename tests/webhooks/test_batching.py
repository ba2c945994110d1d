"""Deliveries recorded in batches: each once, in few transactions, failing fast together.

The edge hands routed deliveries to one writer thread (`BatchingIntake`), which records
whatever arrived while it was busy in one transaction. Real database (SQLite and
PostgreSQL), real Redis; the queues below are real Celery publishers with a counter or a
gate added, never stand-ins for the broker.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections import Counter
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

from bot.events import github_router
from bot.events.outcomes import ReviewJob
from bot.history.db import make_engine, session_factory
from bot.history.enums import DeliveryStatus, Forge
from bot.history.installations import find_installation
from bot.webhooks.app import create_app
from bot.webhooks.batcher import BatchingIntake
from bot.webhooks.intake import Delivery, DeliveryIntake, IntakeResult, IntakeStatus
from bot.webhooks.queueing import CeleryJobQueue, QueueUnavailable, celery_producer
from bot.webhooks.routing import HandlerContext, WebhookEvent
from tests.webhooks.conftest import (
    Broker,
    deliveries,
    github_headers,
    github_payload,
    make_settings,
)

OPENED = github_payload("pull_request", "opened.payload.json")
INSTALLED = github_payload("installation", "created.payload.json")


class CountingQueue(CeleryJobQueue):
    """The real publisher, counting publish attempts."""

    def __init__(self, celery_app: Any) -> None:
        super().__init__(celery_app)
        self.attempts = 0

    def enqueue(self, job: ReviewJob) -> None:
        self.attempts += 1
        super().enqueue(job)


class GatedQueue(CeleryJobQueue):
    """The real publisher, whose first publish waits until `release` is set."""

    def __init__(self, celery_app: Any) -> None:
        super().__init__(celery_app)
        self.release = threading.Event()
        self._first = True

    def enqueue(self, job: ReviewJob) -> None:
        if self._first:
            self._first = False
            assert self.release.wait(timeout=30), "the test never released the first batch"
        super().enqueue(job)


def routed(body: bytes, event_name: str, delivery_id: str) -> Delivery:
    payload = json.loads(body)
    event = WebhookEvent(forge=Forge.GITHUB, event=event_name, action=payload.get("action"),
                         delivery_id=delivery_id, payload=payload)
    return Delivery(event, github_router().dispatch(event, HandlerContext()), body)


async def test_a_burst_is_recorded_in_two_transactions_each_delivery_once(
    database_url: str, broker: Broker
) -> None:
    """While the writer is busy with the first delivery the rest queue up; they are then
    recorded together, and a delivery id sent twice in the burst is enqueued once."""
    engine = make_engine(database_url)
    checkouts = Counter[str]()
    event.listen(engine, "checkout", lambda *_: checkouts.update(["checkout"]))
    sessions = session_factory(engine)
    settings = make_settings(database_url)
    queue = GatedQueue(celery_producer(settings))
    app = create_app(settings, sessions=sessions, job_queue=queue)
    intake: BatchingIntake = app.state.edge.intake
    ids = [f"burst-{n}" for n in range(24)]
    # The first is sent alone, then again in the burst; seven ids come twice in the burst.
    sends = [*ids, *ids[:8]]
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://edge") as http:

            async def send(delivery: str) -> tuple[str, int]:
                response = await http.post(
                    "/webhooks/github", content=OPENED,
                    headers=github_headers("pull_request", OPENED, delivery=delivery))
                return delivery, response.status_code

            first = asyncio.create_task(send(sends[0]))
            while checkouts["checkout"] == 0:  # the writer took the first delivery
                await asyncio.sleep(0.01)
            rest = [asyncio.create_task(send(delivery)) for delivery in sends[1:]]
            for _ in range(3000):
                if intake.waiting == len(rest):
                    break
                await asyncio.sleep(0.01)
            queue.release.set()
            answers = await asyncio.gather(first, *rest)
        transactions = checkouts["checkout"]
    finally:
        queue.release.set()
        engine.dispose()
    statuses: dict[str, list[int]] = {}
    for delivery, status in answers:
        statuses.setdefault(delivery, []).append(status)
    assert statuses["burst-0"] == [202, 200]
    assert all(sorted(statuses[delivery]) == [200, 202] for delivery in ids[1:8])
    assert all(statuses[delivery] == [202] for delivery in ids[8:])
    published = [message["kwargs"]["delivery_id"] for message in broker.messages("review")]
    assert sorted(published) == sorted(ids)
    rows = deliveries(sessions)
    assert sorted(row.delivery_id for row in rows) == sorted(ids)
    assert {row.status for row in rows} == {DeliveryStatus.ENQUEUED}
    assert transactions == 2  # one connection use per batch, not one per delivery


def test_a_broker_outage_fails_the_batch_after_one_publish_attempt(
    sessions: sessionmaker[Session], broker: Broker
) -> None:
    """The rest of a batch does not wait out the publish retries one by one (a batch of
    64 would pass GitHub's 10 s); every delivery stays ACCEPTED for a redelivery."""
    queue = CountingQueue(celery_producer(make_settings("sqlite://",
                                                        broker_url="redis://127.0.0.1:1/0")))
    intake = DeliveryIntake(sessions, queue)
    batch = [routed(OPENED, "pull_request", f"outage-{n}") for n in range(5)]
    results = intake.accept_batch(batch)
    assert all(isinstance(result, QueueUnavailable) for result in results)
    assert queue.attempts == 1
    rows = deliveries(sessions)
    assert len(rows) == 5
    assert {row.status for row in rows} == {DeliveryStatus.ACCEPTED}
    assert broker.total() == 0


def test_bookkeeping_and_repeats_in_one_batch(
    sessions: sessionmaker[Session], broker: Broker
) -> None:
    """An installation delivery is recorded in its own transaction beside the reviews; a
    delivery id that comes twice in one batch is accepted once and answered duplicate."""
    queue = CeleryJobQueue(celery_producer(make_settings("sqlite://")))
    intake = DeliveryIntake(sessions, queue)
    results = intake.accept_batch([
        routed(OPENED, "pull_request", "mixed-1"),
        routed(INSTALLED, "installation", "mixed-2"),
        routed(OPENED, "pull_request", "mixed-1"),
    ])
    assert results == [IntakeResult(IntakeStatus.ACCEPTED, 1),
                       IntakeResult(IntakeStatus.ACCEPTED, 0),
                       IntakeResult(IntakeStatus.DUPLICATE, 0)]
    with sessions() as session:
        installation = find_installation(session, Forge.GITHUB, "957387")
        assert installation is not None
    statuses = {row.delivery_id: row.status for row in deliveries(sessions)}
    assert statuses == {"mixed-1": DeliveryStatus.ENQUEUED, "mixed-2": DeliveryStatus.COMPLETED}
    assert len(broker.messages("review")) == 1


async def test_after_shutdown_deliveries_are_refused_with_503(
    sessions: sessionmaker[Session], broker: Broker
) -> None:
    """The app's lifespan stops the writer; a delivery arriving after it is not lost in a
    queue nobody reads: it is answered 503 and the forge can redeliver it."""
    settings = make_settings("sqlite://")
    app = create_app(settings, sessions=sessions,
                     job_queue=CeleryJobQueue(celery_producer(settings)))
    with TestClient(app) as running:
        before = running.post("/webhooks/github", content=OPENED,
                              headers=github_headers("pull_request", OPENED))
    assert before.status_code == 202
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://edge") as http:
        after = await http.post("/webhooks/github", content=OPENED,
                                headers=github_headers("pull_request", OPENED))
    assert (after.status_code, after.json()) == (503, {"error": "shutting_down"})
    assert len(deliveries(sessions)) == 1
    assert broker.total() == 1


@pytest.mark.parametrize("max_batch", [1, 3])
def test_batches_never_exceed_their_bound(
    sessions: sessionmaker[Session], broker: Broker, max_batch: int
) -> None:
    """Seven deliveries queued behind a busy writer go in batches of at most `max_batch`."""
    engine = sessions.kw["bind"]
    checkouts = Counter[str]()
    event.listen(engine, "checkout", lambda *_: checkouts.update(["checkout"]))
    queue = GatedQueue(celery_producer(make_settings("sqlite://")))
    intake = BatchingIntake(DeliveryIntake(sessions, queue), max_batch=max_batch)

    async def burst() -> list[IntakeResult]:
        first = asyncio.create_task(intake.accept(routed(OPENED, "pull_request", "bound-0")))
        while checkouts["checkout"] == 0:
            await asyncio.sleep(0.01)
        rest = [asyncio.create_task(intake.accept(routed(OPENED, "pull_request", f"bound-{n}")))
                for n in range(1, 7)]
        while intake.waiting < len(rest):
            await asyncio.sleep(0.01)
        queue.release.set()
        return await asyncio.gather(first, *rest)

    try:
        results = asyncio.run(asyncio.wait_for(burst(), timeout=60))
    finally:
        queue.release.set()
        intake.close()
    assert {result.status for result in results} == {IntakeStatus.ACCEPTED}
    assert checkouts["checkout"] == 1 + -(-6 // max_batch)
    assert len(broker.messages("review")) == 7
