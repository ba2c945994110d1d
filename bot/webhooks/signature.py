"""Webhook authenticity checks: GitHub's HMAC-SHA256 signature and GitLab's secret token.

Both compare in constant time (`hmac.compare_digest`) and both refuse everything when no
secret is configured: an unconfigured secret is never a reason to skip verification.
"""

from __future__ import annotations

import hashlib
import hmac
from enum import StrEnum

GITHUB_SIGNATURE_PREFIX = "sha256="


class Verdict(StrEnum):
    """Why a request was or was not authenticated; the values are the log keys."""

    VALID = "valid"
    NOT_CONFIGURED = "webhook.secret_not_configured"
    MISSING = "webhook.signature_missing"
    INVALID = "webhook.signature_invalid"


def github_signature(secret: str, body: bytes) -> str:
    """The `X-Hub-Signature-256` header value GitHub sends for `body`."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return GITHUB_SIGNATURE_PREFIX + digest


def verify_github(secret: str | None, body: bytes, header: str | None) -> Verdict:
    """Check `X-Hub-Signature-256` against the HMAC of the raw body, in constant time."""
    if not secret:
        return Verdict.NOT_CONFIGURED
    if not header:
        return Verdict.MISSING
    expected = github_signature(secret, body).encode("ascii")
    if hmac.compare_digest(expected, header.strip().encode("utf-8", "replace")):
        return Verdict.VALID
    return Verdict.INVALID


def verify_gitlab(secret: str | None, header: str | None) -> Verdict:
    """Check `X-Gitlab-Token` (the secret itself, sent in plain text) in constant time."""
    if not secret:
        return Verdict.NOT_CONFIGURED
    if not header:
        return Verdict.MISSING
    if hmac.compare_digest(secret.encode("utf-8"), header.encode("utf-8", "replace")):
        return Verdict.VALID
    return Verdict.INVALID
