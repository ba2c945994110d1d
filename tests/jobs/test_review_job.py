"""The worker's review job end to end: the GitHub / GitLab stand-ins (real HTTP, OpenAPI-checked),
a real git mirror fetched over smart HTTP, the vLLM stand-in, and the history database."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.commands import Command
from bot.errors import ForgeUnavailable
from bot.history.deliveries import find_delivery
from bot.history.enums import DeliveryStatus, FindingState, RunStatus, RunTrigger
from bot.history.models import FindingRecord, ReviewRun
from bot.posting import CHECK_NAME
from tests.forgestandin.github import GitHubStandin
from tests.forgestandin.gitlab import GitLabStandin
from tests.jobs.conftest import PROJECT, REPO, Harness, PullRequestRepo
from tests.standin.server import StandinServer

REVIEW = "Review the diff above"
SECURITY = "application security engineer"
TRIAGE = "Static analyzers flagged"


def _script_model(engine: StandinServer) -> None:
    engine.script({"summary": "Adds an average helper and a command runner.", "findings": [{
        "path": "app.py", "line": 12, "end_line": 12, "severity": "medium", "category": "bug",
        "rule": "zero-division", "quote": "return total(items) / len(items)",
        "message": "Divides by zero for an empty list.", "suggestion": None}]}, marker=REVIEW)
    engine.script({"findings": []}, marker=SECURITY)
    engine.script({"verdicts": []}, marker=TRIAGE)


def _runs(sessions: sessionmaker[Session]) -> list[ReviewRun]:
    with sessions() as session:
        return list(session.scalars(select(ReviewRun).order_by(ReviewRun.id)))


def _delivery(harness: Harness, delivery_id: str) -> Any:
    with harness.sessions() as session:
        return find_delivery(session, harness.forge_name, delivery_id)


def _bot_comments(standin: GitHubStandin) -> list[dict[str, Any]]:
    return [c for c in standin.repos[REPO].issue_comments.values()
            if c["user"]["login"] == standin.bot_login]


def _user_comment(standin: GitHubStandin, user: str, body: str) -> int:
    """A comment a person wrote on the PR (what the issue_comment webhook announced)."""
    comment_id = standin.next_id()
    standin.repos[REPO].issue_comments[comment_id] = {
        "id": comment_id, "number": 1, "body": body, "user": standin.user(user)}
    return comment_id


def test_an_opened_pull_request_gets_one_review_summary_and_check(
        github: Harness, github_standin: GitHubStandin, pr_repo: PullRequestRepo,
        vllm_standin: Any) -> None:
    engine = vllm_standin()
    _script_model(engine)
    job = github.job(pr_repo.head_sha)

    result = github.run(job, engine_urls=[engine.url])

    assert result.outcome == "reviewed", result.detail
    state = github_standin.repos[REPO]
    [review] = state.reviews
    assert review["state"] == "COMMENTED"  # never an approval
    inline = {(c["path"], c["line"]) for c in state.review_comments}
    assert ("app.py", 12) in inline  # the model's finding, on the added line
    assert ("app.py", 16) in inline  # bandit's shell=True on the added command runner
    [summary] = _bot_comments(github_standin)
    assert "Adds an average helper" in summary["body"]
    [check] = state.check_runs.values()
    assert (check["name"], check["status"], check["conclusion"]) == (
        CHECK_NAME, "completed", "success")  # fail_on: critical in .reviewbot.yml
    assert check["head_sha"] == pr_repo.head_sha
    assert check["output"]["annotations_count"] >= 2
    [run] = _runs(github.sessions)
    assert (run.status, run.conclusion, run.head_sha) == (
        RunStatus.COMPLETED, "success", pr_repo.head_sha)
    assert run.prompt_tokens > 0
    assert run.engine_call_count == 3
    with github.sessions() as session:
        states = set(session.scalars(select(FindingRecord.state)))
    assert states == {FindingState.POSTED}
    assert _delivery(github, job.delivery_id).status is DeliveryStatus.COMPLETED


def test_a_redelivered_job_posts_nothing_twice(github: Harness, github_standin: GitHubStandin,
                                               pr_repo: PullRequestRepo) -> None:
    job = github.job(pr_repo.head_sha)
    first = github.run(job)
    state = github_standin.repos[REPO]
    reviews, comments = len(state.reviews), len(state.review_comments)

    again = github.run(job)  # the broker handed the same job out twice
    reopened = github.run(github.job(pr_repo.head_sha, trigger=RunTrigger.REOPENED))

    assert first.outcome == "reviewed"
    assert first.posted_comments == comments >= 1
    assert (again.outcome, reopened.outcome) == ("skipped", "skipped")
    assert "already reviewed" in again.detail
    assert (len(state.reviews), len(state.review_comments)) == (reviews, comments)
    assert len(_bot_comments(github_standin)) == 1
    assert len(_runs(github.sessions)) == 1


def test_a_new_push_posts_only_new_findings_and_edits_the_summary(
        github: Harness, github_standin: GitHubStandin, pr_repo: PullRequestRepo) -> None:
    github.run(github.job(pr_repo.head_sha))
    state = github_standin.repos[REPO]
    first_comments = len(state.review_comments)
    # the flagged runner moves down the file and a second shell call appears
    head = pr_repo.push({"app.py": "# moved\n\n" + open_text(pr_repo) + '''

def cleanup(path):
    return subprocess.call("rm -rf " + path, shell=True)
'''})
    github_standin.add_pull(REPO, 1)

    result = github.run(github.job(head, trigger=RunTrigger.SYNCHRONIZE))

    assert result.outcome == "reviewed", result.detail
    assert result.posted_comments == 1  # only the new cleanup() finding
    new = state.review_comments[first_comments:]
    assert [c["line"] for c in new] == [len(open_text(pr_repo).splitlines())]
    [summary] = _bot_comments(github_standin)  # edited in place, not a second comment
    assert head[:12] in summary["body"]


def open_text(pr_repo: PullRequestRepo) -> str:
    return pr_repo.repo.git("show", f"{pr_repo.head_sha}:app.py")


def test_a_superseded_head_is_not_reviewed(github: Harness, github_standin: GitHubStandin,
                                           pr_repo: PullRequestRepo) -> None:
    old = pr_repo.head_sha
    pr_repo.push({"README.md": "newer\n"})
    github_standin.add_pull(REPO, 1)

    result = github.run(github.job(old, trigger=RunTrigger.SYNCHRONIZE))

    assert result.outcome == "skipped"
    assert result.detail.startswith("superseded")
    state = github_standin.repos[REPO]
    assert (state.reviews, state.check_runs) == ([], {})
    assert _runs(github.sessions) == []


@pytest.mark.parametrize("merged", [False, True])
def test_a_pr_closed_before_its_job_ran_is_not_reviewed(
        github: Harness, github_standin: GitHubStandin, pr_repo: PullRequestRepo,
        merged: bool) -> None:
    """The job reads the PR as GitHub has it now: closed (or merged) while the job waited
    in the queue, it posts nothing and starts no check."""
    github_standin.close_pull(REPO, 1, merged=merged)

    result = github.run(github.job(pr_repo.head_sha))

    assert result.outcome == "skipped"
    assert result.detail == f"the pull request is {'merged' if merged else 'closed'}"
    state = github_standin.repos[REPO]
    assert (state.reviews, state.review_comments, state.check_runs) == ([], [], {})
    assert _runs(github.sessions) == []


def test_engine_outage_posts_the_static_review_with_a_neutral_check(
        github: Harness, github_standin: GitHubStandin, pr_repo: PullRequestRepo,
        vllm_standin: Any) -> None:
    engine = vllm_standin()
    url = engine.url
    engine.stop()  # nothing listens there any more

    result = github.run(github.job(pr_repo.head_sha), engine_urls=[url])

    assert result.outcome == "reviewed"
    state = github_standin.repos[REPO]
    [check] = state.check_runs.values()
    assert check["conclusion"] == "neutral"
    assert "could not review" in check["output"]["summary"]
    assert {c["path"] for c in state.review_comments} == {"app.py"}  # bandit still ran
    [summary] = _bot_comments(github_standin)
    assert "model review unavailable" in summary["body"]
    [run] = _runs(github.sessions)
    assert run.status is RunStatus.NEUTRAL


def test_forge_outage_is_retried_then_recorded_with_a_neutral_check(
        github: Harness, github_standin: GitHubStandin, pr_repo: PullRequestRepo) -> None:
    job = github.job(pr_repo.head_sha)
    github_standin.fail_next(502, count=1)
    with pytest.raises(ForgeUnavailable):
        github.run(job)  # Celery retries this one
    assert _delivery(github, job.delivery_id).status is DeliveryStatus.PROCESSING

    github_standin.fail_next(503, count=1)
    result = github.run(job, final_attempt=True)

    assert result.outcome == "failed"
    delivery = _delivery(github, job.delivery_id)
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.FAILED, 2)
    assert "503" in (delivery.last_error or "")


def test_a_failure_after_the_check_started_leaves_it_neutral(
        github: Harness, github_standin: GitHubStandin, pr_repo: PullRequestRepo) -> None:
    job = github.job(pr_repo.head_sha)
    # the mirror cannot be fetched: the repository vanished from the forge's git server
    (github_standin._git_root / f"{REPO}.git").unlink()

    result = github.run(job, final_attempt=True)

    assert result.outcome == "failed"
    [check] = github_standin.repos[REPO].check_runs.values()
    assert (check["status"], check["conclusion"]) == ("completed", "neutral")
    assert "/review" in check["output"]["summary"]
    [run] = _runs(github.sessions)
    assert run.status is RunStatus.FAILED
    assert github_standin.repos[REPO].reviews == []


def test_commands_need_write_access(github: Harness, github_standin: GitHubStandin) -> None:
    refused = github.run(github.command(
        Command.REVIEW, "visitor", _user_comment(github_standin, "visitor", "/review")))
    assert refused.outcome == "skipped"
    state = github_standin.repos[REPO]
    assert [r["content"] for r in state.reactions] == ["confused"]
    assert state.reviews == []
    [refusal] = _bot_comments(github_standin)
    assert "needs write access" in refusal["body"]

    allowed = github.run(github.command(
        Command.REVIEW, "maintainer", _user_comment(github_standin, "maintainer", "/review")))
    assert allowed.outcome == "reviewed", allowed.detail
    assert [r["content"] for r in state.reactions] == ["confused", "eyes"]
    assert len(state.reviews) == 1
    [run] = _runs(github.sessions)
    assert run.trigger is RunTrigger.COMMAND


def test_a_command_on_a_line_of_the_diff_is_acknowledged_there(
        github: Harness, github_standin: GitHubStandin) -> None:
    """`/review` typed in a review comment: 👀 on that review comment (GitHub's
    pulls/comments reactions endpoint; the issue-comment one would answer 404), then the
    review of the whole PR."""
    comment_id = github_standin.add_review_comment(REPO, 1, "maintainer", "/review",
                                                   path="app.py", line=12)
    job = github.command(Command.REVIEW, "maintainer", comment_id)

    result = github.run(dataclasses.replace(job, inline_comment=True))

    assert result.outcome == "reviewed", result.detail
    state = github_standin.repos[REPO]
    assert [(r["comment_id"], r["inline"], r["content"]) for r in state.reactions] == [
        (comment_id, True, "eyes")]
    assert len(state.reviews) == 1


def test_help_is_one_comment_edited_in_place(github: Harness,
                                             github_standin: GitHubStandin) -> None:
    for _ in range(2):
        comment = _user_comment(github_standin, "maintainer", "/help")
        assert github.run(github.command(Command.HELP, "maintainer", comment)).outcome == "command"
    [comment] = _bot_comments(github_standin)
    assert "/review security" in comment["body"]


def test_gitlab_merge_request_gets_discussions_and_a_commit_status(
        gitlab: Harness, gitlab_standin: GitLabStandin, pr_repo: PullRequestRepo) -> None:
    result = gitlab.run(gitlab.job(pr_repo.head_sha))

    assert result.outcome == "reviewed", result.detail
    project = gitlab_standin.projects[PROJECT]
    positions = [d["notes"][0]["position"] for d in project.discussions]
    assert {(p["new_path"], p["new_line"]) for p in positions} >= {("app.py", 16)}
    assert all(p["head_sha"] == pr_repo.head_sha for p in positions)
    states = [s["status"] for s in project.statuses if s["sha"] == pr_repo.head_sha]
    assert states[0] == "running"  # in progress while the review runs
    assert states[-1] == "success"
    assert len(project.notes) >= 1


def test_a_posted_review_is_counted_in_the_worker_metrics(
        github: Harness, pr_repo: PullRequestRepo) -> None:
    def sample(name: str, **labels: str) -> float:
        return REGISTRY.get_sample_value(name, labels) or 0.0

    posted = sample("reviewbot_reviews_total", forge="github", outcome="posted")
    high = sample("reviewbot_findings_posted_total", severity="high")
    durations = sample("reviewbot_review_duration_seconds_count", forge="github",
                       trigger="opened")
    skipped = sample("reviewbot_reviews_total", forge="github", outcome="skipped")

    github.run(github.job(pr_repo.head_sha))
    github.run(github.job(pr_repo.head_sha, trigger=RunTrigger.REOPENED))

    assert sample("reviewbot_reviews_total", forge="github", outcome="posted") == posted + 1
    assert sample("reviewbot_findings_posted_total", severity="high") >= high + 1
    assert sample("reviewbot_review_duration_seconds_count", forge="github",
                  trigger="opened") == durations + 1
    assert sample("reviewbot_reviews_total", forge="github", outcome="skipped") == skipped + 1
