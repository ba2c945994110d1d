"""Mirror + worktree checkout over real smart HTTP (git http-backend behind the stand-ins)."""

from __future__ import annotations

import subprocess
import threading
from pathlib import Path

import pytest

from bot.checkout import Mirror
from bot.errors import FetchUnavailable
from bot.forges.base import GitRemote
from bot.forges.github import GitHubForge
from bot.forges.gitlab import GitLabForge
from reviewers.errors import RepositoryError
from tests.forges.conftest import PullRepo
from tests.forgestandin.github import GitHubStandin


def _everything_in(mirror: Path) -> str:
    """Config, refs and logs of the mirror: where a leaked token would be stored."""
    config = subprocess.run(["git", "config", "--list", "--local"], cwd=mirror,
                            capture_output=True, check=True).stdout.decode()
    stored = [p.read_text(errors="replace") for p in mirror.rglob("*")
              if p.is_file() and "objects" not in p.parts]
    return config + "\n".join(stored)


def test_github_mirror_and_worktree(github_forge: GitHubForge, github_standin: GitHubStandin,
                                    pull_repo: PullRepo, tmp_path: Path,
                                    caplog: pytest.LogCaptureFixture) -> None:
    remote = github_forge.git_remote("acme/widgets")
    [token] = github_standin.tokens
    assert token not in remote.url
    assert token not in repr(remote)
    mirror = Mirror(tmp_path / "cache", "github", "acme/widgets")
    with caplog.at_level("DEBUG"):
        mirror.fetch(remote, ["main", "refs/pull/1/head"])

    with mirror.worktree(pull_repo.head_sha) as tree:
        assert (tree / "big.py").read_text().startswith("value_0 = 0")
        assert "# a new comment line" in (tree / "app.py").read_text()
    assert not tree.exists()
    stored = _everything_in(mirror.path)
    assert token not in stored
    assert str(remote.auth_header).split()[-1] not in stored
    assert token not in caplog.text
    git_requests = [r for r in github_standin.recorded if ".git/" in r.path]
    assert git_requests
    assert all(r.status == 200 for r in git_requests)
    assert all(r.headers.get("authorization", "").startswith("Basic ") for r in git_requests)


def test_gitlab_fetch_by_sha(gitlab_forge: GitLabForge, pull_repo: PullRepo,
                             tmp_path: Path) -> None:
    remote = gitlab_forge.git_remote("acme/tools/widgets")
    mirror = Mirror(tmp_path / "cache", "gitlab", "acme/tools/widgets")
    mirror.fetch(remote, [pull_repo.head_sha])
    assert mirror.has_commit(pull_repo.head_sha)
    with mirror.worktree(pull_repo.head_sha) as tree:
        assert (tree / "big.py").exists()


def test_missing_auth_is_refused_not_retried(github_forge: GitHubForge, tmp_path: Path) -> None:
    remote = github_forge.git_remote("acme/widgets")
    mirror = Mirror(tmp_path / "cache", "github", "acme/widgets")
    with pytest.raises(RepositoryError) as caught:
        mirror.fetch(GitRemote(remote.url), ["main"])
    assert not isinstance(caught.value, FetchUnavailable)


def test_unreachable_forge_is_transient(tmp_path: Path) -> None:
    mirror = Mirror(tmp_path / "cache", "github", "acme/widgets")
    with pytest.raises(FetchUnavailable):
        mirror.fetch(GitRemote("http://127.0.0.1:9/acme/widgets.git"), ["main"])


def test_worktree_of_an_unfetched_commit(tmp_path: Path) -> None:
    mirror = Mirror(tmp_path / "cache", "github", "acme/widgets")
    with pytest.raises(RepositoryError, match="not in the mirror"), mirror.worktree("a" * 40):
        pass


def test_concurrent_jobs_share_one_mirror(github_forge: GitHubForge, pull_repo: PullRepo,
                                          tmp_path: Path) -> None:
    remote = github_forge.git_remote("acme/widgets")
    errors: list[BaseException] = []
    seen: list[str] = []

    def job() -> None:
        try:
            mirror = Mirror(tmp_path / "cache", "github", "acme/widgets")
            mirror.fetch(remote, ["refs/pull/1/head"])
            with mirror.worktree(pull_repo.head_sha) as tree:
                seen.append((tree / "app.py").read_text())
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=job) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(seen) == 4
    assert len(set(seen)) == 1


def test_refuses_option_like_refs(tmp_path: Path) -> None:
    mirror = Mirror(tmp_path / "cache", "github", "acme/widgets")
    with pytest.raises(RepositoryError):
        mirror.fetch(GitRemote("http://127.0.0.1:9/x.git"), ["--upload-pack=evil"])
    with pytest.raises(RepositoryError):
        Mirror(tmp_path, "github", "../../etc")
