"""Read-only figures about review runs: latency percentiles, tokens, GPU-seconds, generated tests.

Definitions:
- *latency* of a review: from the webhook delivery's `received_at` to the run's
  `finished_at`, for completed runs that came from a delivery and finished in the period.
  Percentiles use the nearest-rank method: p-th = the ceil(p/100 * n)-th smallest value.
- *tokens*: the prompt, cached-prompt and completion tokens of runs finished in the period.
- *GPU-seconds* of a run = (prompt - cached) / prefill_tokens_per_s
  + completion / decode_tokens_per_s, with per-GPU rates from the settings
  (`gpu_prefill_tokens_per_s`, `gpu_decode_tokens_per_s`; defaults from VLLM.md section 7).
- *tests*: generated tests recorded in the period, kept or discarded by fate (the reason);
  a kept test counts as *merged* when its PR is merged and was last updated in the period.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.history.enums import PullRequestState, RunStatus, TestFate
from bot.history.models import GeneratedTest, PullRequest, Repository, ReviewRun, WebhookDelivery
from bot.history.queries import Scope


def percentile(values: Sequence[float], pct: float) -> float | None:
    """Nearest-rank percentile of `values` (None when empty)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass(frozen=True, slots=True)
class LatencyStats:
    """Webhook-to-finished seconds of the reviews in a period."""

    count: int
    p50: float | None
    p90: float | None
    p99: float | None

    @classmethod
    def of(cls, seconds: Sequence[float]) -> LatencyStats:
        return cls(len(seconds), percentile(seconds, 50), percentile(seconds, 90),
                   percentile(seconds, 99))


def review_latency(session: Session, scope: Scope, since: datetime, until: datetime
                   ) -> LatencyStats:
    rows = session.execute(select(WebhookDelivery.received_at, ReviewRun.finished_at)
                           .join(WebhookDelivery, WebhookDelivery.id == ReviewRun.delivery_id)
                           .where(scope.clause(ReviewRun.repository_id),
                                  ReviewRun.status == RunStatus.COMPLETED,
                                  ReviewRun.finished_at >= since,
                                  ReviewRun.finished_at < until)).all()
    return LatencyStats.of([(finished - received).total_seconds()
                            for received, finished in rows if finished is not None])


@dataclass(frozen=True, slots=True)
class GpuRates:
    """Per-GPU token rates used to estimate GPU-seconds from token counts."""

    prefill_tokens_per_s: float = 5700.0
    decode_tokens_per_s: float = 600.0

    def gpu_seconds(self, prompt: int, cached: int, completion: int) -> float:
        return (max(prompt - cached, 0) / self.prefill_tokens_per_s
                + completion / self.decode_tokens_per_s)


@dataclass(frozen=True, slots=True)
class RunTokens:
    run_id: int
    prompt: int
    cached: int
    completion: int
    gpu_seconds: float


@dataclass(frozen=True, slots=True)
class TokenUsage:
    """Tokens of the runs finished in a period, in total and per review."""

    reviews: int
    prompt: int
    cached: int
    completion: int
    gpu_seconds: float
    per_review: tuple[RunTokens, ...] = field(default=(), repr=False)

    @property
    def uncached_prompt(self) -> int:
        return self.prompt - self.cached

    def mean(self, figure: str) -> float | None:
        """Mean per review of `prompt`, `cached`, `completion` or `gpu_seconds`."""
        if not self.reviews:
            return None
        total: float = getattr(self, figure)
        return total / self.reviews


def token_usage(session: Session, scope: Scope, since: datetime, until: datetime,
                rates: GpuRates) -> TokenUsage:
    rows = session.execute(select(ReviewRun.id, ReviewRun.prompt_tokens,
                                  ReviewRun.cached_tokens, ReviewRun.completion_tokens)
                           .where(scope.clause(ReviewRun.repository_id),
                                  ReviewRun.finished_at >= since, ReviewRun.finished_at < until)
                           .order_by(ReviewRun.id)).all()
    per_run = tuple(RunTokens(run_id, prompt, cached, completion,
                              rates.gpu_seconds(prompt, cached, completion))
                    for run_id, prompt, cached, completion in rows)
    return TokenUsage(
        reviews=len(per_run), prompt=sum(r.prompt for r in per_run),
        cached=sum(r.cached for r in per_run), completion=sum(r.completion for r in per_run),
        gpu_seconds=sum(r.gpu_seconds for r in per_run), per_review=per_run,
    )


def completed_reviews(session: Session, scope: Scope, since: datetime, until: datetime) -> int:
    """Runs that completed (posted a review or a result) in the period."""
    rows = session.scalars(select(ReviewRun.id).where(
        scope.clause(ReviewRun.repository_id), ReviewRun.status == RunStatus.COMPLETED,
        ReviewRun.finished_at >= since, ReviewRun.finished_at < until))
    return len(list(rows))


@dataclass(frozen=True, slots=True)
class TestOutcomes:
    """Generated tests kept, and those discarded counted by reason (the sandbox's fate)."""

    __test__ = False

    kept: int
    discarded: dict[str, int]

    @property
    def discarded_total(self) -> int:
        return sum(self.discarded.values())


def generated_test_outcomes(session: Session, scope: Scope, since: datetime, until: datetime
                            ) -> TestOutcomes:
    fates = session.scalars(select(GeneratedTest.fate)
                            .join(ReviewRun, ReviewRun.id == GeneratedTest.run_id)
                            .where(scope.clause(ReviewRun.repository_id),
                                   GeneratedTest.created_at >= since,
                                   GeneratedTest.created_at < until))
    counts = Counter(TestFate(f) for f in fates)
    kept = counts.pop(TestFate.KEPT, 0)
    return TestOutcomes(kept, {fate.value: n for fate, n in sorted(counts.items())})


@dataclass(frozen=True, slots=True)
class MergedTest:
    repository: str
    pr_number: int
    pr_title: str
    path: str
    target: str


def merged_tests(session: Session, scope: Scope, since: datetime, until: datetime
                 ) -> list[MergedTest]:
    """Kept tests on PRs merged in the period (one per PR and test path, newest run wins)."""
    rows = session.execute(
        select(GeneratedTest, Repository.full_name, PullRequest.number, PullRequest.title)
        .join(ReviewRun, ReviewRun.id == GeneratedTest.run_id)
        .join(PullRequest, PullRequest.id == ReviewRun.pull_request_id)
        .join(Repository, Repository.id == ReviewRun.repository_id)
        .where(scope.clause(ReviewRun.repository_id), GeneratedTest.fate == TestFate.KEPT,
               PullRequest.state == PullRequestState.MERGED,
               PullRequest.updated_at >= since, PullRequest.updated_at < until)
        .order_by(Repository.full_name, PullRequest.number, GeneratedTest.path,
                  GeneratedTest.id.desc())).all()
    seen: set[tuple[str, int, str]] = set()
    merged: list[MergedTest] = []
    for test, repo, number, title in rows:
        key = (repo, number, test.path)
        if key not in seen:
            seen.add(key)
            merged.append(MergedTest(repo, number, title, test.path, test.target))
    return merged
