"""Fixtures for the security tests: the corpus reviewed once per module, a private history."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.settings import get_settings


@pytest.fixture
def history_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """`reviewbot review` settings: a private SQLite history file, no engine from the env."""
    db = tmp_path / "history.sqlite3"
    monkeypatch.setenv("REVIEWBOT_DATABASE_URL", f"sqlite:///{db}")
    monkeypatch.delenv("REVIEWBOT_ENGINE_URLS", raising=False)
    monkeypatch.setenv("REVIEWBOT_ENGINE_MODEL", "IQuest-Coder-V1-40B-Instruct")
    get_settings.cache_clear()
    yield db
    get_settings.cache_clear()
