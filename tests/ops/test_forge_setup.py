"""Connecting the bot to the forges: the GitHub App manifest and `reviewbot gitlab connect`.

The manifest's permissions are checked against what the GitHub adapter really calls: every
`Forge` method runs against the GitHub stand-in (which checks each request against GitHub's
OpenAPI description), plus a git fetch with the adapter's credentials, and each request is
mapped to the App permission GitHub requires for it. The GitLab hook is registered on the
GitLab stand-in through python-gitlab.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from bot.cli import main
from bot.events import github_router
from bot.forges.base import Annotation, InlineComment
from bot.forges.github import GitHubForge
from bot.forges.github_app import AUTOMATIC_EVENTS, app_manifest, render_manifest
from bot.settings import get_settings
from tests.conftest import REPO_ROOT
from tests.forgestandin.fixtures import AppKey
from tests.forgestandin.github import GitHubStandin
from tests.forgestandin.gitlab import GitLabStandin
from tests.gitbuilder import GitRepo

MANIFEST_FILE = REPO_ROOT / "deploy" / "github-app.yml"
REPO = "acme/widgets"

# GitHub's "permissions required for GitHub Apps" for each endpoint the adapter may call.
# Calls made with the App's JWT (installation lookup, token grant, GET /app) need none.
ENDPOINT_PERMISSIONS: list[tuple[str, str, tuple[str, str] | None]] = [
    ("GET", r"^/app$", None),
    ("GET", r"^/repos/[^/]+/[^/]+/installation$", None),
    ("POST", r"^/app/installations/\d+/access_tokens$", None),
    ("GET", r"^/repos/[^/]+/[^/]+$", ("metadata", "read")),
    ("GET", r"^/repos/[^/]+/[^/]+/collaborators/[^/]+/permission$", ("metadata", "read")),
    ("GET", r"^/repos/[^/]+/[^/]+/pulls/\d+$", ("pull_requests", "read")),
    ("GET", r"^/repos/[^/]+/[^/]+/pulls/\d+/(comments|reviews)$", ("pull_requests", "read")),
    ("POST", r"^/repos/[^/]+/[^/]+/pulls/\d+/reviews$", ("pull_requests", "write")),
    ("GET", r"^/repos/[^/]+/[^/]+/contents/.+$", ("contents", "read")),
    ("GET", r"^/repos/[^/]+/[^/]+/git/blobs/\w+$", ("contents", "read")),
    ("GET", r"^/[^/]+/[^/]+\.git/info/refs$", ("contents", "read")),
    ("POST", r"^/[^/]+/[^/]+\.git/git-upload-pack$", ("contents", "read")),
    ("POST", r"^/repos/[^/]+/[^/]+/check-runs$", ("checks", "write")),
    ("PATCH", r"^/repos/[^/]+/[^/]+/check-runs/\d+$", ("checks", "write")),
    ("GET", r"^/repos/[^/]+/[^/]+/issues/\d+$", ("issues", "read")),
    ("GET", r"^/repos/[^/]+/[^/]+/issues/\d+/comments$", ("issues", "read")),
    ("POST", r"^/repos/[^/]+/[^/]+/issues/\d+/comments$", ("issues", "write")),
    ("PATCH", r"^/repos/[^/]+/[^/]+/issues/comments/\d+$", ("issues", "write")),
    ("POST", r"^/repos/[^/]+/[^/]+/issues/comments/\d+/reactions$", ("issues", "write")),
    ("GET", r"^/repos/[^/]+/[^/]+/issues$", ("issues", "read")),
    ("POST", r"^/repos/[^/]+/[^/]+/issues$", ("issues", "write")),
    ("PATCH", r"^/repos/[^/]+/[^/]+/issues/\d+$", ("issues", "write")),
    # generated tests as a branch + pull request (optional: contents write, see below)
    ("GET", r"^/repos/[^/]+/[^/]+/git/commits/\w+$", ("contents", "read")),
    ("GET", r"^/repos/[^/]+/[^/]+/git/ref/heads/.+$", ("contents", "read")),
    ("POST", r"^/repos/[^/]+/[^/]+/git/(trees|commits|refs)$", ("contents", "write")),
    ("PATCH", r"^/repos/[^/]+/[^/]+/git/refs/heads/.+$", ("contents", "write")),
    ("GET", r"^/repos/[^/]+/[^/]+/pulls$", ("pull_requests", "read")),
    ("POST", r"^/repos/[^/]+/[^/]+/pulls$", ("pull_requests", "write")),
    ("PATCH", r"^/repos/[^/]+/[^/]+/pulls/\d+$", ("pull_requests", "write")),
]
LEVELS = {"read": 1, "write": 2}


def required_permission(method: str, path: str) -> tuple[str, str] | None:
    for verb, pattern, permission in ENDPOINT_PERMISSIONS:
        if verb == method and re.search(pattern, path):
            return permission
    raise AssertionError(f"the adapter calls {method} {path}, which the permission table of "
                         "this test does not know: add it with GitHub's required permission")


def test_manifest_file_is_the_rendered_manifest_for_the_example_url(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["github-app", "manifest", "--url", "https://bot.example.com/"]) == 0
    printed = capsys.readouterr().out
    assert printed == MANIFEST_FILE.read_text() == render_manifest("https://bot.example.com")
    loaded = yaml.safe_load(printed)
    assert loaded["hook_attributes"] == {"url": "https://bot.example.com/webhooks/github",
                                         "active": True}
    assert loaded["default_permissions"] == {"contents": "read", "pull_requests": "write",
                                             "checks": "write", "issues": "write",
                                             "metadata": "read"}


def test_manifest_url_is_the_operators_and_plain_http_is_refused(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["github-app", "manifest", "--url", "https://review.acme.internal",
                 "--format", "json", "--name", "acme-bot"]) == 0
    out = capsys.readouterr().out
    assert '"url": "https://review.acme.internal/webhooks/github"' in out
    assert '"name": "acme-bot"' in out
    assert main(["github-app", "manifest", "--url", "http://review.acme.internal"]) == 2
    assert "public https URL" in capsys.readouterr().err


def test_manifest_events_are_exactly_those_the_bot_handles() -> None:
    manifest = app_manifest("https://bot.example.com")
    assert set(manifest["default_events"]) | set(AUTOMATIC_EVENTS) == github_router().events()
    assert set(AUTOMATIC_EVENTS) == {"installation", "installation_repositories"}
    assert not set(AUTOMATIC_EVENTS) & set(manifest["default_events"])


@pytest.fixture
def exercised(github_standin: GitHubStandin, github_app_key: AppKey,
              git_repo: GitRepo) -> GitHubStandin:
    """Every Forge method of the GitHub adapter run once against the stand-in."""
    git_repo.commit("base", {"app.py": "def f(x):\n    return x\n", ".reviewbot.yml": "x: 1\n"})
    git_repo.branch("feature")
    head = git_repo.commit("change", {"app.py": "def f(x):\n    return x * 2\n"})
    git_repo.checkout("main")
    github_standin.add_repo(REPO, git_repo.root)
    github_standin.add_pull(REPO, 1)
    github_standin.repos[REPO].collaborators["dev"] = "write"
    forge = GitHubForge("4242", github_app_key.private_pem, github_standin.base_url,
                        write_interval_s=0)
    try:
        forge.bot_login()
        forge.get_pull_request(REPO, 1)
        forge.read_file(REPO, ".reviewbot.yml", head)
        forge.post_review(REPO, 1, head, "summary", [InlineComment("app.py", 2, "why * 2?")])
        forge.list_bot_markers(REPO, 1)
        forge.comment_feedback(REPO, 1)
        forge.upsert_summary(REPO, 1, "<!-- reviewbot:summary -->", "one")
        forge.upsert_summary(REPO, 1, "<!-- reviewbot:summary -->", "two")
        check = forge.start_check(REPO, head, "reviewbot")
        forge.complete_check(REPO, check, head, "success", "ok", "fine",
                             [Annotation("app.py", 2, 2, "notice", "n")])
        forge.permission(REPO, "dev")
        comment = forge.post_comment(REPO, 1, "/review")
        forge.react(REPO, 1, comment, "eyes")
        forge.upsert_issue(REPO, "Weekly digest", "week 1", "reviewbot-digest")
        forge.upsert_issue(REPO, "Weekly digest", "week 2", "reviewbot-digest")
        remote = forge.git_remote(REPO)
        fetched = subprocess.run(
            ["git", "ls-remote", remote.url.replace("https://github.com",
                                                    github_standin.base_url)],
            env={**os.environ, **remote.git_env(), "GIT_TERMINAL_PROMPT": "0"},
            capture_output=True, text=True, check=False)
        assert fetched.returncode == 0, fetched.stderr
    finally:
        forge.close()
    return github_standin


def needed_permissions(standin: GitHubStandin) -> dict[str, str]:
    """The highest level of each permission the recorded requests required."""
    needed: dict[str, str] = {}
    for request in standin.recorded:
        looked_up = request.method == "GET" and request.status == 404  # e.g. a new branch
        assert request.status < 400 or looked_up, (request.method, request.path, request.status)
        permission = required_permission(request.method, request.path)
        if permission is None:
            continue
        scope, level = permission
        if LEVELS[level] > LEVELS.get(needed.get(scope, ""), 0):
            needed[scope] = level
    return needed


def test_manifest_permissions_are_exactly_what_the_adapter_calls_need(
    exercised: GitHubStandin,
) -> None:
    manifest = app_manifest("https://bot.example.com")
    assert needed_permissions(exercised) == manifest["default_permissions"]


def test_test_branches_are_the_one_opt_in_beyond_the_manifest(
    github_standin: GitHubStandin, github_app_key: AppKey, git_repo: GitRepo,
) -> None:
    """Delivering generated tests as a branch + PR needs contents:write, which the manifest
    leaves to the operator (the job falls back to comments when GitHub refuses)."""
    base = git_repo.commit("base", {"app.py": "x = 1\n"})
    git_repo.branch("feature")
    git_repo.commit("change", {"app.py": "x = 2\n"})
    git_repo.checkout("main")
    github_standin.add_repo(REPO, git_repo.root)
    github_standin.add_pull(REPO, 1)
    forge = GitHubForge("4242", github_app_key.private_pem, github_standin.base_url,
                        write_interval_s=0)
    try:
        forge.push_files(REPO, "reviewbot/tests/1", base, {"tests/test_x.py": "def test(): pass\n"},
                         "reviewbot: generated tests")
        forge.open_pull_request(REPO, "reviewbot/tests/1", "main", "Generated tests", "body")
    finally:
        forge.close()
    needed = needed_permissions(github_standin)
    manifest = app_manifest("https://bot.example.com")["default_permissions"]
    extra = {scope: level for scope, level in needed.items()
             if LEVELS[level] > LEVELS.get(manifest.get(scope, ""), 0)}
    assert extra == {"contents": "write"}
    assert "`contents: write`" in MANIFEST_FILE.read_text()  # the opt-in is documented


# -- GitLab --------------------------------------------------------------------------------

@pytest.fixture
def gitlab_env(gitlab_standin: GitLabStandin, git_repo: GitRepo,
               monkeypatch: pytest.MonkeyPatch) -> Iterator[GitLabStandin]:
    git_repo.commit("base", {"README.md": "hi\n"})
    gitlab_standin.add_project("acme/tools/widgets", git_repo.root)
    monkeypatch.setenv("REVIEWBOT_GITLAB_URL", gitlab_standin.base_url)
    monkeypatch.setenv("REVIEWBOT_GITLAB_TOKEN", gitlab_standin.token)
    monkeypatch.setenv("REVIEWBOT_GITLAB_WEBHOOK_SECRET", "hook-secret-0123456789")
    get_settings.cache_clear()
    yield gitlab_standin
    get_settings.cache_clear()


def test_gitlab_connect_registers_one_hook_with_mr_and_note_events(
    gitlab_env: GitLabStandin, capsys: pytest.CaptureFixture[str],
) -> None:
    project = gitlab_env.projects["acme/tools/widgets"]
    args = ["gitlab", "connect", "--project", str(project.id), "--url",
            "https://bot.example.com"]
    assert main(args) == 0
    assert "registered webhook" in capsys.readouterr().out
    assert main([*args, "--format", "json"]) == 0  # again: updated, not duplicated
    assert '"created": false' in capsys.readouterr().out
    (hook,) = project.hooks.values()
    assert hook["url"] == "https://bot.example.com/webhooks/gitlab"
    assert hook["token"] == "hook-secret-0123456789"
    assert (hook["merge_requests_events"], hook["note_events"], hook["push_events"]) == (
        True, True, False)
    assert "hook-secret-0123456789" not in capsys.readouterr().out


def test_gitlab_connect_failures_are_one_clear_line(
    gitlab_env: GitLabStandin, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert main(["gitlab", "connect", "--project", "acme/nope", "--url",
                 "https://bot.example.com"]) == 2
    assert "404" in capsys.readouterr().err
    monkeypatch.setenv("REVIEWBOT_GITLAB_TOKEN", "glpat-wrong-token-000000")
    get_settings.cache_clear()
    assert main(["gitlab", "connect", "--project", "acme/tools/widgets", "--url",
                 "https://bot.example.com"]) == 2
    err = capsys.readouterr().err
    assert "401" in err
    assert "glpat-wrong-token" not in err
    monkeypatch.delenv("REVIEWBOT_GITLAB_WEBHOOK_SECRET")
    get_settings.cache_clear()
    assert main(["gitlab", "connect", "--project", "1", "--url", "https://b.example"]) == 2
    assert "REVIEWBOT_GITLAB_WEBHOOK_SECRET is not set" in capsys.readouterr().err
    assert gitlab_env.projects["acme/tools/widgets"].hooks == {}


def test_manifest_file_exists_beside_the_other_recipes() -> None:
    assert Path(MANIFEST_FILE).is_file()
