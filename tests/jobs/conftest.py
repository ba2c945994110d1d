"""A PR on the GitHub / GitLab stand-ins, a migrated history database, the vLLM stand-in,
and `run(job)`: the real job function with collaborators built the way the worker builds them."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from bot.events.outcomes import Priority, ReviewJob
from bot.forges.base import Forge
from bot.forges.github import GitHubForge
from bot.forges.gitlab import GitLabForge
from bot.history.db import session_scope
from bot.history.deliveries import record_delivery
from bot.history.enums import Forge as ForgeName
from bot.history.enums import RunTrigger
from bot.jobs import JobContext, JobResult, run_review_job
from tests.forgestandin.fixtures import AppKey
from tests.forgestandin.github import GitHubStandin
from tests.forgestandin.gitlab import GitLabStandin
from tests.gitbuilder import GitRepo
from tests.webhooks.conftest import (  # noqa: F401 - fixtures re-exported
    broker,
    history,
    make_settings,
    migrated_sqlite_template,
    sessions,
    sqlite_url,
)

REPO = "acme/widgets"
PROJECT = "acme/tools/widgets"

BASE_APP = '''\
import subprocess


def total(items):
    result = 0
    for item in items:
        result += item.price
    return result
'''

HEAD_APP = BASE_APP + '''

def average(items):
    return total(items) / len(items)


def run_user_command(user_input):
    return subprocess.call("ls " + user_input, shell=True)
'''


@dataclass
class PullRequestRepo:
    repo: GitRepo
    base_sha: str
    head_sha: str

    def push(self, files: dict[str, str], message: str = "more work") -> str:
        """A new commit on the feature branch (the PR's head)."""
        self.repo.checkout("feature")
        self.head_sha = self.repo.commit(message, files)
        self.repo.checkout("main")
        return self.head_sha


@pytest.fixture
def pr_repo(git_repo: GitRepo) -> PullRequestRepo:
    base = git_repo.commit("base", {"app.py": BASE_APP,
                                    ".reviewbot.yml": "fail_on: critical\n"
                                                      "tests:\n  enabled: false\n"})
    git_repo.branch("feature")
    head = git_repo.commit("add average and a command runner", {"app.py": HEAD_APP})
    git_repo.checkout("main")
    return PullRequestRepo(git_repo, base, head)


@dataclass
class Harness:
    """Runs jobs for one PR and keeps the deliveries they came from."""

    forge_name: ForgeName
    repo: str
    number: int
    forge: Forge
    sessions: sessionmaker[Session]
    settings_overrides: dict[str, Any]
    sqlite_url: str
    mirrors: Path
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def job(self, head_sha: str | None, *, trigger: RunTrigger = RunTrigger.OPENED,
            delivery_id: str | None = None, **extra: Any) -> ReviewJob:
        delivery_id = delivery_id or f"delivery-{next(self._ids)}"
        with session_scope(self.sessions) as session:
            record_delivery(session, self.forge_name, delivery_id, "pull_request",
                            trigger.value, repository_full_name=self.repo,
                            pr_number=self.number)
        return ReviewJob(forge=self.forge_name, repo=self.repo, number=self.number,
                         head_sha=head_sha, trigger=trigger, delivery_id=delivery_id, **extra)

    def command(self, command: Any, user: str, comment_id: int = 77) -> ReviewJob:
        return self.job(None, trigger=RunTrigger.COMMAND, command=command,
                        requested_by=user, comment_id=comment_id,
                        priority=Priority.INTERACTIVE)

    def run(self, job: ReviewJob, *, final_attempt: bool = False,
            **overrides: Any) -> JobResult:
        settings = make_settings(self.sqlite_url, **{**self.settings_overrides, **overrides})
        context = JobContext(settings=settings, sessions=self.sessions,
                             forges={self.forge_name: self.forge}, mirror_root=self.mirrors)
        return run_review_job(job, context, final_attempt=final_attempt)


@pytest.fixture
def github(github_standin: GitHubStandin, github_app_key: AppKey,
           pr_repo: PullRequestRepo,
           sessions: sessionmaker[Session], sqlite_url: str,  # noqa: F811
           tmp_path: Path) -> Iterator[Harness]:
    github_standin.add_repo(REPO, pr_repo.repo.root)
    github_standin.add_pull(REPO, 1)
    github_standin.repos[REPO].collaborators.update({"maintainer": "write", "visitor": "read"})
    forge = GitHubForge("4242", github_app_key.private_pem, github_standin.base_url,
                        write_interval_s=0)
    yield Harness(ForgeName.GITHUB, REPO, 1, forge, sessions, {}, sqlite_url,
                  tmp_path / "mirrors")
    forge.close()


@pytest.fixture
def gitlab(gitlab_standin: GitLabStandin, pr_repo: PullRequestRepo,
           sessions: sessionmaker[Session], sqlite_url: str,  # noqa: F811
           tmp_path: Path) -> Iterator[Harness]:
    gitlab_standin.add_project(PROJECT, pr_repo.repo.root)
    gitlab_standin.add_merge_request(PROJECT, 3)
    forge = GitLabForge(gitlab_standin.base_url, gitlab_standin.token, write_interval_s=0)
    yield Harness(ForgeName.GITLAB, PROJECT, 3, forge, sessions, {}, sqlite_url,
                  tmp_path / "mirrors")
    forge.close()


Refresh = Callable[[], None]
