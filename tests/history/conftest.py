"""Database fixtures of the history tests: `db_url` (tests/conftest.py) migrated, engine, session.

`pg_url`, `db_url` and `_empty_postgres` live in tests/conftest.py; the two names that
tests/webhooks/conftest.py imports from here are re-exported until it imports them from there.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from bot.history.db import make_engine, session_factory, upgrade_database
from tests.conftest import _empty_postgres, pg_url  # noqa: F401 - re-export


@pytest.fixture
def migrated_url(db_url: str) -> str:
    """`db_url` migrated to the newest revision."""
    upgrade_database(db_url)
    return db_url


@pytest.fixture
def history_engine(migrated_url: str) -> Iterator[Engine]:
    engine = make_engine(migrated_url)
    yield engine
    engine.dispose()


@pytest.fixture
def session(history_engine: Engine) -> Iterator[Session]:
    with session_factory(history_engine)() as session:
        yield session
