"""Fixtures for the hostile-input suite: the real edge on a migrated Postgres database and a
dedicated Redis database number (12), so the queue it publishes to can be read exactly."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import redis
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.history.db import make_engine, session_factory, upgrade_database
from bot.history.models import WebhookDelivery
from bot.webhooks.queueing import QUEUES
from tests.conftest import _empty_postgres

HOSTILE_REDIS_URL = os.environ.get("REVIEWBOT_HOSTILE_REDIS_URL", "redis://127.0.0.1:6379/12")


class QueueProbe:
    """Counts what sits on the broker's queues (the edge only ever publishes)."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client

    def total(self) -> int:
        return sum(int(self.client.llen(queue)) for queue in QUEUES)


@pytest.fixture
def queue_probe() -> Iterator[QueueProbe]:
    client = redis.Redis.from_url(HOSTILE_REDIS_URL)
    try:
        client.flushdb()
    except redis.exceptions.ConnectionError as exc:
        pytest.fail(f"Redis is required at {HOSTILE_REDIS_URL}: {exc}")
    yield QueueProbe(client)
    client.flushdb()
    client.close()


@pytest.fixture
def migrated_pg(pg_url: str) -> Iterator[Engine]:
    """The session's Postgres database, emptied and migrated for this test."""
    _empty_postgres(pg_url)
    upgrade_database(pg_url)
    engine = make_engine(pg_url)
    yield engine
    engine.dispose()


@pytest.fixture
def pg_sessions(migrated_pg: Engine) -> sessionmaker[Session]:
    return session_factory(migrated_pg)


def delivery_count(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return int(session.scalar(select(func.count()).select_from(WebhookDelivery)) or 0)
