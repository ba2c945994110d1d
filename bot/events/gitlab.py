"""GitLab event handlers: merge requests (open, reopen, new commits, out of draft) and notes.

Plain functions registered by the `X-Gitlab-Event` header (the action is checked inside),
returning `ReviewJob`s; no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from bot.commands import parse_command
from bot.events.outcomes import Outcome, Priority, ReviewJob
from bot.history.enums import Forge, RunTrigger
from bot.webhooks.routing import HandlerContext, Router, WebhookEvent

gitlab_merge_requests: Router[Outcome] = Router()
gitlab_notes: Router[Outcome] = Router()

_MR_TRIGGERS = {"open": RunTrigger.OPENED, "reopen": RunTrigger.REOPENED,
                "close": RunTrigger.CLOSED, "merge": RunTrigger.CLOSED}
# GitLab's own bot users for project/group access tokens: project_<id>_bot_<hex>.
_GITLAB_TOKEN_BOT = re.compile(r"^(project|group)_\d+_bot(_[0-9a-f]+)?\d*$")


def is_gitlab_bot(user: Mapping[str, Any] | None, context: HandlerContext) -> bool:
    """GitLab: an access-token bot user, or the bot itself."""
    username = str((user or {}).get("username", "")).lower()
    return not username or username in context.bot_logins or bool(
        _GITLAB_TOKEN_BOT.match(username)
    )


def _mr_trigger(attributes: Mapping[str, Any], changes: Mapping[str, Any]) -> RunTrigger | None:
    action = attributes.get("action")
    if action in _MR_TRIGGERS:
        return _MR_TRIGGERS[action]
    if action != "update":
        return None
    if attributes.get("oldrev"):
        return RunTrigger.SYNCHRONIZE
    draft = changes.get("draft") or changes.get("work_in_progress") or {}
    if draft.get("previous") is True and draft.get("current") is False:
        return RunTrigger.READY_FOR_REVIEW
    return None  # a title, label or description edit: nothing new to review


@gitlab_merge_requests.register("Merge Request Hook")
@gitlab_merge_requests.register("System Hook")
def gitlab_merge_request_changed(event: WebhookEvent, context: HandlerContext) -> list[Outcome]:
    """An MR was opened, reopened, got new commits or left draft: review it."""
    payload = event.payload
    if payload.get("object_kind") != "merge_request":
        return []
    attributes = payload["object_attributes"]
    trigger = _mr_trigger(attributes, payload.get("changes") or {})
    if trigger is None:
        return []
    draft = attributes.get("draft", attributes.get("work_in_progress"))
    if draft and trigger not in (RunTrigger.READY_FOR_REVIEW, RunTrigger.CLOSED):
        return []
    return [
        ReviewJob(
            forge=Forge.GITLAB,
            repo=payload["project"]["path_with_namespace"],
            number=int(attributes["iid"]),
            head_sha=attributes["last_commit"]["id"],
            trigger=trigger,
            delivery_id=event.delivery_id,
            before_sha=attributes.get("oldrev") if trigger is RunTrigger.SYNCHRONIZE else None,
            project_id=int(payload["project"]["id"]),
        )
    ]


@gitlab_notes.register("Note Hook")
def gitlab_mr_note(event: WebhookEvent, context: HandlerContext) -> list[Outcome]:
    """A new, human-written note on an MR that is one of the commands."""
    payload = event.payload
    attributes = payload.get("object_attributes") or {}
    if attributes.get("noteable_type") != "MergeRequest" or attributes.get("system"):
        return []
    if attributes.get("action") not in (None, "create"):
        return []
    user = payload.get("user")
    if is_gitlab_bot(user, context):
        return []
    command = parse_command(str(attributes.get("note") or ""))
    if command is None:
        return []
    merge_request = payload["merge_request"]
    return [
        ReviewJob(
            forge=Forge.GITLAB,
            repo=payload["project"]["path_with_namespace"],
            number=int(merge_request["iid"]),
            head_sha=(merge_request.get("last_commit") or {}).get("id"),
            trigger=RunTrigger.COMMAND,
            delivery_id=event.delivery_id,
            priority=Priority.INTERACTIVE,
            command=command,
            comment_id=int(attributes["id"]),
            requested_by=str((user or {}).get("username")),
            project_id=int(payload["project"]["id"]),
        )
    ]


def gitlab_router() -> Router[Outcome]:
    """Every GitLab handler, composed."""
    return Router(gitlab_merge_requests, gitlab_notes)
