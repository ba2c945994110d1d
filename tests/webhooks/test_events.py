"""Handlers called directly with the recorded payloads: what each event becomes."""

from __future__ import annotations

import json
from typing import Any

from bot.commands import Command
from bot.events.github import (
    github_check_rerequested,
    github_installation_changed,
    github_pr_comment,
    github_pull_request_changed,
)
from bot.events.gitlab import gitlab_merge_request_changed
from bot.events.outcomes import (
    InstallationAction,
    InstallationUpdate,
    Priority,
    RepoRef,
    ReviewJob,
)
from bot.history.enums import Forge, RunTrigger
from bot.webhooks.routing import HandlerContext, WebhookEvent
from tests.webhooks.conftest import github_payload, gitlab_payload, pr_comment

CONTEXT = HandlerContext(bot_logins=frozenset({"reviewbot"}))


def github_event(name: str, payload: dict[str, Any]) -> WebhookEvent:
    return WebhookEvent(forge=Forge.GITHUB, event=name, action=payload.get("action"),
                        delivery_id="d-1", payload=payload)


def test_a_review_job_survives_the_trip_through_task_kwargs() -> None:
    job = ReviewJob(forge=Forge.GITLAB, repo="group/sub/project", number=7, head_sha="abc",
                    trigger=RunTrigger.COMMAND, delivery_id="k", priority=Priority.INTERACTIVE,
                    command=Command.REVIEW_SECURITY, comment_id=9, requested_by="dev",
                    project_id=42)
    kwargs = json.loads(json.dumps(job.task_kwargs()))
    assert ReviewJob.from_task_kwargs(kwargs) == job


def test_each_pr_action_keeps_its_trigger() -> None:
    for action in ("opened", "reopened", "synchronize"):
        payload = json.loads(github_payload("pull_request", f"{action}.payload.json"))
        [job] = github_pull_request_changed(github_event("pull_request", payload), CONTEXT)
        assert isinstance(job, ReviewJob)
        assert job.trigger == RunTrigger(action)
        assert job.priority is Priority.REVIEW


def test_a_draft_waits_until_it_is_ready() -> None:
    payload = json.loads(github_payload("pull_request", "reopened.payload.json"))
    payload["pull_request"]["draft"] = True
    assert github_pull_request_changed(github_event("pull_request", payload), CONTEXT) == []
    ready = json.loads(github_payload("pull_request", "ready_for_review.payload.json"))
    ready["pull_request"]["draft"] = True  # as GitHub may still report it in the payload
    [job] = github_pull_request_changed(github_event("pull_request", ready), CONTEXT)
    assert isinstance(job, ReviewJob)
    assert job.trigger is RunTrigger.READY_FOR_REVIEW


def test_the_bot_itself_is_ignored_by_login_too() -> None:
    payload = json.loads(pr_comment("/review", user={"login": "ReviewBot", "type": "User"}))
    assert github_pr_comment(github_event("issue_comment", payload), CONTEXT) == []


def test_check_rerun_reviews_every_pr_of_the_check() -> None:
    payload = json.loads(github_payload("check_run", "requested_action.payload.json"))
    payload["action"] = "rerequested"
    jobs = github_check_rerequested(github_event("check_run", payload), CONTEXT)
    assert [(j.number, j.trigger) for j in jobs if isinstance(j, ReviewJob)] == [
        (26764, RunTrigger.REREQUESTED)]


def test_installation_created_lists_its_repositories() -> None:
    payload = json.loads(github_payload("installation", "created.payload.json"))
    [update] = github_installation_changed(github_event("installation", payload), CONTEXT)
    assert update == InstallationUpdate(
        forge=Forge.GITHUB, installation_id=957387, account="Codertocat",
        action=InstallationAction.CREATED,
        repositories_added=(RepoRef(186853002, "Codertocat/Hello-World"),))


def test_gitlab_mr_leaving_draft_is_reviewed_and_a_draft_push_is_not() -> None:
    payload = json.loads(gitlab_payload("merge_request.json"))
    payload["object_attributes"].update(action="update", draft=False)
    payload["changes"] = {"draft": {"previous": True, "current": False}}
    event = WebhookEvent(forge=Forge.GITLAB, event="Merge Request Hook", action="update",
                         delivery_id="k", payload=payload)
    [job] = gitlab_merge_request_changed(event, CONTEXT)
    assert isinstance(job, ReviewJob)
    assert job.trigger is RunTrigger.READY_FOR_REVIEW

    payload["changes"] = {}
    payload["object_attributes"].update(oldrev="0" * 40, draft=True)
    assert gitlab_merge_request_changed(event, CONTEXT) == []


def test_gitlab_system_hook_for_a_push_is_ignored() -> None:
    payload = json.loads(gitlab_payload("push.json"))
    event = WebhookEvent(forge=Forge.GITLAB, event="System Hook", action=None,
                         delivery_id="k", payload=payload)
    assert gitlab_merge_request_changed(event, CONTEXT) == []
