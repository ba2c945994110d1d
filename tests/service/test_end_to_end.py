"""The installed bot end to end, as separate processes: `reviewbot serve` takes a signed
GitHub webhook (a recorded payload), the delivery goes through Redis to `reviewbot worker`,
and the review lands on the PR of the GitHub stand-in."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import redis
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.history.db import make_engine, session_factory, upgrade_database
from bot.history.enums import DeliveryStatus
from bot.history.models import WebhookDelivery
from tests.conftest import REPO_ROOT, _empty_postgres
from tests.forgestandin.fixtures import AppKey
from tests.forgestandin.github import GitHubStandin
from tests.forgestandin.gitlab import GitLabStandin
from tests.gitbuilder import GitRepo
from tests.webhooks.conftest import (
    GITHUB_SECRET,
    GITLAB_SECRET,
    github_headers,
    github_payload,
    gitlab_headers,
    gitlab_payload,
    pr_comment,
)

pytestmark = pytest.mark.postgres

REPO = "Codertocat/Hello-World"
REDIS_URL = "redis://127.0.0.1:6379/14"  # not the edge tests' database
WAIT_S = 60.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait(predicate: Callable[[], bool], processes: list[subprocess.Popen[bytes]],
          what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not predicate():
        for process in processes:
            if process.poll() is not None:
                output = process.stdout.read().decode() if process.stdout else ""
                pytest.fail(f"a service process exited ({process.returncode}): {output[-3000:]}")
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.2)


def _delivered(sessions: sessionmaker[Session], count: int) -> bool:
    with sessions() as session:
        rows = list(session.scalars(select(WebhookDelivery)))
        return [r.status for r in rows] == [DeliveryStatus.COMPLETED] * count


def _wait_completed(database_url: str, count: int, what: str) -> None:
    """Wait until the history holds `count` deliveries, all COMPLETED by the worker."""
    engine = make_engine(database_url)
    try:
        _wait(lambda: _delivered(session_factory(engine), count), [], what)
    finally:
        engine.dispose()


def _shell_call_change(git_repo: GitRepo, branch: str) -> str:
    """A branch whose one commit passes user input to a shell (a high finding); its head."""
    git_repo.commit("base", {"tool.py": "import subprocess\n"})
    git_repo.branch(branch)
    head = git_repo.commit("run a command", {"tool.py": (
        "import subprocess\n\n\ndef run(arg):\n"
        "    return subprocess.call('echo ' + arg, shell=True)\n")})
    git_repo.checkout("main")
    return head


@pytest.fixture
def service(tmp_path: Path, pg_url: str, github_standin: GitHubStandin,
            gitlab_standin: GitLabStandin, github_app_key: AppKey
            ) -> Iterator[tuple[str, str]]:
    """`reviewbot serve` and `reviewbot worker` on this machine, with their history in
    PostgreSQL as installed; yields (base URL, db URL)."""
    _empty_postgres(pg_url)
    upgrade_database(pg_url)
    broker = redis.Redis.from_url(REDIS_URL)
    broker.flushdb()
    port = _free_port()
    env = {**os.environ,
           "REVIEWBOT_DATABASE_URL": pg_url,
           "REVIEWBOT_BROKER_URL": REDIS_URL,
           "REVIEWBOT_GITHUB_APP_ID": "4242",
           "REVIEWBOT_GITHUB_PRIVATE_KEY": github_app_key.private_pem,
           "REVIEWBOT_GITHUB_WEBHOOK_SECRET": GITHUB_SECRET,
           "REVIEWBOT_GITHUB_API_URL": github_standin.base_url,
           "REVIEWBOT_GITLAB_URL": gitlab_standin.base_url,
           "REVIEWBOT_GITLAB_TOKEN": gitlab_standin.token,
           "REVIEWBOT_GITLAB_WEBHOOK_SECRET": GITLAB_SECRET,
           "REVIEWBOT_MIRROR_DIR": str(tmp_path / "mirrors"),
           "REVIEWBOT_ENGINE_URLS": ""}
    reviewbot = [sys.executable, "-m", "bot.cli"]
    processes = [
        subprocess.Popen([*reviewbot, "serve", "--host", "127.0.0.1", "--port", str(port)],
                         cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT),
        subprocess.Popen([*reviewbot, "worker", "--concurrency", "1", "--loglevel", "WARNING"],
                         cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT),
    ]
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return httpx.get(f"{base}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        _wait(up, processes, "reviewbot serve to answer /healthz")
        yield base, pg_url
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            if process.stdout:
                process.stdout.close()
        broker.flushdb()
        broker.close()


def test_a_signed_webhook_becomes_a_posted_review(
        service: tuple[str, str], github_standin: GitHubStandin, git_repo: GitRepo) -> None:
    head = _shell_call_change(git_repo, "changes")
    github_standin.add_repo(REPO, git_repo.root)
    github_standin.add_pull(REPO, 2, head="changes")
    payload = json.loads(github_payload("pull_request", "opened.payload.json"))
    payload["pull_request"]["head"]["sha"] = head  # the recorded event, for our commit
    body = json.dumps(payload).encode()
    base, database_url = service

    answer = httpx.post(f"{base}/webhooks/github", content=body,
                        headers=github_headers("pull_request", body, delivery="e2e-1"),
                        timeout=10)
    again = httpx.post(f"{base}/webhooks/github", content=body,
                       headers=github_headers("pull_request", body, delivery="e2e-1"),
                       timeout=10)
    forged = httpx.post(f"{base}/webhooks/github", content=body,
                        headers=github_headers("pull_request", body, delivery="e2e-2",
                                               secret="wrong"), timeout=10)

    assert (answer.status_code, again.status_code, forged.status_code) == (202, 200, 401)
    _wait_completed(database_url, 1, "the worker to complete the delivery")
    state = github_standin.repos[REPO]
    [review] = state.reviews
    assert review["commit_id"] == head
    assert [(c["path"], c["line"]) for c in state.review_comments] == [("tool.py", 5)]
    [check] = state.check_runs.values()
    assert (check["head_sha"], check["status"]) == (head, "completed")

    # A `/review` from someone with read access only: refused, no second review.
    state.collaborators["visitor"] = "read"
    comment = json.loads(pr_comment("/review", user={"login": "visitor", "id": 4242}))
    comment["issue"]["number"] = 2
    state.issue_comments[comment["comment"]["id"]] = {
        "id": comment["comment"]["id"], "number": 2, "body": "/review",
        "user": github_standin.user("visitor")}
    body = json.dumps(comment).encode()
    command = httpx.post(f"{base}/webhooks/github", content=body,
                         headers=github_headers("issue_comment", body, delivery="e2e-3"),
                         timeout=10)
    assert command.status_code == 202
    _wait_completed(database_url, 2, "the command's job")
    assert [r["content"] for r in state.reactions] == ["confused"]
    replies = [c for c in state.issue_comments.values()
               if c["user"]["login"] == github_standin.bot_login and "write access" in c["body"]]
    assert len(replies) == 1
    assert len(state.reviews) == 1


def test_a_gitlab_merge_request_hook_becomes_discussions_and_a_status(
        service: tuple[str, str], gitlab_standin: GitLabStandin, git_repo: GitRepo) -> None:
    project = "gitlabhq/gitlab-test"
    head = _shell_call_change(git_repo, "feature")
    gitlab_standin.add_project(project, git_repo.root)
    gitlab_standin.add_merge_request(project, 1)
    payload = json.loads(gitlab_payload("merge_request.json"))
    payload["object_attributes"]["last_commit"]["id"] = head  # the recorded hook, our commit
    body = json.dumps(payload).encode()
    base, database_url = service

    answer = httpx.post(f"{base}/webhooks/gitlab", content=body, timeout=10,
                        headers=gitlab_headers("Merge Request Hook", key="mr-1"))
    again = httpx.post(f"{base}/webhooks/gitlab", content=body, timeout=10,
                       headers=gitlab_headers("Merge Request Hook", key="mr-1"))
    forged = httpx.post(f"{base}/webhooks/gitlab", content=body, timeout=10,
                        headers=gitlab_headers("Merge Request Hook", key="mr-2", token="nope"))

    assert (answer.status_code, again.status_code, forged.status_code) == (202, 200, 401)
    _wait_completed(database_url, 1, "the worker to complete the delivery")
    state = gitlab_standin.projects[project]
    positions = [d["notes"][0]["position"] for d in state.discussions]
    assert [(p["new_path"], p["new_line"], p["head_sha"]) for p in positions] == [
        ("tool.py", 5, head)]
    # shell=True on user input is a high finding: the commit status blocks the merge
    assert [s["status"] for s in state.statuses if s["sha"] == head] == ["running", "failed"]
