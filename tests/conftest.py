"""Shared fixtures: real git repositories, a real Postgres database, the fixtures in ../shared."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.pool import NullPool

from bot.history.db import make_engine
from tests.gitbuilder import GitRepo

REPO_ROOT = Path(__file__).resolve().parents[1]

def _shared_dir() -> Path:
    """The project's shared folder (published fixtures, reference): beside the checkout,
    where the team keeps it, or wherever REVIEWBOT_SHARED_DIR says (a clone elsewhere)."""
    candidates = [os.environ.get("REVIEWBOT_SHARED_DIR"), REPO_ROOT.parent / "shared",
                  "/work/shared"]
    for candidate in candidates:
        if candidate and (Path(candidate) / "fixtures").is_dir():
            return Path(candidate)
    return REPO_ROOT.parent / "shared"


SHARED = _shared_dir()
FIXTURES = SHARED / "fixtures"


@pytest.fixture
def git_repo(tmp_path: Path) -> GitRepo:
    """An empty real git repository on branch main."""
    return GitRepo(tmp_path / "repo")


@pytest.fixture
def make_repo(tmp_path: Path) -> Callable[[str], GitRepo]:
    """Factory for several independent repositories in one test."""

    def make(name: str) -> GitRepo:
        return GitRepo(tmp_path / name)

    return make


@pytest.fixture(scope="session")
def shared_fixtures() -> Path:
    if not FIXTURES.is_dir():
        pytest.fail(f"the published fixtures are missing: expected {FIXTURES}")
    return FIXTURES


PG_ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/test"
PG_URL_TEMPLATE = "postgresql+psycopg://postgres@127.0.0.1:5432/{name}"


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """SQLAlchemy URL of a new, empty Postgres database, dropped after the session."""
    name = f"reviewbot_test_{secrets.token_hex(6)}"
    try:
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True, connect_timeout=5) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL is required at {PG_ADMIN_DSN}: {exc}")
    try:
        yield PG_URL_TEMPLATE.format(name=name)
    finally:
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _empty_postgres(url: str) -> None:
    engine = make_engine(url, poolclass=NullPool)
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql("DROP SCHEMA public CASCADE")
            connection.exec_driver_sql("CREATE SCHEMA public")
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """URL of an empty database, once per backend: a new SQLite file, or Postgres wiped clean."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'data' / 'history.sqlite3'}"
    url: str = request.getfixturevalue("pg_url")
    _empty_postgres(url)
    return url


pytest_plugins = ["tests.standin.fixtures", "tests.forgestandin.fixtures",
                  "tests.history_queries.fixtures", "tests.realvllm.fixtures"]
