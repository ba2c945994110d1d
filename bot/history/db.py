"""Engines, sessions and Alembic migrations for the history database, errors translated.

`make_engine` knows the two supported backends: SQLite (the local default; parent
directory created, foreign keys on, WAL, real SAVEPOINTs) and Postgres via psycopg 3
(`postgresql://` URLs are routed to it; connections pinged before use). Migrations run
programmatically from the installed `migrations` package, so `reviewbot db upgrade`
works from any directory.
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import URL, Connection, Engine, create_engine, event, make_url
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session, sessionmaker

from bot.errors import DatabaseUnavailable, HistoryError

log = logging.getLogger(__name__)

_UNAVAILABLE = (
    sa_exc.OperationalError,
    sa_exc.InterfaceError,
    sa_exc.TimeoutError,
    sa_exc.DisconnectionError,
)


def normalise_url(url: str | URL) -> URL:
    """Parse a database URL; a bare ``postgresql://`` means the psycopg 3 driver."""
    try:
        parsed = make_url(url)
    except sa_exc.ArgumentError as exc:
        raise HistoryError(f"invalid database URL: {exc}") from exc
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def _is_sqlite(url: URL) -> bool:
    return url.get_backend_name() == "sqlite"


def _sqlite_file(url: URL) -> Path | None:
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database).expanduser()


def _on_sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin, so that
    # SAVEPOINTs (used for race-free inserts) behave; see the "begin" hook below.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=5000")
    finally:
        cursor.close()


def _on_sqlite_begin(connection: Connection) -> None:
    connection.exec_driver_sql("BEGIN")


def make_engine(url: str | URL, **engine_kwargs: Any) -> Engine:
    """An engine for `url` with the per-backend settings the history needs."""
    parsed = normalise_url(url)
    if _is_sqlite(parsed):
        path = _sqlite_file(parsed)
        if path is not None:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise HistoryError(f"cannot create the directory for {path}: {exc}") from exc
        engine = create_engine(parsed, **engine_kwargs)
        event.listen(engine, "connect", _on_sqlite_connect)
        event.listen(engine, "begin", _on_sqlite_begin)
        return engine
    engine_kwargs.setdefault("pool_pre_ping", True)
    if parsed.get_backend_name() == "postgresql" and "connect_timeout" not in parsed.query:
        engine_kwargs.setdefault("connect_args", {"connect_timeout": 10})
    return create_engine(parsed, **engine_kwargs)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded attributes after commit (runs outlive their transaction)."""
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def translate_errors(action: str) -> Iterator[None]:
    """Re-raise SQLAlchemy/Alembic errors as `DatabaseUnavailable` or `HistoryError`."""
    try:
        yield
    except _UNAVAILABLE as exc:
        cause = getattr(exc, "orig", None) or exc
        raise DatabaseUnavailable(f"{action}: database unavailable: {cause}") from exc
    except sa_exc.SQLAlchemyError as exc:
        raise HistoryError(f"{action}: {exc}") from exc
    except CommandError as exc:
        raise HistoryError(f"{action}: {exc}") from exc


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session committed on success and rolled back on error, with errors translated."""
    with translate_errors("history"), factory() as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def migrations_dir() -> Path:
    """The directory of the installed `migrations` package (Alembic's script location)."""
    spec = importlib.util.find_spec("migrations")
    for entry in (spec.submodule_search_locations or []) if spec else []:
        if (Path(entry) / "env.py").is_file():
            return Path(entry)
    raise HistoryError("the `migrations` package of reviewbot is not installed")


def alembic_config(url: str | URL | None = None, *, connection: Connection | None = None
                   ) -> Config:
    """An Alembic config for the packaged migrations; with no URL, `env.py` uses the settings."""
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    config.set_main_option("path_separator", "os")
    if url is not None:
        config.attributes["url"] = normalise_url(url)
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def upgrade_database(url: str | URL | None = None, revision: str = "head") -> None:
    """Migrate the database at `url` (default: the settings' URL) up to `revision`."""
    with translate_errors("upgrading the history database"):
        command.upgrade(alembic_config(url), revision)
    log.info("history database upgraded", extra={"revision": revision})


def downgrade_database(url: str | URL | None = None, revision: str = "base") -> None:
    """Migrate the database at `url` down to `revision` (default: an empty schema)."""
    with translate_errors("downgrading the history database"):
        command.downgrade(alembic_config(url), revision)
    log.info("history database downgraded", extra={"revision": revision})


def head_revision() -> str | None:
    """The newest revision shipped with this version of the bot."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at (None when never migrated); for readiness checks."""
    with translate_errors("reading the schema revision"), engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()
