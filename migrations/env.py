"""Alembic environment: migrate the database the caller names, else the configured one.

The URL comes from `config.attributes["url"]` (set by `bot.history.db.alembic_config`),
then the `sqlalchemy.url` option (an ini file), then `get_settings().database_url`, read
only when a migration actually runs. A caller may pass an open connection instead in
`config.attributes["connection"]`.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import URL, Connection
from sqlalchemy.pool import NullPool

from bot.history.db import make_engine, normalise_url
from bot.history.models import Base

target_metadata = Base.metadata


def _database_url() -> URL:
    config = context.config
    url = config.attributes.get("url") or config.get_main_option("sqlalchemy.url")
    if not url:
        from bot.settings import get_settings

        url = get_settings().database_url
    return normalise_url(url)




def _migrate(connection: Connection) -> None:
    # render_as_batch: SQLite cannot ALTER most things, so generated migrations copy tables.
    context.configure(connection=connection, target_metadata=target_metadata,
                      compare_type=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_offline() -> None:
    context.configure(url=_database_url(), literal_binds=True, target_metadata=target_metadata,
                      compare_type=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _migrate(connection)
        return
    engine = make_engine(_database_url(), poolclass=NullPool)
    try:
        with engine.connect() as connection:
            _migrate(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
