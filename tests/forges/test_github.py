"""The GitHub adapter against the GitHub stand-in (real HTTP, OpenAPI-checked requests)."""

from __future__ import annotations

import time
from contextlib import closing
from pathlib import Path

import pytest

from bot.errors import ForgeError, ForgeRateLimited, ForgeUnavailable
from bot.forges.base import Annotation, InlineComment
from bot.forges.github import GitHubForge
from bot.forges.gitlab import GitLabForge
from bot.forges.markers import summary_marker
from bot.settings import Settings
from tests.forges.conftest import PullRepo
from tests.forgestandin.fixtures import AppKey, make_app_key
from tests.forgestandin.github import GitHubStandin

REPO = "acme/widgets"


def _lines(standin: GitHubStandin) -> tuple[list[int], list[tuple[int, int]], list[int]]:
    diff = standin.repos[REPO].pulls[1].diff
    added = sorted(line for path, line in diff.added if path == "app.py")
    context = sorted((old, new) for path, old, new in diff.context if path == "app.py")
    removed = sorted(line for path, line in diff.removed if path == "app.py")
    return added, context, removed


def test_pull_request_and_config_file(github_forge: GitHubForge, pull_repo: PullRepo) -> None:
    pr = github_forge.get_pull_request(REPO, 1)
    assert (pr.number, pr.head_sha, pr.base_sha) == (1, pull_repo.head_sha, pull_repo.base_sha)
    assert (pr.base_ref, pr.head_ref, pr.default_branch, pr.author) == (
        "main", "feature", "main", "octocat")
    assert github_forge.read_file(REPO, ".reviewbot.yml", "main") == b"min_severity: low\n"
    assert github_forge.read_file(REPO, "missing.yml", "main") is None
    big = github_forge.read_file(REPO, "big.py", pull_repo.head_sha)
    assert big is not None
    assert big.startswith(b"value_0 = 0\n")


def test_review_comments_land_on_commentable_lines(
    github_forge: GitHubForge, github_standin: GitHubStandin, pull_repo: PullRepo
) -> None:
    added, context, removed = _lines(github_standin)
    comments = [
        InlineComment("app.py", added[0], "added line", fingerprint="fp-added",
                      suggestion="    return x * 3"),
        InlineComment("app.py", context[0][1], "context line", old_line=context[0][0],
                      fingerprint="fp-context"),
        InlineComment("app.py", removed[0], "removed line", side="LEFT", fingerprint="fp-left"),
        InlineComment("big.py", 5, "range", start_line=3, fingerprint="fp-range"),
        InlineComment("big.py", 9, "start equals line", start_line=9, fingerprint="fp-single"),
    ]
    posted = github_forge.post_review(REPO, 1, pull_repo.head_sha, "Summary", comments)

    stored = github_standin.repos[REPO].review_comments
    assert len(posted.inline) == 5
    assert posted.overflow == ()
    assert [c["path"] for c in stored] == ["app.py", "app.py", "app.py", "big.py", "big.py"]
    diff = github_standin.repos[REPO].pulls[1].diff
    for c in stored:
        assert diff.hunk(c["path"], c["line"], c["side"]) is not None
    assert stored[2]["side"] == "LEFT"
    assert (stored[3]["start_line"], stored[3]["line"]) == (3, 5)
    assert stored[4]["start_line"] is None  # omitted: GitHub refuses start_line == line
    assert "```suggestion\n    return x * 3\n```" in stored[0]["body"]
    assert "<!-- reviewbot:fp=fp-added -->" in stored[0]["body"]
    [review_request] = github_standin.requests_to("POST", r"/pulls/1/reviews$")
    assert review_request.body["event"] == "COMMENT"
    assert review_request.body["commit_id"] == pull_repo.head_sha
    assert all("position" not in c for c in review_request.body["comments"])


def test_more_than_30_comments_go_to_the_body(
    github_forge: GitHubForge, github_standin: GitHubStandin, pull_repo: PullRepo
) -> None:
    comments = [InlineComment("big.py", n, f"finding {n}", fingerprint=f"fp{n}")
                for n in range(1, 46)]
    posted = github_forge.post_review(REPO, 1, pull_repo.head_sha, "Summary", comments)

    assert len(posted.inline) == 30
    assert len(posted.overflow) == 15
    assert len(github_standin.repos[REPO].review_comments) == 30
    [review] = github_standin.repos[REPO].reviews
    assert "15 more finding(s)" in review["body"]
    assert "`big.py` line 45" in review["body"]
    assert github_forge.list_bot_markers(REPO, 1) == {f"fp{n}" for n in range(1, 46)}


def test_comment_outside_the_diff_is_a_forge_error(
    github_forge: GitHubForge, github_standin: GitHubStandin, pull_repo: PullRepo
) -> None:
    comments = [InlineComment("big.py", 3, "fine"), InlineComment("app.py", 12, "untouched")]
    with pytest.raises(ForgeError, match="must be part of the diff") as caught:
        github_forge.post_review(REPO, 1, pull_repo.head_sha, "Summary", comments)
    assert caught.value.status == 422
    assert not isinstance(caught.value, ForgeRateLimited | ForgeUnavailable)
    assert github_standin.repos[REPO].reviews == []


@pytest.mark.parametrize(("kind", "seconds"), [("primary", 120), ("secondary", 30)])
def test_rate_limit_becomes_retry_after(
    github_forge: GitHubForge, github_standin: GitHubStandin, kind: str, seconds: int
) -> None:
    github_forge.get_pull_request(REPO, 1)  # token fetched before the limit hits
    github_standin.rate_limit = (kind, seconds)
    before = len(github_standin.recorded)
    started = time.monotonic()
    with pytest.raises(ForgeRateLimited) as caught:
        github_forge.post_comment(REPO, 1, "hello")
    assert time.monotonic() - started < 2  # no sleeping inside the worker
    assert seconds - 3 <= caught.value.retry_after <= seconds + 1
    assert len(github_standin.recorded) == before + 1  # and no retries of its own


def test_server_error_is_transient(github_forge: GitHubForge,
                                   github_standin: GitHubStandin) -> None:
    github_forge.get_pull_request(REPO, 1)
    github_standin.fail_next(502)
    with pytest.raises(ForgeUnavailable):
        github_forge.get_pull_request(REPO, 1)
    assert github_forge.get_pull_request(REPO, 1).number == 1


def test_summary_is_updated_in_place(github_forge: GitHubForge,
                                     github_standin: GitHubStandin) -> None:
    marker = summary_marker("review")
    github_standin.repos[REPO].issue_comments[1] = {
        "id": 1, "number": 1, "body": f"quoting {marker}", "user": github_standin.user("mallory")}
    first = github_forge.upsert_summary(REPO, 1, marker, "3 findings")
    second = github_forge.upsert_summary(REPO, 1, marker, "1 finding left")

    assert first == second != 1
    comments = github_standin.repos[REPO].issue_comments
    assert comments[1]["body"] == f"quoting {marker}"  # someone else's comment untouched
    assert comments[first]["body"].startswith("1 finding left")
    assert marker in comments[first]["body"]
    assert len(github_standin.requests_to("POST", r"/issues/1/comments$")) == 1
    assert len(github_standin.requests_to("PATCH", rf"/issues/comments/{first}$")) == 1


def test_check_run_lifecycle_batches_annotations(
    github_forge: GitHubForge, github_standin: GitHubStandin, pull_repo: PullRepo
) -> None:
    check_id = github_forge.start_check(REPO, pull_repo.head_sha, "reviewbot")
    run = github_standin.repos[REPO].check_runs[int(check_id)]
    assert run["status"] == "in_progress"
    annotations = [Annotation("big.py", n, n, "warning", f"issue {n}") for n in range(1, 121)]
    github_forge.complete_check(REPO, check_id, pull_repo.head_sha, "neutral",
                                "Engine unavailable", "The model engine did not answer.",
                                annotations)

    patches = github_standin.requests_to("PATCH", rf"/check-runs/{check_id}$")
    sizes = [len(p.body["output"]["annotations"]) for p in patches]
    assert sizes == [50, 50, 20]
    assert (run["status"], run["conclusion"]) == ("completed", "neutral")
    assert len(run["annotations"]) == 120


def test_permission_mapping(github_forge: GitHubForge, github_standin: GitHubStandin) -> None:
    github_standin.repos[REPO].collaborators.update(
        {"root": "admin", "maint": "maintain", "dev": "write", "tri": "triage", "guest": "read"})
    got = {u: github_forge.permission(REPO, u)
           for u in ["root", "maint", "dev", "tri", "guest", "stranger"]}
    assert got == {"root": "admin", "maint": "write", "dev": "write", "tri": "read",
                   "guest": "read", "stranger": "none"}


def test_app_jwt_and_installation_token_are_cached(
    github_forge: GitHubForge, github_standin: GitHubStandin
) -> None:
    for _ in range(3):
        github_forge.get_pull_request(REPO, 1)
    github_forge.post_comment(REPO, 1, "hi")

    [token_request] = github_standin.requests_to("POST", r"/app/installations/7/access_tokens$")
    assert token_request.headers["authorization"].startswith("Bearer ")
    assert len(github_standin.requests_to("GET", r"/repos/acme/widgets/installation$")) == 1
    api_calls = github_standin.requests_to("GET", r"/pulls/1$")
    assert {r.headers["authorization"] for r in api_calls} == {
        f"token {t}" for t in github_standin.tokens}


def test_expiring_token_is_refreshed(github_app_key: AppKey, github_standin: GitHubStandin,
                                     pull_repo: PullRepo) -> None:
    github_standin.token_lifetime_s = 10  # inside PyGithub's 20 s refresh margin
    github_standin.add_repo(REPO, pull_repo.repo.root)
    github_standin.add_pull(REPO, 1)
    with closing(GitHubForge("4242", github_app_key.private_pem, github_standin.base_url,
                             write_interval_s=0)) as forge:
        forge.get_pull_request(REPO, 1)
        forge.get_pull_request(REPO, 1)
    assert len(github_standin.requests_to("POST", r"/access_tokens$")) == 2


def test_wrong_app_key_is_refused(github_standin: GitHubStandin, pull_repo: PullRepo) -> None:
    other = make_app_key()  # not the key the App registered
    github_standin.add_repo(REPO, pull_repo.repo.root)
    forge = GitHubForge("4242", other.private_pem, github_standin.base_url, write_interval_s=0)
    with closing(forge), pytest.raises(ForgeError) as caught:
        forge.get_pull_request(REPO, 1)
    assert caught.value.status == 401


def test_reactions_comments_and_digest_issue(
    github_forge: GitHubForge, github_standin: GitHubStandin
) -> None:
    comment_id = github_forge.post_comment(REPO, 1, "/review")
    github_forge.react(REPO, 1, comment_id, "eyes")
    github_forge.react(REPO, 1, comment_id, "eyes")  # already there: 200, no error
    assert [r["content"] for r in github_standin.repos[REPO].reactions] == ["eyes"]

    first = github_forge.upsert_issue(REPO, "Weekly digest", "week 1", "reviewbot-digest")
    second = github_forge.upsert_issue(REPO, "Weekly digest", "week 2", "reviewbot-digest")
    assert first == second
    issues = github_standin.repos[REPO].issues
    assert len(issues) == 1
    assert issues[first.number]["body"] == "week 2"
    assert github_forge.bot_login() == "reviewbot-test[bot]"


def test_standin_refuses_requests_the_description_forbids(
    github_forge: GitHubForge, github_standin: GitHubStandin, pull_repo: PullRepo
) -> None:
    check_id = github_forge.start_check(REPO, pull_repo.head_sha, "reviewbot")
    bad = Annotation("big.py", 1, 1, "warning", "m")
    object.__setattr__(bad, "level", "severe")
    with pytest.raises(ForgeError) as caught:
        github_forge.complete_check(REPO, check_id, pull_repo.head_sha, "success", "t", "s", [bad])
    assert caught.value.status == 422
    assert any("annotation_level" in v for v in github_standin.violations)
    github_standin.violations.clear()


def test_built_from_settings_without_network(github_standin: GitHubStandin,
                                             github_app_key: AppKey, pull_repo: PullRepo,
                                             tmp_path: Path) -> None:
    key_file = tmp_path / "app.pem"
    key_file.write_text(github_app_key.private_pem)
    settings = Settings(github_app_id="4242", github_private_key_path=key_file,
                        github_api_url=github_standin.base_url)
    with closing(GitHubForge.from_settings(settings)) as forge:
        assert github_standin.recorded == []  # the constructor did no I/O
        github_standin.add_repo(REPO, pull_repo.repo.root)
        github_standin.add_pull(REPO, 1)
        assert forge.get_pull_request(REPO, 1).number == 1


def test_unreachable_forges_are_transient(github_app_key: AppKey) -> None:
    github = GitHubForge("4242", github_app_key.private_pem, "http://127.0.0.1:9",
                         write_interval_s=0)
    with closing(github), pytest.raises(ForgeUnavailable):
        github.get_pull_request(REPO, 1)
    gitlab = GitLabForge("http://127.0.0.1:9", "glpat-x", write_interval_s=0)
    with closing(gitlab), pytest.raises(ForgeUnavailable):
        gitlab.get_pull_request("acme/tools/widgets", 3)
