"""What a webhook becomes: job descriptions for the workers and installation bookkeeping.

Only ids and small strings travel through the queue, never a payload.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from bot.commands import Command
from bot.history.enums import Forge, RunTrigger


class Priority(StrEnum):
    """Which queue a job goes to: a person waiting beats an automatic review."""

    INTERACTIVE = "interactive"
    REVIEW = "review"


@dataclass(frozen=True, kw_only=True)
class ReviewJob:
    """One unit of PR work for a worker; only ids and small strings, never a payload."""

    forge: Forge
    repo: str  # "owner/name" (GitHub) or the project's path_with_namespace (GitLab)
    number: int  # PR number / MR iid
    head_sha: str | None  # None when the event does not carry it (a GitHub comment)
    trigger: RunTrigger
    delivery_id: str
    installation_id: int | None = None
    priority: Priority = Priority.REVIEW
    command: Command | None = None
    comment_id: int | None = None
    inline_comment: bool = False  # the command came in a comment on a line of the diff
    requested_by: str | None = None
    author_association: str | None = None
    before_sha: str | None = None  # the previous head on a push (incremental review)
    project_id: int | None = None  # GitLab's numeric project id

    def task_kwargs(self) -> dict[str, Any]:
        """JSON-safe keyword arguments for the Celery task (enums as their values)."""
        return {
            "forge": self.forge.value,
            "repo": self.repo,
            "number": self.number,
            "head_sha": self.head_sha,
            "trigger": self.trigger.value,
            "delivery_id": self.delivery_id,
            "installation_id": self.installation_id,
            "priority": self.priority.value,
            "command": self.command.value if self.command else None,
            "comment_id": self.comment_id,
            "inline_comment": self.inline_comment,
            "requested_by": self.requested_by,
            "author_association": self.author_association,
            "before_sha": self.before_sha,
            "project_id": self.project_id,
        }

    @classmethod
    def from_task_kwargs(cls, kwargs: Mapping[str, Any]) -> ReviewJob:
        """Inverse of `task_kwargs` (what the worker-side shim receives)."""
        command = kwargs.get("command")
        return cls(
            forge=Forge(kwargs["forge"]),
            repo=str(kwargs["repo"]),
            number=int(kwargs["number"]),
            head_sha=kwargs.get("head_sha"),
            trigger=RunTrigger(kwargs["trigger"]),
            delivery_id=str(kwargs["delivery_id"]),
            installation_id=kwargs.get("installation_id"),
            priority=Priority(kwargs.get("priority", Priority.REVIEW.value)),
            command=Command(command) if command else None,
            comment_id=kwargs.get("comment_id"),
            inline_comment=bool(kwargs.get("inline_comment", False)),
            requested_by=kwargs.get("requested_by"),
            author_association=kwargs.get("author_association"),
            before_sha=kwargs.get("before_sha"),
            project_id=kwargs.get("project_id"),
        )


class InstallationAction(StrEnum):
    CREATED = "created"
    DELETED = "deleted"
    SUSPENDED = "suspended"
    UNSUSPENDED = "unsuspended"
    PERMISSIONS_ACCEPTED = "permissions_accepted"
    REPOSITORIES_CHANGED = "repositories_changed"


@dataclass(frozen=True)
class RepoRef:
    external_id: int
    full_name: str


@dataclass(frozen=True, kw_only=True)
class InstallationUpdate:
    """A change to the installations/repositories table, applied by the edge itself."""

    forge: Forge
    installation_id: int
    account: str
    action: InstallationAction
    repositories_added: tuple[RepoRef, ...] = ()
    repositories_removed: tuple[RepoRef, ...] = ()


class FeedbackKind(StrEnum):
    THREAD_RESOLVED = "thread_resolved"


@dataclass(frozen=True, kw_only=True)
class FeedbackUpdate:
    """People's verdict on the bot's findings, applied by the edge to history directly."""

    forge: Forge
    repo: str
    number: int
    fingerprints: tuple[str, ...]
    kind: FeedbackKind
    actor: str = ""


Outcome = ReviewJob | InstallationUpdate | FeedbackUpdate
