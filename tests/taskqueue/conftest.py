"""The queue tests share the edge's real Redis broker and migrated SQLite fixtures."""

from __future__ import annotations

from tests.webhooks.conftest import (  # noqa: F401 - fixtures re-exported
    broker,
    history,
    migrated_sqlite_template,
    sessions,
    sqlite_url,
)
