"""Webhook events into work: job descriptions (`outcomes`) and the handlers of each forge.

`github_router()` and `gitlab_router()` compose every handler of a forge; the app factory
calls them at the entry point.
"""

from __future__ import annotations

from bot.events.github import github_router
from bot.events.gitlab import gitlab_router
from bot.events.outcomes import (
    InstallationAction,
    InstallationUpdate,
    Outcome,
    Priority,
    RepoRef,
    ReviewJob,
)

__all__ = [
    "InstallationAction",
    "InstallationUpdate",
    "Outcome",
    "Priority",
    "RepoRef",
    "ReviewJob",
    "github_router",
    "gitlab_router",
]
