"""Fixtures of the history-query tests: a seeded Postgres copy per test and a session on it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session

from bot.history.db import make_engine, session_factory


@pytest.fixture
def session(seeded_url: str) -> Iterator[Session]:
    engine = make_engine(seeded_url)
    try:
        with session_factory(engine)() as session:
            yield session
    finally:
        engine.dispose()
