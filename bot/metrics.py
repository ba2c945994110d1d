"""Prometheus metrics of the service: what an operator graphs and alerts on.

This module defines the series and the `observe_*` functions that record them; how they
are exposed (the API's `/metrics`, the queue-depth probe, the worker exporter and
prometheus_client's multiprocess mode for Celery's prefork children) is
`bot.metrics_export`.

Worker-side code calls the `observe_*` functions; none of them raises, and none of their
labels ever carries a secret or user-controlled free text (only enums, forge names,
replica URLs and queue names), so the series count stays bounded.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import urlsplit

from prometheus_client import Counter, Histogram

from bot.errors import ForgeError, ForgeRateLimited, ForgeUnavailable
from reviewers.engine.calls import CallRecord

log = logging.getLogger(__name__)

SEVERITIES = ("info", "low", "medium", "high", "critical")

# A review takes seconds (static only) to tens of minutes (a 100k-token prompt in a queue).
REVIEW_BUCKETS = (5, 15, 30, 60, 120, 300, 600, 900, 1200, 1800, 2700, 3600)
ENGINE_BUCKETS = (0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 900)

WEBHOOK_DELIVERIES = Counter(
    "reviewbot_webhook_deliveries", "Webhook deliveries by forge, event and outcome.",
    ["forge", "event", "outcome"])
REVIEW_DURATION = Histogram(
    "reviewbot_review_duration_seconds",
    "From the webhook's arrival to the review posted on the forge.",
    ["forge", "trigger"], buckets=REVIEW_BUCKETS)
REVIEWS = Counter("reviewbot_reviews", "Review jobs finished, by outcome.",
                  ["forge", "outcome"])
FINDINGS_POSTED = Counter("reviewbot_findings_posted", "Findings posted, by severity.",
                          ["severity"])
TESTS_GENERATED = Counter("reviewbot_generated_tests",
                          "Generated unit tests after the sandbox run: kept or discarded.",
                          ["result"])
ENGINE_TOKENS = Counter("reviewbot_engine_tokens",
                        "Engine tokens by replica and kind (prompt, cached, completion).",
                        ["replica", "kind"])
ENGINE_LATENCY = Histogram("reviewbot_engine_request_duration_seconds",
                           "Engine call latency (queueing and retries included), per replica.",
                           ["replica", "outcome"], buckets=ENGINE_BUCKETS)
FORGE_CALLS = Counter("reviewbot_forge_api_calls", "Forge API calls by forge and outcome.",
                      ["forge", "outcome"])
RATE_LIMIT_WAITS = Counter("reviewbot_forge_rate_limit_waits",
                           "Times a job waited for a forge rate limit (retry or pacing).",
                           ["forge", "kind"])
RATE_LIMIT_WAIT_SECONDS = Counter("reviewbot_forge_rate_limit_wait_seconds",
                                  "Seconds spent waiting for forge rate limits.",
                                  ["forge", "kind"])


def _safe(observe: Callable[[], None]) -> None:
    """Metrics must never break a review: a bad value is logged and dropped."""
    try:
        observe()
    except (ValueError, TypeError) as exc:
        log.warning("metrics.observe_failed", extra={"error_type": type(exc).__name__})


def replica_label(url: str | None) -> str:
    """host:port of a replica URL: no path, no credentials a URL might carry."""
    if not url:
        return "none"
    parts = urlsplit(url)
    host = parts.hostname or "unknown"
    return f"{host}:{parts.port}" if parts.port else host


# -- webhook side (recorded by bot.webhooks) -------------------------------------------------

def observe_webhook(forge: str, event: str | None, outcome: str) -> None:
    """One delivery answered by the edge; `event` is bounded to known-safe text."""
    name = (event or "unknown")[:64]
    _safe(lambda: WEBHOOK_DELIVERIES.labels(forge, name, outcome).inc())


# -- worker side (called from bot.jobs) -----------------------------------------------------

def observe_review(duration_s: float | None, findings_by_severity: Mapping[str, int], *,
                   forge: str = "unknown", trigger: str = "unknown",
                   outcome: str = "posted") -> None:
    """A review job ended: its webhook-to-posted duration and the findings it posted.

    `duration_s` is measured from the delivery's `received_at`; pass outcome "failed"
    (duration and findings are then not recorded) when the job gave up.
    """
    def observe() -> None:
        REVIEWS.labels(forge, outcome).inc()
        if outcome != "posted":
            return
        if duration_s is not None:
            REVIEW_DURATION.labels(forge, trigger).observe(max(duration_s, 0.0))
        for severity, count in findings_by_severity.items():
            if severity in SEVERITIES and count > 0:
                FINDINGS_POSTED.labels(severity).inc(count)
    _safe(observe)


class _Severe(Protocol):
    @property
    def severity(self) -> object: ...


class _Outcome(Protocol):
    """What `observe_review_outcome` reads of `reviewers.pipeline.ReviewOutcome`."""

    @property
    def findings(self) -> Sequence[_Severe]: ...

    @property
    def calls(self) -> Sequence[CallRecord]: ...

    @property
    def tests(self) -> Any: ...


def observe_review_outcome(outcome: _Outcome, *, forge: str, trigger: str,
                           received_at: datetime | None,
                           now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
    """Everything a finished, posted review contributes, in one call from the job.

    `received_at` is the webhook delivery's arrival (`WebhookDelivery.received_at`; naive
    values are UTC, as SQLite returns them); None records no duration.
    """
    counts: dict[str, int] = {}
    for finding in outcome.findings:
        severity = str(getattr(finding.severity, "value", finding.severity))
        counts[severity] = counts.get(severity, 0) + 1
    duration: float | None = None
    if received_at is not None:
        start = received_at if received_at.tzinfo else received_at.replace(tzinfo=UTC)
        duration = (now() - start).total_seconds()
    observe_review(duration, counts, forge=forge, trigger=trigger)
    observe_engine_calls(outcome.calls)
    tests = outcome.tests
    if tests is not None:
        kept = len(getattr(tests, "kept", ()))
        observe_generated_tests(kept, max(len(getattr(tests, "results", ())) - kept, 0))


def observe_generated_tests(kept: int, discarded: int) -> None:
    """Generated tests of one run: those validated in the sandbox and those thrown away."""
    def observe() -> None:
        if kept > 0:
            TESTS_GENERATED.labels("kept").inc(kept)
        if discarded > 0:
            TESTS_GENERATED.labels("discarded").inc(discarded)
    _safe(observe)


def observe_engine_call(record: CallRecord) -> None:
    """One engine pool call (`EnginePool.records` / the `records=` list of `chat`)."""
    def observe() -> None:
        replica = replica_label(record.replica)
        ENGINE_LATENCY.labels(replica, "ok" if record.outcome == "ok" else "error").observe(
            max(record.total_s, 0.0))
        for kind, value in (("prompt", record.prompt_tokens), ("cached", record.cached_tokens),
                            ("completion", record.completion_tokens)):
            if value:
                ENGINE_TOKENS.labels(replica, kind).inc(value)
    _safe(observe)


def observe_engine_calls(records: Iterable[CallRecord]) -> None:
    for record in records:
        observe_engine_call(record)


def observe_forge_call(forge: str, outcome: str) -> None:
    """One forge API call (outcome: ok, error, unavailable, rate_limited)."""
    _safe(lambda: FORGE_CALLS.labels(forge, outcome).inc())


def observe_rate_limit_wait(forge: str, seconds: float, kind: str = "retry") -> None:
    """A wait imposed by a forge rate limit: a job re-queued for `seconds`, or write pacing."""
    def observe() -> None:
        RATE_LIMIT_WAITS.labels(forge, kind).inc()
        RATE_LIMIT_WAIT_SECONDS.labels(forge, kind).inc(max(seconds, 0.0))
    _safe(observe)


@contextmanager
def forge_call(forge: str) -> Iterator[None]:
    """Count the forge API call in the block by outcome; a rate limit also counts its wait.

    Wraps each adapter's error translation, so the outcome is the project's own error class.
    """
    try:
        yield
    except ForgeRateLimited as exc:
        observe_forge_call(forge, "rate_limited")
        observe_rate_limit_wait(forge, exc.retry_after)
        raise
    except ForgeUnavailable:
        observe_forge_call(forge, "unavailable")
        raise
    except ForgeError:
        observe_forge_call(forge, "error")
        raise
    else:
        observe_forge_call(forge, "ok")
