"""The GitHub App registration manifest: exactly the permissions and events the bot uses.

`deploy/github-app.yml` is this manifest rendered for `https://bot.example.com`; a test
keeps the two equal and compares the permissions with the endpoints the adapter calls.
The `installation` and `installation_repositories` events are not listed: GitHub sends
them to every App and refuses a manifest that names them.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import yaml

from reviewers.errors import ConfigError

PERMISSIONS: dict[str, str] = {
    "contents": "read",  # clone/fetch the head, read .reviewbot.yml
    "pull_requests": "write",  # read PRs, post reviews and inline comments
    "checks": "write",  # the merge-gating check run
    "issues": "write",  # summary comments, reactions to commands, the weekly digest issue
    "metadata": "read",  # repository metadata, collaborator permission (always granted)
}
SUBSCRIBED_EVENTS = ("pull_request", "pull_request_review_thread", "pull_request_review_comment",
                     "issue_comment", "check_run")
AUTOMATIC_EVENTS = ("installation", "installation_repositories")  # sent to every App

_HEADER = """\
# GitHub App manifest for reviewbot (rendered by `reviewbot github-app manifest --url URL`).
# Register it from https://github.com/settings/apps/new (or the organization's page) with
# the manifest flow, or copy the permissions and events by hand. GitHub also delivers the
# `installation` and `installation_repositories` events to every App; they are not listed
# because the manifest may not name them. Optional: with `contents: write` instead of read,
# validated generated tests arrive as a branch and pull request instead of PR comments.
"""


def webhook_url(base_url: str) -> str:
    """The GitHub receiver under the operator's public base URL."""
    return base_url.rstrip("/") + "/webhooks/github"


def validate_base_url(base_url: str) -> str:
    """An absolute https URL without query or fragment (GitHub refuses plain http hooks
    outside localhost)."""
    parts = urlsplit(base_url)
    local = parts.hostname in {"localhost", "127.0.0.1"}
    if parts.scheme not in ("https", "http") or not parts.hostname or (
            parts.scheme == "http" and not local):
        raise ConfigError(f"--url must be the bot's public https URL, got {base_url!r}")
    if parts.query or parts.fragment:
        raise ConfigError("--url must not have a query or fragment")
    return base_url.rstrip("/")


def app_manifest(base_url: str, name: str = "reviewbot") -> dict[str, Any]:
    """The manifest as a dict, for `base_url` (e.g. https://bot.example.com)."""
    base = validate_base_url(base_url)
    return {
        "name": name,
        "url": base,
        "description": "Self-hosted code review and test generation (reviewbot).",
        "public": False,
        "hook_attributes": {"url": webhook_url(base), "active": True},
        "default_permissions": dict(PERMISSIONS),
        "default_events": list(SUBSCRIBED_EVENTS),
    }


def render_manifest(base_url: str, name: str = "reviewbot") -> str:
    """The manifest as the YAML file kept in deploy/github-app.yml."""
    body = yaml.safe_dump(app_manifest(base_url, name), sort_keys=False, default_flow_style=False)
    return _HEADER + body
