"""Register the bot's webhook on a GitLab project: merge request and note events, secret token.

Idempotent: a hook already pointing at the same URL is updated in place (events, token),
so running `reviewbot gitlab connect` twice leaves one hook.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gitlab

from bot.errors import ForgeError
from bot.forges.gitlab import translate_errors

HOOK_EVENTS: dict[str, bool] = {
    "merge_requests_events": True,  # opened / update / reopen -> review
    "note_events": True,  # /review commands in MR comments
    "push_events": False,
    "issues_events": False,
    "pipeline_events": False,
}


@dataclass(frozen=True)
class ProjectHook:
    project: str
    hook_id: int
    url: str
    created: bool  # False: an existing hook for the URL was updated


def gitlab_webhook_url(base_url: str) -> str:
    return base_url.rstrip("/") + "/webhooks/gitlab"


def connect_project(gitlab_url: str, token: str, project: str, hook_url: str, secret: str,
                    *, verify_tls: bool = True, timeout_s: float = 30.0) -> ProjectHook:
    """Create or update the project's hook for `hook_url`; raises ForgeError on refusal."""
    if not secret:
        raise ForgeError("the GitLab webhook secret is empty: set REVIEWBOT_GITLAB_WEBHOOK_SECRET")
    client = gitlab.Gitlab(gitlab_url.rstrip("/"), private_token=token, timeout=timeout_s,
                           retry_transient_errors=False)
    attributes: dict[str, Any] = {"url": hook_url, "token": secret,
                                  "enable_ssl_verification": verify_tls, **HOOK_EVENTS}
    try:
        with translate_errors("register project webhook"):
            remote = client.projects.get(project)
            existing = [h for h in remote.hooks.list(get_all=True) if h.url == hook_url]
            if existing:
                hook = existing[0]
                for key, value in attributes.items():
                    setattr(hook, key, value)
                hook.save()
                return ProjectHook(str(remote.path_with_namespace), int(hook.id), hook_url,
                                   created=False)
            hook = remote.hooks.create(attributes)
            return ProjectHook(str(remote.path_with_namespace), int(hook.id), hook_url,
                               created=True)
    finally:
        client.session.close()
