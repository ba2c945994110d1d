"""GitHub event handlers: pull requests, PR comment commands, check-run buttons, installs.

Plain functions registered by (event, action) on one router per feature; each returns the
`ReviewJob`s or `InstallationUpdate`s the event calls for (empty: nothing to do). They do no
I/O, so tests call them directly with the recorded payloads.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.commands import Command, parse_command
from bot.events.outcomes import (
    FeedbackKind,
    FeedbackUpdate,
    InstallationAction,
    InstallationUpdate,
    Outcome,
    Priority,
    RepoRef,
    ReviewJob,
)
from bot.forges.markers import find_fingerprints
from bot.history.enums import Forge, RunTrigger
from bot.webhooks.routing import HandlerContext, Router, WebhookEvent

# Identifiers of the buttons the bot puts on its own check runs (`requested_action`).
CHECK_ACTIONS: Mapping[str, Command] = {
    "review": Command.REVIEW,
    "review-security": Command.REVIEW_SECURITY,
    "tests": Command.TESTS,
    "describe": Command.DESCRIBE,
}

_PR_TRIGGERS = {
    "opened": RunTrigger.OPENED,
    "synchronize": RunTrigger.SYNCHRONIZE,
    "reopened": RunTrigger.REOPENED,
    "ready_for_review": RunTrigger.READY_FOR_REVIEW,
}

github_pull_requests: Router[Outcome] = Router()
github_comments: Router[Outcome] = Router()
github_checks: Router[Outcome] = Router()
github_installations: Router[Outcome] = Router()


def _installation_id(payload: Mapping[str, Any]) -> int | None:
    installation = payload.get("installation") or {}
    value = installation.get("id")
    return int(value) if value is not None else None


def is_bot_account(user: Mapping[str, Any] | None, context: HandlerContext) -> bool:
    """GitHub: an App or machine account, or the bot itself."""
    if not user:
        return True
    login = str(user.get("login", ""))
    return (
        user.get("type") == "Bot"
        or login.lower().endswith("[bot]")
        or login.lower() in context.bot_logins
    )


@github_pull_requests.register("pull_request", "opened")
@github_pull_requests.register("pull_request", "synchronize")
@github_pull_requests.register("pull_request", "reopened")
@github_pull_requests.register("pull_request", "ready_for_review")
def github_pull_request_changed(event: WebhookEvent, context: HandlerContext) -> list[Outcome]:
    """A PR was opened or pushed to, or left draft: review it (drafts wait)."""
    pull = event.payload["pull_request"]
    trigger = _PR_TRIGGERS[str(event.action)]
    if pull.get("draft") and trigger is not RunTrigger.READY_FOR_REVIEW:
        return []
    return [
        ReviewJob(
            forge=Forge.GITHUB,
            repo=event.payload["repository"]["full_name"],
            number=int(pull["number"]),
            head_sha=pull["head"]["sha"],
            trigger=trigger,
            delivery_id=event.delivery_id,
            installation_id=_installation_id(event.payload),
            before_sha=event.payload.get("before") if trigger is RunTrigger.SYNCHRONIZE else None,
        )
    ]


@github_pull_requests.register("pull_request", "closed")
def github_pull_request_closed(event: WebhookEvent, context: HandlerContext) -> list[Outcome]:
    """A PR closed or merged: one last sweep of the reactions on the bot's comments."""
    pull = event.payload["pull_request"]
    return [ReviewJob(forge=Forge.GITHUB, repo=event.payload["repository"]["full_name"],
                      number=int(pull["number"]), head_sha=pull["head"]["sha"],
                      trigger=RunTrigger.CLOSED, delivery_id=event.delivery_id,
                      installation_id=_installation_id(event.payload))]


@github_pull_requests.register("pull_request_review_thread", "resolved")
def github_thread_resolved(event: WebhookEvent, context: HandlerContext) -> list[Outcome]:
    """A reviewer resolved a thread the bot opened: its finding is fixed or dismissed."""
    comments = (event.payload.get("thread") or {}).get("comments") or []
    fingerprints = sorted({fp for c in comments if is_bot_account(c.get("user"), context)
                           for fp in find_fingerprints(str(c.get("body") or ""))})
    if not fingerprints:
        return []
    return [FeedbackUpdate(forge=Forge.GITHUB, repo=event.payload["repository"]["full_name"],
                           number=int(event.payload["pull_request"]["number"]),
                           fingerprints=tuple(fingerprints), kind=FeedbackKind.THREAD_RESOLVED,
                           actor=str((event.payload.get("sender") or {}).get("login", "")))]


def _command_job(event: WebhookEvent, context: HandlerContext, comment: dict[str, Any],
                 number: int, *, inline: bool) -> list[Outcome]:
    """The job for a person's comment that is one of the commands; nothing otherwise."""
    if is_bot_account(event.payload.get("sender"), context) or is_bot_account(
        comment.get("user"), context
    ):
        return []
    command = parse_command(str(comment.get("body") or ""))
    if command is None:
        return []
    return [
        ReviewJob(
            forge=Forge.GITHUB,
            repo=event.payload["repository"]["full_name"],
            number=number,
            head_sha=None,
            trigger=RunTrigger.COMMAND,
            delivery_id=event.delivery_id,
            installation_id=_installation_id(event.payload),
            priority=Priority.INTERACTIVE,
            command=command,
            comment_id=int(comment["id"]),
            inline_comment=inline,
            requested_by=str(comment["user"]["login"]),
            author_association=comment.get("author_association"),
        )
    ]


@github_comments.register("issue_comment", "created")
def github_pr_comment(event: WebhookEvent, context: HandlerContext) -> list[Outcome]:
    """A comment in a PR's conversation that is one of the commands, written by a person."""
    issue = event.payload["issue"]
    if not issue.get("pull_request"):
        return []
    return _command_job(event, context, event.payload["comment"], int(issue["number"]),
                        inline=False)


@github_comments.register("pull_request_review_comment", "created")
def github_review_comment(event: WebhookEvent, context: HandlerContext) -> list[Outcome]:
    """A command typed in a comment on a line of the diff (or a reply in a bot's thread):
    acknowledged on that comment, run for the whole PR."""
    return _command_job(event, context, event.payload["comment"],
                        int(event.payload["pull_request"]["number"]), inline=True)


def _check_run_jobs(
    event: WebhookEvent, trigger: RunTrigger, command: Command | None
) -> list[Outcome]:
    check_run = event.payload["check_run"]
    sender = event.payload.get("sender") or {}
    return [
        ReviewJob(
            forge=Forge.GITHUB,
            repo=event.payload["repository"]["full_name"],
            number=int(pull["number"]),
            head_sha=check_run["head_sha"],
            trigger=trigger,
            delivery_id=event.delivery_id,
            installation_id=_installation_id(event.payload),
            priority=Priority.INTERACTIVE,
            command=command,
            requested_by=sender.get("login"),
        )
        for pull in check_run.get("pull_requests") or ()
    ]


@github_checks.register("check_run", "rerequested")
def github_check_rerequested(event: WebhookEvent, context: HandlerContext) -> list[Outcome]:
    """"Re-run" on the bot's check: review each PR of that check run again."""
    return _check_run_jobs(event, RunTrigger.REREQUESTED, None)


@github_checks.register("check_run", "requested_action")
def github_check_action(event: WebhookEvent, context: HandlerContext) -> list[Outcome]:
    """A button on the bot's check run; only the bot's own identifiers mean anything."""
    identifier = str((event.payload.get("requested_action") or {}).get("identifier", ""))
    command = CHECK_ACTIONS.get(identifier)
    if command is None:
        return []
    return _check_run_jobs(event, RunTrigger.REQUESTED_ACTION, command)


_INSTALLATION_ACTIONS = {
    "created": InstallationAction.CREATED,
    "deleted": InstallationAction.DELETED,
    "suspend": InstallationAction.SUSPENDED,
    "unsuspend": InstallationAction.UNSUSPENDED,
    "new_permissions_accepted": InstallationAction.PERMISSIONS_ACCEPTED,
    "added": InstallationAction.REPOSITORIES_CHANGED,
    "removed": InstallationAction.REPOSITORIES_CHANGED,
}


def _repo_refs(items: Any) -> tuple[RepoRef, ...]:
    return tuple(RepoRef(int(item["id"]), str(item["full_name"])) for item in items or ())


@github_installations.register("installation")
@github_installations.register("installation_repositories")
def github_installation_changed(event: WebhookEvent, context: HandlerContext) -> list[Outcome]:
    """The App was installed, removed, suspended, or its repository selection changed."""
    action = _INSTALLATION_ACTIONS.get(str(event.action))
    if action is None:
        return []
    payload = event.payload
    installation = payload["installation"]
    added = payload.get("repositories_added") if event.event == "installation_repositories" else (
        payload.get("repositories") if action is InstallationAction.CREATED else ()
    )
    return [
        InstallationUpdate(
            forge=Forge.GITHUB,
            installation_id=int(installation["id"]),
            account=str(installation["account"]["login"]),
            action=action,
            repositories_added=_repo_refs(added),
            repositories_removed=_repo_refs(payload.get("repositories_removed")),
        )
    ]


def github_router() -> Router[Outcome]:
    """Every GitHub handler, composed."""
    return Router(github_pull_requests, github_comments, github_checks, github_installations)
