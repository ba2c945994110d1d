"""Dashboard fixtures: the real app (webhooks + dashboard) over a seeded Postgres copy."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from bot.history.db import make_engine, session_factory
from bot.settings import Settings
from bot.webhooks.app import create_app
from bot.webhooks.queueing import CeleryJobQueue, celery_producer

OPERATOR_TOKEN = "op-token-4c1d8e0b9a7f"  # a test operator's token


def dashboard_settings(database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url, "digest_timezone": "UTC",
        "gpu_prefill_tokens_per_s": 1000.0, "gpu_decode_tokens_per_s": 100.0,
        "dashboard_tokens": [SecretStr(OPERATOR_TOKEN)],
        "broker_url": "redis://127.0.0.1:6379/9", **overrides,
    }
    return Settings(**values)


@pytest.fixture
def client(seeded_url: str) -> Iterator[TestClient]:
    """An HTTP client on the app, not signed in, following no redirects."""
    settings = dashboard_settings(seeded_url)
    engine = make_engine(seeded_url)
    app = create_app(settings, sessions=session_factory(engine),
                     job_queue=CeleryJobQueue(celery_producer(settings)))
    try:
        with TestClient(app, follow_redirects=False) as http:
            yield http
    finally:
        engine.dispose()
