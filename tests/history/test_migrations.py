"""The Alembic migrations, run for real on SQLite and Postgres, match the models."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Column, Integer, MetaData, inspect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.pool import NullPool

from bot.errors import DatabaseUnavailable, HistoryError
from bot.history.db import (
    current_revision,
    downgrade_database,
    head_revision,
    make_engine,
    session_factory,
    session_scope,
    upgrade_database,
)
from bot.history.enums import Forge
from bot.history.models import Base, Repository
from bot.settings import get_settings
from reviewers.errors import TransientError

TABLES = {
    "installations", "repositories", "pull_requests", "review_runs", "engine_calls",
    "findings", "run_findings", "posted_comments", "generated_tests", "webhook_deliveries",
    "digests",
}


def _tables(url: str) -> set[str]:
    engine = make_engine(url, poolclass=NullPool)
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def _schema_diff(url: str, metadata: MetaData) -> list[object]:
    engine = make_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            return list(compare_metadata(context, metadata))
    finally:
        engine.dispose()


def test_upgrade_creates_every_table_at_head(db_url: str) -> None:
    assert _tables(db_url) == set()
    upgrade_database(db_url)
    assert _tables(db_url) == TABLES
    engine = make_engine(db_url)
    assert current_revision(engine) == head_revision() is not None
    engine.dispose()


def test_downgrade_to_base_then_upgrade_again(db_url: str) -> None:
    upgrade_database(db_url)
    downgrade_database(db_url, "base")
    assert _tables(db_url) == set()
    upgrade_database(db_url, "head")
    engine = make_engine(db_url)
    with session_scope(session_factory(engine)) as session:
        session.add(Repository(forge=Forge.GITHUB, full_name="acme/app", owner="acme",
                               name="app"))
    with session_scope(session_factory(engine)) as session:
        assert session.query(Repository).one().full_name == "acme/app"
    engine.dispose()


def test_migrated_schema_matches_the_models(migrated_url: str) -> None:
    assert _schema_diff(migrated_url, Base.metadata) == []
    # ...and the comparison does notice a model the migrations do not create.
    changed = MetaData(naming_convention=Base.metadata.naming_convention)
    for table in Base.metadata.sorted_tables:
        table.to_metadata(changed)
    changed.tables["findings"].append_column(Column("votes", Integer))
    diff = _schema_diff(migrated_url, changed)
    assert [(op[0], op[2], op[3].name) for op in diff] == [  # type: ignore[index]
        ("add_column", "findings", "votes")]


def test_check_constraints_refuse_values_outside_the_enums(migrated_url: str) -> None:
    engine = make_engine(migrated_url, poolclass=NullPool)
    with pytest.raises(IntegrityError), engine.begin() as connection:
        connection.exec_driver_sql(
            "INSERT INTO repositories (forge, full_name, owner, name, created_at, updated_at) "
            "VALUES ('bitbucket', 'a/b', 'a', 'b', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)")
    engine.dispose()


def test_upgrade_without_url_uses_settings_from_any_directory(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    database = tmp_path / "nested" / "dir" / "history.sqlite3"
    monkeypatch.setenv("REVIEWBOT_DATABASE_URL", f"sqlite:///{database}")
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    try:
        upgrade_database()
    finally:
        get_settings.cache_clear()
    assert database.is_file()
    assert _tables(f"sqlite:///{database}") == TABLES


@pytest.mark.postgres
def test_plain_postgresql_url_uses_psycopg(pg_url: str) -> None:
    plain = pg_url.replace("postgresql+psycopg://", "postgresql://")
    engine = make_engine(plain)
    assert engine.dialect.driver == "psycopg"
    engine.dispose()


def test_sqlite_engine_prepares_file_wal_and_foreign_keys(tmp_path: Path) -> None:
    database = tmp_path / "a" / "b" / "history.sqlite3"
    engine = make_engine(f"sqlite:///{database}")
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    engine.dispose()
    assert database.is_file()


@pytest.mark.postgres
def test_unreachable_postgres_is_a_transient_error() -> None:
    with pytest.raises(DatabaseUnavailable) as caught:
        upgrade_database("postgresql://postgres@127.0.0.1:1/nothing")
    assert isinstance(caught.value, TransientError)
    assert "127.0.0.1" in str(caught.value)


def test_unopenable_sqlite_file_is_reported_not_raised_raw(tmp_path: Path) -> None:
    directory = tmp_path / "is-a-directory"
    directory.mkdir()
    engine = make_engine(f"sqlite:///{directory}")
    with pytest.raises(DatabaseUnavailable), session_scope(session_factory(engine)) as session:
        session.query(Repository).all()
    engine.dispose()


def test_invalid_url_is_a_history_error() -> None:
    with pytest.raises(HistoryError, match="invalid database URL"):
        make_engine("not a url")
