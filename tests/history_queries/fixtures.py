"""Seeded Postgres databases: the seed is written once into a template, each test gets a copy.

`seeded_url` is a fresh `CREATE DATABASE ... TEMPLATE` copy of the seeded database, so
tests may write (feedback, digests) without seeing each other's changes; tests that only
read use `seeded_readonly_url`, the template itself behind read-only transactions.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass

import psycopg
import pytest
from sqlalchemy.pool import NullPool

from bot.history.db import make_engine, session_factory, upgrade_database
from tests.conftest import PG_ADMIN_DSN, PG_URL_TEMPLATE
from tests.history_queries.seed import Seeded, seed_history


@dataclass(frozen=True)
class SeedTemplate:
    database: str
    seeded: Seeded


@pytest.fixture(scope="session")
def seed_template() -> Iterator[SeedTemplate]:
    """A Postgres database of its own, migrated and seeded; only ever copied.

    Not the shared `pg_url` database: other tests wipe that one between tests, and a
    template must have no other connections while it is copied.
    """
    name = f"reviewbot_seed_{secrets.token_hex(5)}"
    try:
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True, connect_timeout=5) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL is required at {PG_ADMIN_DSN}: {exc}")
    url = PG_URL_TEMPLATE.format(name=name)
    try:
        upgrade_database(url)
        engine = make_engine(url, poolclass=NullPool)
        try:
            with session_factory(engine)() as session:
                seeded = seed_history(session)
                session.commit()
        finally:
            engine.dispose()
        yield SeedTemplate(name, seeded)
    finally:
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def seeded_url(seed_template: SeedTemplate) -> Iterator[str]:
    """URL of a private copy of the seeded database, dropped after the test."""
    name = f"reviewbot_seeded_{secrets.token_hex(5)}"
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{seed_template.database}"')
    try:
        yield PG_URL_TEMPLATE.format(name=name)
    finally:
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def seeded(seed_template: SeedTemplate) -> Seeded:
    return seed_template.seeded


READ_ONLY = "?options=-c%20default_transaction_read_only%3Don"


@pytest.fixture
def seeded_readonly_url(seed_template: SeedTemplate) -> str:
    """URL of the seeded template itself, every transaction read-only (no copy to make).

    For tests that only read: a write fails instead of leaking into other tests. Their
    engines must be disposed at the end of the test (the template is copied later).
    """
    return PG_URL_TEMPLATE.format(name=seed_template.database) + READ_ONLY
