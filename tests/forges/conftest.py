"""A real repository with a pull request branch, and the adapters wired to the stand-ins."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from bot.forges.github import GitHubForge
from bot.forges.gitlab import GitLabForge
from tests.forgestandin.fixtures import AppKey
from tests.forgestandin.github import GitHubStandin
from tests.forgestandin.gitlab import GitLabStandin
from tests.gitbuilder import GitRepo

BASE_APP = "".join(f"def f{i}(x):\n    return x + {i}\n" for i in range(20))  # 40 lines


@dataclass(frozen=True)
class PullRepo:
    repo: GitRepo
    base_sha: str
    head_sha: str


@pytest.fixture
def pull_repo(git_repo: GitRepo) -> PullRepo:
    """main: app.py (40 lines) + .reviewbot.yml; feature: edits in app.py, new big.py (80 lines)."""
    base = git_repo.commit("base", {"app.py": BASE_APP, ".reviewbot.yml": "min_severity: low\n"})
    git_repo.branch("feature")
    lines = BASE_APP.splitlines()
    lines[1] = "    return x * 2  # changed"  # line 2 replaced
    lines.insert(20, "# a new comment line")  # new line 21
    del lines[35]  # removes old line 36 ("    return x + 17")
    head = git_repo.commit("feature work", {
        "app.py": "\n".join(lines) + "\n",
        "big.py": "".join(f"value_{i} = {i}\n" for i in range(80)),
    })
    git_repo.checkout("main")
    return PullRepo(git_repo, base, head)


@pytest.fixture
def github_forge(github_standin: GitHubStandin, github_app_key: AppKey,
                 pull_repo: PullRepo) -> Iterator[GitHubForge]:
    github_standin.add_repo("acme/widgets", pull_repo.repo.root)
    github_standin.add_pull("acme/widgets", 1)
    forge = GitHubForge("4242", github_app_key.private_pem, github_standin.base_url,
                        write_interval_s=0)
    yield forge
    forge.close()


@pytest.fixture
def gitlab_forge(gitlab_standin: GitLabStandin, pull_repo: PullRepo) -> Iterator[GitLabForge]:
    gitlab_standin.add_project("acme/tools/widgets", pull_repo.repo.root)
    gitlab_standin.add_merge_request("acme/tools/widgets", 3)
    forge = GitLabForge(gitlab_standin.base_url, gitlab_standin.token, write_interval_s=0)
    yield forge
    forge.close()


@pytest.fixture
def advance_main(pull_repo: PullRepo) -> Callable[[], str]:
    """Commit an unrelated change on main so the merge base differs from the main tip."""

    def advance() -> str:
        pull_repo.repo.checkout("main")
        sha = pull_repo.repo.commit("main moves on", {"README.md": "hello\n"})
        return sha

    return advance
