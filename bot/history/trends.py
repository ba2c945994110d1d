"""Week-by-week series of the history figures, for digests and the dashboard's charts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from bot.history.periods import Week
from bot.history.queries import FindingCounts, Scope, acceptance_overall, findings_by_week
from bot.history.runqueries import (
    GpuRates,
    LatencyStats,
    TestOutcomes,
    TokenUsage,
    completed_reviews,
    generated_test_outcomes,
    review_latency,
    token_usage,
)


@dataclass(frozen=True, slots=True)
class WeekPoint:
    """Everything counted for one week of one scope."""

    week: Week
    reviews: int
    introduced: FindingCounts
    fixed: FindingCounts
    posted: int
    accepted: int
    dismissed: int
    latency: LatencyStats
    tokens: TokenUsage
    tests: TestOutcomes

    @property
    def acceptance_rate(self) -> float | None:
        return self.accepted / self.posted if self.posted else None

    @property
    def dismissal_rate(self) -> float | None:
        return self.dismissed / self.posted if self.posted else None


def weekly_points(session: Session, scope: Scope, weeks: Sequence[Week], rates: GpuRates
                  ) -> list[WeekPoint]:
    """One `WeekPoint` per week, in the order given."""
    flows = findings_by_week(session, scope, weeks)
    points: list[WeekPoint] = []
    for flow in flows:
        week = flow.week
        acceptance = acceptance_overall(session, scope, week.start, week.end)
        points.append(WeekPoint(
            week=week,
            reviews=completed_reviews(session, scope, week.start, week.end),
            introduced=flow.introduced, fixed=flow.fixed,
            posted=acceptance.posted, accepted=acceptance.accepted,
            dismissed=acceptance.dismissed,
            latency=review_latency(session, scope, week.start, week.end),
            tokens=token_usage(session, scope, week.start, week.end, rates),
            tests=generated_test_outcomes(session, scope, week.start, week.end),
        ))
    return points
