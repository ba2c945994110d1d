"""Feedback from people on the bot's comments reaches history: 👍/👎 swept by the job (GitHub
sends no reaction webhooks), a resolved thread applied by the webhook edge."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.forges.markers import find_fingerprints
from bot.history.enums import FindingState, PullRequestState, RunTrigger
from bot.history.models import FindingRecord, PullRequest
from bot.webhooks.app import create_app
from bot.webhooks.queueing import CeleryJobQueue, celery_producer
from tests.forgestandin.github import GitHubStandin
from tests.forgestandin.gitlab import GitLabStandin
from tests.jobs.conftest import PROJECT, REPO, Harness, PullRequestRepo, make_settings
from tests.webhooks.conftest import github_headers, github_payload


def _states(sessions: sessionmaker[Session]) -> dict[str, tuple[FindingState, str | None]]:
    with sessions() as session:
        rows = session.scalars(select(FindingRecord))
        return {r.rule: (r.state, r.triage_verdict) for r in rows}


def _comment_for(standin: GitHubStandin, rule_part: str) -> dict[str, Any]:
    [comment] = [c for c in standin.repos[REPO].review_comments if rule_part in c["body"]]
    return comment


def test_a_thumbs_down_dismisses_the_finding_at_the_next_sweep(
        github: Harness, github_standin: GitHubStandin, pr_repo: PullRequestRepo) -> None:
    github.run(github.job(pr_repo.head_sha))
    [flagged] = [r for r in _states(github.sessions) if "B602" in r]
    comment = _comment_for(github_standin, "subprocess")
    github_standin.react_to_review_comment(REPO, comment["id"], "-1")
    github_standin.react_to_review_comment(REPO, comment["id"], "+1")
    github_standin.close_pull(REPO, 1, merged=True)

    closed = github.run(github.job(pr_repo.head_sha, trigger=RunTrigger.CLOSED))

    assert closed.outcome == "feedback", closed.detail
    with github.sessions() as session:  # the digest counts it as merged
        assert session.scalars(select(PullRequest.state)).one() is PullRequestState.MERGED
    assert _states(github.sessions)[flagged] == (FindingState.DISMISSED, "downvoted")


def test_gitlab_award_emoji_are_swept_too(gitlab: Harness, gitlab_standin: GitLabStandin,
                                          pr_repo: PullRequestRepo) -> None:
    gitlab.run(gitlab.job(pr_repo.head_sha))
    project = gitlab_standin.projects[PROJECT]
    notes = [n for n in project.notes if find_fingerprints(n["body"])]
    [note] = notes
    gitlab_standin.add_user("maria", 30, PROJECT)
    gitlab_standin.award_as("maria", PROJECT, note["id"], "thumbsup")
    gitlab_standin.award_as(gitlab_standin.bot_username, PROJECT, note["id"], "thumbsdown")

    gitlab.run(gitlab.job(pr_repo.head_sha, trigger=RunTrigger.CLOSED))

    verdicts = {v for _, v in _states(gitlab.sessions).values()}
    assert verdicts == {"upvoted"}  # the bot's own 👎 is not counted
    assert {s for s, _ in _states(gitlab.sessions).values()} == {FindingState.POSTED}


async def test_a_resolved_thread_of_the_bot_settles_its_finding_at_the_edge(
        github: Harness, github_standin: GitHubStandin, pr_repo: PullRequestRepo,
        sqlite_url: str, broker: Any) -> None:
    await asyncio.to_thread(github.run, github.job(pr_repo.head_sha))
    comment = _comment_for(github_standin, "subprocess")
    payload = json.loads(github_payload("pull_request_review_thread", "resolved.payload.json"))
    payload["repository"]["full_name"] = REPO
    payload["pull_request"]["number"] = 1
    thread = payload["thread"]["comments"][0]
    thread["body"] = comment["body"]  # the bot's comment, its hidden marker included
    thread["user"].update({"login": github_standin.bot_login, "type": "Bot"})
    body = json.dumps(payload).encode()
    settings = make_settings(sqlite_url)
    app = create_app(settings, sessions=github.sessions,
                     job_queue=CeleryJobQueue(celery_producer(settings)))

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://edge") as client:
        answer = await client.post("/webhooks/github", content=body, headers=github_headers(
            "pull_request_review_thread", body))

    assert answer.status_code in (200, 202)
    states = {rule: s for rule, (s, _) in _states(github.sessions).items()}
    # resolved while the flagged code is unchanged: the reviewer dismissed it
    assert FindingState.DISMISSED in states.values()
    assert sum(1 for s in states.values() if s is FindingState.DISMISSED) == 1
    mine = [m for m in broker.messages("review") if m["kwargs"]["repo"] == REPO]
    assert mine == []  # nothing for a worker to do
