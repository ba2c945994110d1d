"""Errors raised by the service side of the bot (history, forges, webhooks).

They extend the hierarchy of `reviewers.errors`, so one `except ReviewbotError` at an
outer edge covers both, and the Celery retry policy still targets `TransientError`.
"""

from __future__ import annotations

from reviewers.errors import RepositoryError, ReviewbotError, TransientError


class HistoryError(ReviewbotError):
    """The review-history database refused or failed an operation."""


class DatabaseUnavailable(HistoryError, TransientError):
    """The history database could not be reached, timed out or was locked: retry later."""


class DuplicateRun(HistoryError):
    """A review run with the same idempotency key already exists."""

    def __init__(self, idempotency_key: str, run_id: int) -> None:
        super().__init__(f"a review run for {idempotency_key!r} already exists (run {run_id})")
        self.idempotency_key = idempotency_key
        self.run_id = run_id


class ForgeError(ReviewbotError):
    """A GitHub or GitLab API call was refused; `status` is the HTTP status when there was one."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class ForgeRateLimited(ForgeError, TransientError):
    """The forge's rate limit is exhausted: re-queue the job after `retry_after` seconds."""

    def __init__(self, message: str, retry_after: float, status: int | None = None) -> None:
        super().__init__(message, status)
        self.retry_after = retry_after


class ForgeUnavailable(ForgeError, TransientError):
    """The forge answered 5xx or could not be reached: retry later."""


class FetchUnavailable(RepositoryError, TransientError):
    """A git fetch from the forge failed on the network or the server side: retry later."""
