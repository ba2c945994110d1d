"""Delivering kept tests to a PR on the GitHub and GitLab stand-ins: one comment per test
file (edited, never duplicated, on a re-run), or a commit on `reviewbot/tests/<pr>` with one
follow-up PR/MR; every candidate's fate lands in history once."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.forges.base import Forge, PullRequest
from bot.forges.github import GitHubForge
from bot.forges.gitlab import GitLabForge
from bot.history.db import make_engine, session_factory, upgrade_database
from bot.history.enums import Forge as ForgeName
from bot.history.enums import RunTrigger
from bot.history.models import GeneratedTest, ReviewRun
from bot.history.store import get_or_create_pull_request, get_or_create_repository, start_run
from bot.testdelivery import deliver_tests
from reviewers import repoconfig
from tests.forgestandin.fixtures import AppKey
from tests.forgestandin.github import GitHubStandin
from tests.forgestandin.gitlab import GitLabStandin
from tests.gitbuilder import GitRepo
from tests.testgen import shop
from tests.testgen.shop import generation_result


@pytest.fixture
def pr_repo(tmp_path: Path) -> GitRepo:
    repo = GitRepo(tmp_path / "shop")
    repo.commit("shop", {"pyproject.toml": shop.PYPROJECT, "shop/__init__.py": "",
                         "shop/pricing.py": shop.PRICING_BASE,
                         "tests/test_pricing.py": shop.EXISTING_TEST})
    repo.branch("feature")
    repo.commit("discounts", {"shop/pricing.py": shop.PRICING_HEAD})
    repo.git("checkout", "-q", "main")
    return repo


@pytest.fixture
def history(tmp_path: Path) -> Iterator[Session]:
    url = f"sqlite:///{tmp_path / 'history.sqlite3'}"
    upgrade_database(url)
    engine = make_engine(url)
    with session_factory(engine)() as session:
        yield session
    engine.dispose()


def new_run(session: Session, forge: ForgeName, repo: str, pr: PullRequest) -> ReviewRun:
    repository = get_or_create_repository(session, forge, repo)
    pull = get_or_create_pull_request(session, repository, pr.number, head_sha=pr.head_sha)
    return start_run(session, repository, RunTrigger.OPENED, pr.base_sha, pr.head_sha, pull)


def fates(session: Session, run: ReviewRun) -> list[tuple[str, str]]:
    rows = session.scalars(select(GeneratedTest).where(GeneratedTest.run_id == run.id)
                           .order_by(GeneratedTest.path))
    return [(r.path, r.fate.value) for r in rows]


@pytest.fixture
def github(github_standin: GitHubStandin, github_app_key: AppKey,
           pr_repo: GitRepo) -> Iterator[GitHubForge]:
    github_standin.add_repo("acme/shop", pr_repo.root)
    github_standin.add_pull("acme/shop", 1)
    forge = GitHubForge("4242", github_app_key.private_pem, github_standin.base_url,
                        write_interval_s=0)
    yield forge
    forge.close()


@pytest.fixture
def gitlab(gitlab_standin: GitLabStandin, pr_repo: GitRepo) -> Iterator[GitLabForge]:
    gitlab_standin.add_project("acme/tools/shop", pr_repo.root)
    gitlab_standin.add_merge_request("acme/tools/shop", 3)
    forge = GitLabForge(gitlab_standin.base_url, gitlab_standin.token, write_interval_s=0)
    yield forge
    forge.close()


def test_one_comment_per_kept_test_with_evidence_and_a_rerun_edits_them(
        github: GitHubForge, github_standin: GitHubStandin, history: Session) -> None:
    pr = github.get_pull_request("acme/shop", 1)
    run = new_run(history, ForgeName.GITHUB, "acme/shop", pr)
    result = generation_result()

    config = repoconfig.TestGenConfig()
    first = deliver_tests(github, "acme/shop", pr, result, config, session=history, run=run)
    again = deliver_tests(github, "acme/shop", pr, result, config, session=history, run=run)

    comments = list(github_standin.repos["acme/shop"].issue_comments.values())
    assert len(comments) == 2  # one per kept file, the re-run edited them
    assert first.mode == "comment"
    assert first.comments == again.comments
    by_path = {path: github_standin.repos["acme/shop"].issue_comments[i]["body"]
               for path, i in first.comments.items()}
    body = by_path["tests/test_discount.py"]
    assert body.startswith("<!-- reviewbot:generated-test tests/test_discount.py -->")
    assert "5/5 passed" in body
    assert "1/4 (25%) → 4/4 (100%)" in body
    assert "fails: this test documents a behaviour change" in body
    assert shop.GOOD.strip() in body
    sneaky = by_path["tests/test_discount_limits.py"]
    assert "@octocat" not in sneaky  # model text pings nobody
    # code cannot carry another test's marker, so the re-run found the right comments
    assert "<!-- reviewbot:generated-test tests/test_pricing.py -->" not in sneaky
    assert (first.recorded, again.recorded) == (3, 0)
    assert fates(history, run) == [("tests/test_discount.py", "kept"),
                                   ("tests/test_discount_limits.py", "kept"),
                                   ("tests/test_flaky.py", "flaky")]
    row = history.scalars(select(GeneratedTest).where(
        GeneratedTest.path == "tests/test_discount.py")).one()
    assert row.evidence["delivered"] == {"mode": "comment",
                                         "comment_id": first.comments["tests/test_discount.py"]}
    assert row.evidence["passes"] == 5


def branch_files(repo: GitRepo, branch: str) -> dict[str, str]:
    names = repo.git("diff", "--name-only", f"{branch}~1", branch).splitlines()
    return {name: repo.git("show", f"{branch}:{name}") + "\n" for name in names}


def deliver_twice_on_branch(forge: Forge, name: str, number: int, repo: GitRepo,
                            session: Session, forge_name: ForgeName) -> tuple[str, str]:
    """Deliver, re-deliver, push a new head and deliver again; (first sha, last sha)."""
    config = repoconfig.TestGenConfig(delivery="branch")
    pr = forge.get_pull_request(name, number)
    run = new_run(session, forge_name, name, pr)
    first = deliver_tests(forge, name, pr, generation_result(), config, session=session,
                          run=run)
    assert first.mode == "branch"
    assert first.branch == f"reviewbot/tests/{number}"
    assert repo.git("rev-parse", first.branch) == first.commit_sha
    assert repo.git("rev-parse", f"{first.branch}~1") == pr.head_sha
    assert set(branch_files(repo, first.branch)) == {"tests/test_discount.py",
                                                     "tests/test_discount_limits.py"}
    assert branch_files(repo, first.branch)["tests/test_discount.py"] == shop.GOOD
    assert first.follow_up is not None

    again = deliver_tests(forge, name, pr, generation_result(), config, session=session,
                          run=run)
    assert again.commit_sha == first.commit_sha  # nothing new to commit
    assert again.follow_up == first.follow_up
    assert again.recorded == 0
    row = session.scalars(select(GeneratedTest).where(
        GeneratedTest.path == "tests/test_discount.py")).one()
    assert row.evidence["delivered"]["branch"] == first.branch
    assert first.commit_sha is not None
    return first.commit_sha, str(again.commit_sha)


def test_branch_delivery_on_github_commits_once_and_opens_one_follow_up_pr(
        github: GitHubForge, github_standin: GitHubStandin, pr_repo: GitRepo,
        history: Session) -> None:
    deliver_twice_on_branch(github, "acme/shop", 1, pr_repo, history, ForgeName.GITHUB)
    opened = github_standin.opened_pulls.by_repo["acme/shop"]
    [follow_up] = opened.values()
    assert (follow_up["head"], follow_up["base"]) == ("reviewbot/tests/1", "feature")
    assert "5/5 passed" in follow_up["body"]


def test_branch_delivery_on_gitlab_commits_once_and_opens_one_follow_up_mr(
        gitlab: GitLabForge, gitlab_standin: GitLabStandin, pr_repo: GitRepo,
        history: Session) -> None:
    deliver_twice_on_branch(gitlab, "acme/tools/shop", 3, pr_repo, history, ForgeName.GITLAB)
    [follow_up] = gitlab_standin.opened_mrs.values()
    assert (follow_up["source_branch"], follow_up["target_branch"]) == ("reviewbot/tests/3",
                                                                        "feature")
    assert "5/5 passed" in follow_up["description"]


def test_a_new_head_moves_the_tests_branch_onto_it(
        github: GitHubForge, github_standin: GitHubStandin, pr_repo: GitRepo,
        history: Session) -> None:
    config = repoconfig.TestGenConfig(delivery="branch")
    pr = github.get_pull_request("acme/shop", 1)
    run = new_run(history, ForgeName.GITHUB, "acme/shop", pr)
    first = deliver_tests(github, "acme/shop", pr, generation_result(), config,
                          session=history, run=run)
    pr_repo.git("checkout", "-q", "feature")
    head = pr_repo.commit("more", {"README.md": "discounts\n"})
    pr_repo.git("checkout", "-q", "main")
    subprocess.run(["git", "update-ref", "refs/pull/1/head", head], cwd=pr_repo.root, check=True)
    github_standin.repos["acme/shop"].pulls[1].head_sha = head
    moved = github.get_pull_request("acme/shop", 1)

    later = deliver_tests(github, "acme/shop", moved, generation_result(), config,
                          session=history, run=new_run(history, ForgeName.GITHUB, "acme/shop",
                                                       moved))
    assert later.commit_sha != first.commit_sha
    assert pr_repo.git("rev-parse", "reviewbot/tests/1~1") == head
    assert later.follow_up == first.follow_up  # the same follow-up PR, body updated
    assert len(github_standin.opened_pulls.by_repo["acme/shop"]) == 1


def test_nothing_kept_posts_nothing_but_records_every_fate(
        gitlab: GitLabForge, gitlab_standin: GitLabStandin, history: Session) -> None:
    pr = gitlab.get_pull_request("acme/tools/shop", 3)
    run = new_run(history, ForgeName.GITLAB, "acme/tools/shop", pr)
    result = generation_result()
    result.kept = []
    delivery = deliver_tests(gitlab, "acme/tools/shop", pr, result, repoconfig.TestGenConfig(),
                             session=history, run=run)
    assert delivery.mode == "none"
    assert gitlab_standin.projects["acme/tools/shop"].notes == []
    assert delivery.recorded == 3


def test_a_refused_branch_falls_back_to_comments_and_says_why(
        github: GitHubForge, github_standin: GitHubStandin, pr_repo: GitRepo,
        history: Session) -> None:
    pr = github.get_pull_request("acme/shop", 1)
    # the PR's head branch is not in this repository (as for a PR from a fork)
    pr_repo.git("branch", "-D", "feature")
    run = new_run(history, ForgeName.GITHUB, "acme/shop", pr)
    delivery = deliver_tests(github, "acme/shop", pr, generation_result(),
                             repoconfig.TestGenConfig(delivery="branch"), session=history,
                             run=run)
    assert delivery.mode == "comment"
    assert delivery.note is not None
    assert delivery.note.startswith("tests posted as comments: the branch could not be written")
    assert len(github_standin.repos["acme/shop"].issue_comments) == 2
    assert "acme/shop" not in github_standin.opened_pulls.by_repo
