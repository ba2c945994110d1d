"""The GitLab adapter against the GitLab stand-in (real HTTP, positions checked on the diff)."""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import closing

import pytest

from bot.errors import ForgeError, ForgeRateLimited, ForgeUnavailable
from bot.forges.base import Annotation, InlineComment
from bot.forges.gitlab import GitLabForge
from bot.forges.markers import summary_marker
from tests.forges.conftest import PullRepo
from tests.forgestandin.gitlab import GitLabStandin, Project

REPO = "acme/tools/widgets"


def _project(standin: GitLabStandin) -> Project:
    return standin.projects[REPO]


def test_merge_request_and_config_file(gitlab_forge: GitLabForge, gitlab_standin: GitLabStandin,
                                       pull_repo: PullRepo) -> None:
    mr = gitlab_forge.get_pull_request(REPO, 3)
    assert (mr.number, mr.head_sha, mr.state, mr.default_branch) == (
        3, pull_repo.head_sha, "open", "main")
    assert (mr.base_sha, mr.start_sha) == (pull_repo.base_sha, pull_repo.base_sha)
    assert gitlab_forge.read_file(REPO, ".reviewbot.yml", "main") == b"min_severity: low\n"
    assert gitlab_forge.read_file(REPO, "nope.yml", "main") is None
    assert gitlab_forge.bot_login() == "project_1_bot"


def test_discussions_land_on_the_diff(gitlab_forge: GitLabForge, gitlab_standin: GitLabStandin,
                                      pull_repo: PullRepo, advance_main: Callable[[], str]) -> None:
    advance_main()  # start_sha (target tip) now differs from base_sha (merge base)
    gitlab_standin.add_merge_request(REPO, 4)
    diff = _project(gitlab_standin).mrs[4].diff
    added = min(line for path, line in diff.added if path == "app.py")
    old, new = min((o, n) for path, o, n in diff.context if path == "app.py")
    removed = min(line for path, line in diff.removed if path == "app.py")
    comments = [
        InlineComment("app.py", added, "added", fingerprint="a1", suggestion="    pass"),
        InlineComment("app.py", new, "context", old_line=old, fingerprint="c1"),
        InlineComment("app.py", removed, "removed", side="LEFT", fingerprint="r1"),
        InlineComment("big.py", 6, "range", start_line=4, suggestion="x = 1", fingerprint="g1"),
        InlineComment("app.py", new, "context without old_line", fingerprint="bad"),
    ]
    posted = gitlab_forge.post_review(REPO, 4, pull_repo.head_sha, "Summary", comments)

    project = _project(gitlab_standin)
    positions = [d["notes"][0]["position"] for d in project.discussions]
    assert [(p.get("old_line", None), p.get("new_line")) for p in positions] == [
        (None, added), (old, new), (removed, None), (None, 6)]
    mr = project.mrs[4]
    assert all((p["base_sha"], p["start_sha"], p["head_sha"]) == (mr.base_sha, mr.start_sha,
                                                                  mr.head_sha) for p in positions)
    assert mr.base_sha != mr.start_sha
    assert "```suggestion:-2+0\nx = 1\n```" in project.discussions[3]["notes"][0]["body"]
    assert [c.fingerprint for c in posted.overflow] == ["bad"]  # refused by GitLab: in summary
    summary = project.notes[-1]["body"]
    assert "1 more finding(s)" in summary
    assert "<!-- reviewbot:fp=bad -->" in summary
    assert gitlab_forge.list_bot_markers(REPO, 4) == {"a1", "c1", "r1", "g1", "bad"}


def test_more_than_30_comments_go_to_the_summary(
    gitlab_forge: GitLabForge, gitlab_standin: GitLabStandin, pull_repo: PullRepo
) -> None:
    comments = [InlineComment("big.py", n, f"finding {n}", fingerprint=f"fp{n}")
                for n in range(1, 36)]
    posted = gitlab_forge.post_review(REPO, 3, pull_repo.head_sha, "Summary", comments)
    assert (len(posted.inline), len(posted.overflow)) == (30, 5)
    assert len(_project(gitlab_standin).discussions) == 30
    assert len(gitlab_standin.requests_to("POST", r"/discussions$")) == 30


def test_rate_limit_becomes_retry_after(gitlab_forge: GitLabForge,
                                        gitlab_standin: GitLabStandin) -> None:
    gitlab_standin.rate_limited_for = 17
    started = time.monotonic()
    with pytest.raises(ForgeRateLimited) as caught:
        gitlab_forge.post_comment(REPO, 3, "hello")
    assert time.monotonic() - started < 2
    assert caught.value.retry_after == 17
    assert len(gitlab_standin.recorded) == 1  # python-gitlab did not sleep and retry


def test_server_error_is_transient(gitlab_forge: GitLabForge,
                                   gitlab_standin: GitLabStandin) -> None:
    gitlab_standin.fail_next(503)
    with pytest.raises(ForgeUnavailable):
        gitlab_forge.get_pull_request(REPO, 3)
    assert len(gitlab_standin.recorded) == 1


def test_summary_note_is_updated_in_place(gitlab_forge: GitLabForge,
                                          gitlab_standin: GitLabStandin) -> None:
    marker = summary_marker("review")
    first = gitlab_forge.upsert_summary(REPO, 3, marker, "3 findings")
    second = gitlab_forge.upsert_summary(REPO, 3, marker, "all fixed")
    assert first == second
    [note] = _project(gitlab_standin).notes
    assert note["body"].startswith("all fixed")
    assert marker in note["body"]
    assert len(gitlab_standin.requests_to("PUT", rf"/notes/{first}$")) == 1


def test_commit_status_lifecycle(gitlab_forge: GitLabForge, gitlab_standin: GitLabStandin,
                                 pull_repo: PullRepo) -> None:
    check = gitlab_forge.start_check(REPO, pull_repo.head_sha, "reviewbot")
    gitlab_forge.start_check(REPO, pull_repo.head_sha, "reviewbot")  # redelivered job
    gitlab_forge.complete_check(REPO, check, pull_repo.head_sha, "neutral", "Engine unavailable",
                                "details", [Annotation("big.py", 1, 1, "warning", "m")])
    statuses = [(s["name"], s["status"]) for s in _project(gitlab_standin).statuses]
    assert statuses == [("reviewbot", "running"), ("reviewbot", "canceled")]
    assert _project(gitlab_standin).statuses[-1]["description"] == "Engine unavailable"


def test_permission_mapping(gitlab_forge: GitLabForge, gitlab_standin: GitLabStandin) -> None:
    for name, level in [("owner", 50), ("maint", 40), ("dev", 30), ("rep", 20), ("out", None)]:
        gitlab_standin.add_user(name, level, REPO)
    got = {u: gitlab_forge.permission(REPO, u)
           for u in ["owner", "maint", "dev", "rep", "out", "ghost"]}
    assert got == {"owner": "admin", "maint": "write", "dev": "write", "rep": "read",
                   "out": "none", "ghost": "none"}


def test_reactions_comments_and_digest_issue(gitlab_forge: GitLabForge,
                                             gitlab_standin: GitLabStandin) -> None:
    note_id = gitlab_forge.post_comment(REPO, 3, "/review")
    gitlab_forge.react(REPO, 3, note_id, "+1")
    assert [(a["note_id"], a["name"]) for a in _project(gitlab_standin).awards] == [
        (note_id, "thumbsup")]
    first = gitlab_forge.upsert_issue(REPO, "Weekly digest", "week 1", "reviewbot-digest")
    second = gitlab_forge.upsert_issue(REPO, "Weekly digest", "week 2", "reviewbot-digest")
    assert first == second
    issues = _project(gitlab_standin).issues
    assert len(issues) == 1
    assert issues[first.number]["description"] == "week 2"


def test_bad_token_is_a_forge_error(gitlab_standin: GitLabStandin, pull_repo: PullRepo) -> None:
    gitlab_standin.add_project(REPO, pull_repo.repo.root)
    forge = GitLabForge(gitlab_standin.base_url, "glpat-wrong", write_interval_s=0)
    with closing(forge), pytest.raises(ForgeError) as caught:
        forge.get_pull_request(REPO, 3)
    assert caught.value.status == 401
