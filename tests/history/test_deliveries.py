"""Webhook deliveries are recorded once: a repeated id is detected, even by a racing receiver."""

from __future__ import annotations

import hashlib
import threading
import time

from sqlalchemy import Engine, func, select

from bot.history.db import session_factory
from bot.history.deliveries import find_delivery, record_delivery, update_delivery
from bot.history.enums import DeliveryStatus, Forge, RunStatus, RunTrigger
from bot.history.models import WebhookDelivery
from bot.history.store import finish_run, get_or_create_repository, start_run

PAYLOAD = b'{"action": "opened", "number": 7}'


def test_a_repeated_delivery_id_is_reported_as_seen(history_engine: Engine) -> None:
    factory = session_factory(history_engine)
    with factory() as session:
        delivery, is_new = record_delivery(
            session, Forge.GITHUB, "d-1", "pull_request", "opened",
            repository_full_name="acme/app", pr_number=7, payload=PAYLOAD)
        assert is_new
        assert delivery.status is DeliveryStatus.ACCEPTED
        session.commit()
    with factory() as session:
        again, is_new = record_delivery(session, Forge.GITHUB, "d-1", "pull_request", "opened")
        assert not is_new
        assert again.id == delivery.id
        assert again.payload_sha256 == hashlib.sha256(PAYLOAD).hexdigest()
        # the duplicate did not spoil the transaction; the same id on another forge is new
        _, other_forge_is_new = record_delivery(session, Forge.GITLAB, "d-1", "merge_request")
        assert other_forge_is_new
        session.commit()
        assert session.scalar(select(func.count()).select_from(WebhookDelivery)) == 2


def test_a_racing_receiver_of_the_same_delivery_loses(history_engine: Engine) -> None:
    factory = session_factory(history_engine)
    outcome: dict[str, object] = {}

    def second_receiver() -> None:
        with factory() as session:
            _, is_new = record_delivery(session, Forge.GITHUB, "race", "pull_request", "opened")
            session.commit()
            outcome["second_is_new"] = is_new

    with factory() as first:
        _, first_is_new = record_delivery(first, Forge.GITHUB, "race", "pull_request", "opened")
        racer = threading.Thread(target=second_receiver)
        racer.start()
        time.sleep(0.3)  # the racer is now waiting on our uncommitted row
        assert racer.is_alive()
        first.commit()
    racer.join(timeout=10)
    assert first_is_new
    assert outcome == {"second_is_new": False}


def test_delivery_progress_and_its_run(history_engine: Engine) -> None:
    with session_factory(history_engine)() as session:
        delivery, _ = record_delivery(session, Forge.GITHUB, "d-2", "pull_request", "opened")
        update_delivery(delivery, DeliveryStatus.ENQUEUED)
        update_delivery(delivery, DeliveryStatus.FAILED, attempt=True, error="broker down")
        repo = get_or_create_repository(session, Forge.GITHUB, "acme/app")
        run = start_run(session, repo, RunTrigger.OPENED, "a" * 40, "b" * 40, delivery=delivery)
        finish_run(session, run, RunStatus.COMPLETED)
        update_delivery(delivery, DeliveryStatus.COMPLETED, attempt=True)
        session.commit()
        session.expire_all()
        stored = find_delivery(session, Forge.GITHUB, "d-2")
        assert stored is not None
        assert (stored.status, stored.attempts, stored.last_error) == (
            DeliveryStatus.COMPLETED, 2, "broker down")
        assert [r.id for r in stored.runs] == [run.id]
