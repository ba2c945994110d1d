"""Fixtures for the webhook edge: real payloads as bytes, a real Redis broker, a real database.

The database is a migrated SQLite file per test (copied from one migrated template) or
the history helper's Postgres database; the broker is a dedicated Redis database number,
flushed before and after each test, whose queue lists the tests read directly.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from bot.history.db import make_engine, session_factory, upgrade_database
from bot.history.models import WebhookDelivery
from bot.settings import Settings
from bot.webhooks.app import create_app
from bot.webhooks.queueing import QUEUES, CeleryJobQueue, celery_producer
from bot.webhooks.signature import github_signature
from tests.conftest import FIXTURES, _empty_postgres

GITHUB_SECRET = "It's a Secret to Everybody"
GITLAB_SECRET = "gitlab-webhook-token-for-tests"
REDIS_URL = os.environ.get("REVIEWBOT_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def github_payload(event: str, name: str) -> bytes:
    """A recorded GitHub payload, byte for byte."""
    return (FIXTURES / "github" / event / name).read_bytes()


def gitlab_payload(name: str) -> bytes:
    return (FIXTURES / "gitlab" / name).read_bytes()


def pr_comment(body: str, *, name: str = "created.with-installation.payload.json",
               user: dict[str, Any] | None = None) -> bytes:
    """The recorded issue_comment payload made a PR comment (as GitHub sends for PRs)."""
    payload = json.loads(github_payload("issue_comment", name))
    number = payload["issue"]["number"]
    base = f"https://github.com/{payload['repository']['full_name']}/pull/{number}"
    payload["issue"]["pull_request"] = {
        "url": payload["issue"]["url"].replace("/issues/", "/pulls/"),
        "html_url": base, "diff_url": base + ".diff", "patch_url": base + ".patch",
    }
    payload["comment"]["body"] = body
    if user is not None:
        payload["comment"]["user"].update(user)
        payload["sender"].update(user)
    return json.dumps(payload).encode()


def github_headers(event: str, body: bytes, *, delivery: str | None = None,
                   secret: str = GITHUB_SECRET) -> dict[str, str]:
    return {
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
        "X-Hub-Signature-256": github_signature(secret, body),
        "Content-Type": "application/json",
    }


def gitlab_headers(event: str, *, key: str | None = None, token: str = GITLAB_SECRET
                   ) -> dict[str, str]:
    headers = {"X-Gitlab-Event": event, "X-Gitlab-Token": token,
               "Content-Type": "application/json"}
    if key is not None:
        headers["Idempotency-Key"] = key
    return headers


@dataclass
class Broker:
    """The test Redis database as the broker; reads the queues like an operator would."""

    url: str
    client: redis.Redis

    def messages(self, queue: str) -> list[dict[str, Any]]:
        """Celery messages waiting on `queue`, with the task name and decoded kwargs."""
        found = []
        for raw in self.client.lrange(queue, 0, -1):
            message = json.loads(raw)
            args, kwargs, _ = json.loads(base64.b64decode(message["body"]))
            found.append({"task": message["headers"]["task"], "args": args, "kwargs": kwargs})
        return found

    def total(self) -> int:
        return sum(int(self.client.llen(queue)) for queue in QUEUES)


@pytest.fixture
def broker() -> Iterator[Broker]:
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.flushdb()
    except redis.exceptions.ConnectionError as exc:
        pytest.fail(f"Redis is required at {REDIS_URL}: {exc}")
    yield Broker(REDIS_URL, client)
    client.flushdb()
    client.close()


@pytest.fixture(scope="session")
def migrated_sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "history.sqlite3"
    upgrade_database(f"sqlite:///{path}")
    return path


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path,
                 migrated_sqlite_template: Path) -> str:
    if request.param == "sqlite":
        target = tmp_path / "history.sqlite3"
        shutil.copyfile(migrated_sqlite_template, target)
        return f"sqlite:///{target}"
    url: str = request.getfixturevalue("pg_url")
    _empty_postgres(url)
    upgrade_database(url)
    return url


@pytest.fixture
def sqlite_url(tmp_path: Path, migrated_sqlite_template: Path) -> str:
    target = tmp_path / "history.sqlite3"
    shutil.copyfile(migrated_sqlite_template, target)
    return f"sqlite:///{target}"


@pytest.fixture
def history(sqlite_url: str) -> Iterator[Engine]:
    engine = make_engine(sqlite_url)
    yield engine
    engine.dispose()


def make_settings(database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "broker_url": REDIS_URL,
        "github_webhook_secret": SecretStr(GITHUB_SECRET),
        "gitlab_webhook_secret": SecretStr(GITLAB_SECRET),
        "gitlab_bot_username": "reviewbot",
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def sessions(history: Engine) -> sessionmaker[Session]:
    return session_factory(history)


AppFactory = Callable[..., FastAPI]


@pytest.fixture
def make_app(sqlite_url: str, sessions: sessionmaker[Session], broker: Broker) -> AppFactory:
    """Build the app on the test database and broker; keyword overrides go to Settings."""

    def build(*, broker_url: str = REDIS_URL, **overrides: Any) -> FastAPI:
        settings = make_settings(sqlite_url, broker_url=broker_url, **overrides)
        queue = CeleryJobQueue(celery_producer(settings))
        return create_app(settings, sessions=sessions, job_queue=queue)

    return build


@pytest.fixture
async def client(make_app: AppFactory) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=make_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://edge") as http:
        yield http


def deliveries(sessions: sessionmaker[Session]) -> list[WebhookDelivery]:
    with sessions() as session:
        return list(session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)))
