"""Digest fixtures: sessions on a seeded Postgres copy, settings, a chat-webhook receiver."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy.orm import Session, sessionmaker

from bot.history.db import make_engine, session_factory
from bot.settings import Settings
from tests.forgestandin.fixtures import AppKey
from tests.forgestandin.server import Reply, Request, StandinServer

CHAT_PATH = "/services/T000/B000/chat-secret-token"


@pytest.fixture
def sessions(seeded_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(seeded_url)
    try:
        yield session_factory(engine)
    finally:
        engine.dispose()


@pytest.fixture
def reader(seeded_readonly_url: str) -> Iterator[sessionmaker[Session]]:
    """Read-only sessions on the seeded template, for tests that only compute."""
    engine = make_engine(seeded_readonly_url)
    try:
        yield session_factory(engine)
    finally:
        engine.dispose()


@dataclass
class ChatReceiver:
    """A loopback Slack-style incoming webhook that records what it was sent."""

    server: StandinServer
    status: int = 200
    received: list[Any] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"{self.server.base_url}{CHAT_PATH}"


@pytest.fixture
def chat() -> Iterator[ChatReceiver]:
    receiver = ChatReceiver(StandinServer())

    def post(request: Request) -> Reply:
        receiver.received.append(request.json())
        return Reply(receiver.status, b"ok" if receiver.status < 400 else b"invalid_payload")

    receiver.server.route("POST", CHAT_PATH, post)
    receiver.server.start()
    try:
        yield receiver
    finally:
        receiver.server.stop()


def digest_settings(database_url: str, **overrides: Any) -> Settings:
    """Settings as an operator would write them, with round GPU rates for hand-computed figures."""
    values: dict[str, Any] = {
        "database_url": database_url, "digest_timezone": "UTC",
        "gpu_prefill_tokens_per_s": 1000.0, "gpu_decode_tokens_per_s": 100.0,
        "digest_to_issue": True, "dashboard_url": "https://bot.example/dashboard",
        **overrides,
    }
    return Settings(**values)


def github_settings(database_url: str, api_url: str, key: AppKey, **overrides: Any
                    ) -> Settings:
    return digest_settings(database_url, github_app_id="4242",
                           github_private_key=SecretStr(key.private_pem),
                           github_api_url=api_url, **overrides)
