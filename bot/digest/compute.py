"""The figures of a weekly digest: the week against the average of the four weeks before.

Baselines: a count (reviews, findings, tokens, tests) averages the previous weeks with
empty weeks counting as 0; a rate or a latency averages only the weeks that had one, and
is None when none had. Noisiest rules look at the digest's week and the previous ones.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from bot.history.periods import Week, weeks_ending
from bot.history.queries import (
    AcceptanceStats,
    FindingCounts,
    OpenFinding,
    Scope,
    hot_files,
    noisiest_rules,
    resolve_scope,
    top_open_findings,
)
from bot.history.runqueries import GpuRates, MergedTest, TestOutcomes, merged_tests
from bot.history.schema import utcnow
from bot.history.trends import WeekPoint, weekly_points

BASELINE_WEEKS = 4


@dataclass(frozen=True, slots=True)
class Figure:
    """One headline number: this week, the previous weeks' average, and the change."""

    key: str
    label: str
    unit: str  # "count", "rate", "seconds", "tokens", "gpu_seconds"
    current: float | None
    baseline: float | None

    @property
    def change(self) -> float | None:
        if self.current is None or self.baseline is None:
            return None
        return self.current - self.baseline


@dataclass(frozen=True, slots=True)
class DigestData:
    scope: Scope
    week: Week
    figures: tuple[Figure, ...]
    introduced: FindingCounts
    fixed: FindingCounts
    tests: TestOutcomes
    top_open: tuple[OpenFinding, ...]
    noisiest_rules: tuple[AcceptanceStats, ...]
    merged_tests: tuple[MergedTest, ...]
    hot_files: tuple[tuple[str, int], ...]
    history: tuple[WeekPoint, ...]  # the baseline weeks then the digest's week
    generated_at: datetime

    def figure(self, key: str) -> Figure:
        for figure in self.figures:
            if figure.key == key:
                return figure
        raise KeyError(key)


_Getter = Callable[[WeekPoint], float | None]

# key, label, unit, value of a week, whether the baseline skips weeks without a value
FIGURES: tuple[tuple[str, str, str, _Getter, bool], ...] = (
    ("reviews", "Reviews completed", "count", lambda p: p.reviews, False),
    ("introduced", "Findings introduced", "count", lambda p: p.introduced.total, False),
    ("fixed", "Findings fixed", "count", lambda p: p.fixed.total, False),
    ("acceptance_rate", "Acceptance rate", "rate", lambda p: p.acceptance_rate, True),
    ("dismissal_rate", "Dismissal rate", "rate", lambda p: p.dismissal_rate, True),
    ("latency_p50", "Review latency p50", "seconds", lambda p: p.latency.p50, True),
    ("latency_p90", "Review latency p90", "seconds", lambda p: p.latency.p90, True),
    ("prompt_tokens", "Prompt tokens", "tokens", lambda p: p.tokens.prompt, False),
    ("cached_tokens", "Cached prompt tokens", "tokens", lambda p: p.tokens.cached, False),
    ("completion_tokens", "Completion tokens", "tokens", lambda p: p.tokens.completion, False),
    ("gpu_seconds", "GPU-seconds (estimated)", "gpu_seconds",
     lambda p: p.tokens.gpu_seconds, False),
    ("tests_kept", "Generated tests kept", "count", lambda p: p.tests.kept, False),
    ("tests_discarded", "Generated tests discarded", "count",
     lambda p: p.tests.discarded_total, False),
)


def _baseline(values: Sequence[float | None], skip_empty: bool) -> float | None:
    if skip_empty:
        present = [v for v in values if v is not None]
        return sum(present) / len(present) if present else None
    return sum(v or 0.0 for v in values) / len(values) if values else None


def compute_digest(session: Session, scope: Scope | str, week: Week, rates: GpuRates, *,
                   baseline_weeks: int = BASELINE_WEEKS, now: datetime | None = None,
                   points: Sequence[WeekPoint] = ()) -> DigestData:
    """The digest of `scope` (a `Scope`, or a repository / organisation name) for `week`.

    `points` may bring weekly points already counted (the dashboard's longer trend ending
    with `week`); the weeks the digest needs are then not counted twice.
    """
    if isinstance(scope, str):
        scope = resolve_scope(session, scope)
    wanted = weeks_ending(week, baseline_weeks + 1)
    known = {p.week: p for p in points}
    if all(w in known for w in wanted):
        points = [known[w] for w in wanted]
    else:
        points = weekly_points(session, scope, wanted, rates)
    *before, current = points
    figures = tuple(
        Figure(key, label, unit, getter(current),
               _baseline([getter(p) for p in before], skip_empty))
        for key, label, unit, getter, skip_empty in FIGURES
    )
    window_start = points[0].week.start
    return DigestData(
        scope=scope, week=week, figures=figures,
        introduced=current.introduced, fixed=current.fixed, tests=current.tests,
        top_open=tuple(top_open_findings(session, scope, limit=3)),
        noisiest_rules=tuple(noisiest_rules(session, scope, window_start, week.end)),
        merged_tests=tuple(merged_tests(session, scope, week.start, week.end)),
        hot_files=tuple((h.path, h.findings)
                        for h in hot_files(session, scope, week.start, week.end, limit=5)),
        history=tuple(points), generated_at=now or utcnow(),
    )
