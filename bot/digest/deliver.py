"""Delivering a digest: upsert the week's tracking issue; POST Slack-style JSON to a webhook."""

from __future__ import annotations

import logging
from typing import Any, Protocol

import httpx

from bot.forges.base import IssueRef
from reviewers.errors import ReviewbotError, TransientError

log = logging.getLogger(__name__)

DIGEST_LABEL = "reviewbot-digest"


class DigestDeliveryError(ReviewbotError):
    """The chat webhook refused the digest."""


class ChatWebhookUnavailable(DigestDeliveryError, TransientError):
    """The chat webhook timed out, could not be reached or answered 5xx/429: retry later."""


class IssuePublisher(Protocol):
    """The one forge call the digest needs (`bot.forges.base.Forge` has it)."""

    def upsert_issue(self, repo: str, title: str, body: str, label: str) -> IssueRef: ...


def publish_issue(publisher: IssuePublisher, repo: str, title: str, markdown: str) -> IssueRef:
    """Update the open issue titled `title` (the week is in it) or open it; one per week."""
    ref = publisher.upsert_issue(repo, title, markdown, DIGEST_LABEL)
    log.info("digest issue upserted", extra={"repo": repo, "issue": ref.number})
    return ref


def post_chat(client: httpx.Client, url: str, payload: dict[str, Any]) -> None:
    """POST the payload to an incoming-webhook URL (the URL is a secret: never logged)."""
    try:
        response = client.post(url, json=payload)
    except httpx.TimeoutException as exc:
        raise ChatWebhookUnavailable("the chat webhook timed out") from exc
    except httpx.TransportError as exc:
        raise ChatWebhookUnavailable(f"the chat webhook is unreachable: {type(exc).__name__}"
                                     ) from exc
    if response.status_code == 429 or response.status_code >= 500:
        raise ChatWebhookUnavailable(f"the chat webhook answered {response.status_code}")
    if response.status_code >= 400:
        raise DigestDeliveryError(f"the chat webhook refused the digest: "
                                  f"{response.status_code} {response.text[:200]}")
    log.info("digest posted to chat", extra={"status": response.status_code})
