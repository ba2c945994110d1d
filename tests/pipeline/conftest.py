"""Fixtures for end-to-end runs of `reviewbot review` on real repositories."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.cli import main
from bot.settings import get_settings
from tests.gitbuilder import GitRepo

BASE_APP = '''\
import subprocess


def legacy(cmd):
    return subprocess.call(cmd, shell=True)


def total(items):
    result = 0
    for item in items:
        result += item.price
    return result
'''

HEAD_APP = '''\
import subprocess


def legacy(cmd):
    return subprocess.call(cmd, shell=True)


def total(items):
    result = 0
    for item in items:
        result += item.price
    return result


def average(items):
    return total(items) / len(items)


def run_user_command(user_input):
    return subprocess.call("ls " + user_input, shell=True)
'''


@dataclass
class CliResult:
    code: int
    out: str
    err: str

    def json(self) -> dict:  # type: ignore[type-arg]
        return json.loads(self.out)


@pytest.fixture
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Settings pointing at a private SQLite history and no engine."""
    db = tmp_path / "history.sqlite3"
    monkeypatch.setenv("REVIEWBOT_DATABASE_URL", f"sqlite:///{db}")
    monkeypatch.delenv("REVIEWBOT_ENGINE_URLS", raising=False)
    monkeypatch.setenv("REVIEWBOT_ENGINE_MODEL", "IQuest-Coder-V1-40B-Instruct")
    get_settings.cache_clear()
    yield db
    get_settings.cache_clear()


@pytest.fixture
def run_cli(capsys: pytest.CaptureFixture[str], isolated_env: Path
            ) -> Callable[..., CliResult]:
    def run(*args: str) -> CliResult:
        code = main(list(args))
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run


@pytest.fixture
def app_repo(git_repo: GitRepo) -> GitRepo:
    """main has app.py with a pre-existing shell=True call; branch feature adds two functions."""
    git_repo.commit("base", {"app.py": BASE_APP})
    git_repo.branch("feature")
    git_repo.commit("add average and a command runner", {"app.py": HEAD_APP})
    return git_repo
