"""Read-only figures about findings: scopes, weekly flow, acceptance per rule, hot files.

Definitions (the dashboard and the digest show exactly these):
- *introduced* in a week: findings first recorded (`created_at`) in it;
- *fixed* in a week: findings whose state became `resolved` (`state_changed_at`) in it;
- *acceptance* over a period: of the findings recorded in the period that were posted as a
  comment, those now `resolved` are accepted and those `dismissed` are dismissed; both rates
  are over the posted count, the rest are still pending (posted, outdated).
All functions take a `Scope` (one repository or an organisation's repositories).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, case, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from bot.errors import HistoryError
from bot.history.enums import FindingState
from bot.history.models import FindingRecord, PullRequest, Repository
from bot.history.periods import Week, bucket
from reviewers.findings import Severity

SEVERITIES = tuple(s.value for s in sorted(Severity, key=lambda s: s.rank, reverse=True))


@dataclass(frozen=True, slots=True)
class Scope:
    """What figures are about: a repository (`kind="repository"`) or an organisation."""

    name: str
    kind: str
    repository_ids: tuple[int, ...]

    def clause(self, column: InstrumentedAttribute[int]) -> ColumnElement[bool]:
        return column.in_(self.repository_ids)


def resolve_scope(session: Session, name: str) -> Scope:
    """`"owner/name"` is that repository; `"owner"` (or a GitLab group) its repositories."""
    name = name.strip("/")
    repos = list(session.scalars(select(Repository).where(Repository.full_name == name)
                                 .order_by(Repository.id)))
    if repos:
        return Scope(name, "repository", tuple(r.id for r in repos))
    owned = session.scalars(select(Repository.id).where(
        or_(Repository.owner == name, Repository.owner.startswith(f"{name}/", autoescape=True)))
        .order_by(Repository.id))
    ids = tuple(owned)
    if not ids:
        raise HistoryError(f"no repository or organisation called {name!r} in the history")
    return Scope(name, "organisation", ids)


def repository_scope(repository: Repository) -> Scope:
    return Scope(repository.full_name, "repository", (repository.id,))


@dataclass(frozen=True, slots=True)
class FindingCounts:
    """Findings counted three ways; `by_cwe` leaves out findings without a CWE."""

    total: int = 0
    by_severity: dict[str, int] = field(default_factory=dict)
    by_category: dict[str, int] = field(default_factory=dict)
    by_cwe: dict[str, int] = field(default_factory=dict)

    @classmethod
    def of(cls, rows: Sequence[tuple[str, str, str | None]]) -> FindingCounts:
        return cls(
            total=len(rows),
            by_severity=dict(Counter(severity for severity, _, _ in rows)),
            by_category=dict(Counter(category for _, category, _ in rows)),
            by_cwe=dict(Counter(cwe for _, _, cwe in rows if cwe)),
        )


@dataclass(frozen=True, slots=True)
class WeeklyFindings:
    week: Week
    introduced: FindingCounts
    fixed: FindingCounts


def findings_by_week(session: Session, scope: Scope, weeks: Sequence[Week]
                     ) -> list[WeeklyFindings]:
    """Findings introduced and fixed in each of `weeks` (oldest first, as given)."""
    if not weeks:
        return []
    ordered = list(weeks)
    since, until = min(w.start for w in ordered), max(w.end for w in ordered)
    columns = (FindingRecord.severity, FindingRecord.category, FindingRecord.cwe)
    introduced = session.execute(select(FindingRecord.created_at, *columns).where(
        scope.clause(FindingRecord.repository_id),
        FindingRecord.created_at >= since, FindingRecord.created_at < until)).all()
    fixed = session.execute(select(FindingRecord.state_changed_at, *columns).where(
        scope.clause(FindingRecord.repository_id),
        FindingRecord.state == FindingState.RESOLVED,
        FindingRecord.state_changed_at >= since, FindingRecord.state_changed_at < until)).all()
    introduced_by_week = _by_week(introduced, ordered)
    fixed_by_week = _by_week(fixed, ordered)
    return [WeeklyFindings(week, FindingCounts.of(introduced_by_week.get(week, [])),
                           FindingCounts.of(fixed_by_week.get(week, []))) for week in ordered]


def _by_week(rows: Sequence[Any], weeks: list[Week]
             ) -> dict[Week, list[tuple[str, str, str | None]]]:
    """Rows of (moment, severity, category, cwe) grouped by their week, in one pass."""
    grouped: dict[Week, list[tuple[str, str, str | None]]] = {}
    for moment, severity, category, cwe in rows:
        week = bucket(moment, weeks)
        if week is not None:
            grouped.setdefault(week, []).append((str(severity), str(category), cwe))
    return grouped


@dataclass(frozen=True, slots=True)
class AcceptanceStats:
    """Posted findings of one rule or source and what became of them."""

    key: str
    posted: int
    accepted: int
    dismissed: int

    @property
    def pending(self) -> int:
        return self.posted - self.accepted - self.dismissed

    @property
    def acceptance_rate(self) -> float | None:
        return self.accepted / self.posted if self.posted else None

    @property
    def dismissal_rate(self) -> float | None:
        return self.dismissed / self.posted if self.posted else None


def _acceptance(session: Session, scope: Scope, since: datetime, until: datetime,
                key: InstrumentedAttribute[str] | None) -> list[AcceptanceStats]:
    key_column = key if key is not None else FindingRecord.repository_id
    rows = session.execute(select(key_column, FindingRecord.state).where(
        scope.clause(FindingRecord.repository_id),
        FindingRecord.posted_comment_id.is_not(None),
        FindingRecord.created_at >= since, FindingRecord.created_at < until)).all()
    posted: Counter[str] = Counter()
    accepted: Counter[str] = Counter()
    dismissed: Counter[str] = Counter()
    for value, state in rows:
        name = str(value) if key is not None else scope.name
        posted[name] += 1
        if state == FindingState.RESOLVED:
            accepted[name] += 1
        elif state == FindingState.DISMISSED:
            dismissed[name] += 1
    return [AcceptanceStats(name, posted[name], accepted[name], dismissed[name])
            for name in sorted(posted)]


def acceptance_by_rule(session: Session, scope: Scope, since: datetime, until: datetime
                       ) -> list[AcceptanceStats]:
    """Per rule, sorted by rule name."""
    return _acceptance(session, scope, since, until, FindingRecord.rule)


def acceptance_by_source(session: Session, scope: Scope, since: datetime, until: datetime
                         ) -> list[AcceptanceStats]:
    """Per source (llm, bandit, ruff...), sorted by source name."""
    return _acceptance(session, scope, since, until, FindingRecord.source)


def acceptance_overall(session: Session, scope: Scope, since: datetime, until: datetime
                       ) -> AcceptanceStats:
    """All rules together (`key` is the scope's name)."""
    found = _acceptance(session, scope, since, until, None)
    return found[0] if found else AcceptanceStats(scope.name, 0, 0, 0)


def noisiest_rules(session: Session, scope: Scope, since: datetime, until: datetime,
                   limit: int = 5) -> list[AcceptanceStats]:
    """Rules whose posted findings were dismissed most: most dismissals, then highest rate."""
    stats = [s for s in acceptance_by_rule(session, scope, since, until) if s.dismissed]
    stats.sort(key=lambda s: (-s.dismissed, -(s.dismissal_rate or 0.0), s.key))
    return stats[:limit]


@dataclass(frozen=True, slots=True)
class HotFile:
    path: str
    findings: int
    pull_requests: int
    worst_severity: str


def hot_files(session: Session, scope: Scope, since: datetime, until: datetime,
              limit: int = 10) -> list[HotFile]:
    """Files with the most findings introduced in the period (ties: worst severity, path)."""
    rows = session.execute(select(
        FindingRecord.path, FindingRecord.severity, FindingRecord.pull_request_id).where(
        scope.clause(FindingRecord.repository_id),
        FindingRecord.created_at >= since, FindingRecord.created_at < until)).all()
    counts: Counter[str] = Counter()
    pulls: dict[str, set[int]] = {}
    worst: dict[str, Severity] = {}
    for path, severity, pr_id in rows:
        counts[path] += 1
        if pr_id is not None:
            pulls.setdefault(path, set()).add(pr_id)
        if path not in worst or Severity(severity).rank > worst[path].rank:
            worst[path] = Severity(severity)
    ranked = sorted(counts, key=lambda p: (-counts[p], -worst[p].rank, p))
    return [HotFile(p, counts[p], len(pulls.get(p, ())), worst[p].value)
            for p in ranked[:limit]]


@dataclass(frozen=True, slots=True)
class OpenFinding:
    id: int
    repository: str
    pr_number: int | None
    path: str
    line: int
    severity: str
    category: str
    rule: str
    cwe: str | None
    message: str
    state: str


def top_open_findings(session: Session, scope: Scope, limit: int = 3) -> list[OpenFinding]:
    """Open or posted findings, most important first: severity, confidence, then oldest.

    Ranked and limited in the database: a busy organisation has thousands open.
    """
    rank = case({s: s.rank for s in Severity}, value=FindingRecord.severity, else_=-1)
    rows = session.execute(select(FindingRecord, Repository.full_name, PullRequest.number)
                           .join(Repository, Repository.id == FindingRecord.repository_id)
                           .outerjoin(PullRequest, PullRequest.id == FindingRecord.pull_request_id)
                           .where(scope.clause(FindingRecord.repository_id),
                                  FindingRecord.state.in_((FindingState.OPEN,
                                                           FindingState.POSTED)))
                           .order_by(rank.desc(), FindingRecord.confidence.desc(),
                                     FindingRecord.created_at, FindingRecord.id)
                           .limit(limit)).all()
    return [OpenFinding(f.id, repo, number, f.path, f.line, f.severity.value, f.category.value,
                        f.rule, f.cwe, f.message, f.state.value)
            for f, repo, number in rows]
