"""The project's exception hierarchy for review work.

Third-party errors (git, httpx/openai, analyzers) are translated into these at the
boundary with ``raise ... from exc``; the Celery retry policy targets `TransientError`.
"""

from __future__ import annotations


class ReviewbotError(Exception):
    """Base of every error the project raises on purpose."""


class UsageError(ReviewbotError):
    """The caller asked for something impossible (bad ref, not a repository...)."""


class RepositoryError(ReviewbotError):
    """A git operation on a checkout failed."""


class ConfigError(ReviewbotError):
    """A `.reviewbot.yml` or a setting is invalid; the message says which key and why."""


class TransientError(ReviewbotError):
    """Worth retrying later: an outage, a rate limit, a queue that is full."""


class EngineError(ReviewbotError):
    """The model engine failed in a way that retrying the same call will not fix."""


class EngineUnavailable(EngineError, TransientError):
    """No engine replica answered (connection refused, 503, circuit open) within the deadline."""


class EngineOutputError(EngineError):
    """The model's answer did not parse or did not validate against the requested schema."""


class PromptTooLong(EngineError):
    """The prompt plus answer budget exceeds the model's context window (server said 400)."""
