"""Shared fixtures: real git repositories, paths to the published fixtures in ../shared."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.gitbuilder import GitRepo

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED = REPO_ROOT.parent / "shared"
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
