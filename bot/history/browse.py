"""Read-only listings for the dashboard: repositories by owner, a repository's pull requests,
the runs of one pull request with their findings and tests, and the digest archive.

Figures (counts, rates, latencies) come from `bot.history.queries` / `runqueries`; this
module only lists rows, so the dashboard's views hold no SQL.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.history.enums import FindingState, RunStatus
from bot.history.models import (
    Digest,
    FindingRecord,
    GeneratedTest,
    PullRequest,
    Repository,
    ReviewRun,
    RunFinding,
)
from bot.history.periods import week_of

LIVE = (FindingState.OPEN, FindingState.POSTED)


@dataclass(frozen=True, slots=True)
class RepositorySummary:
    id: int
    forge: str
    full_name: str
    owner: str
    open_findings: int
    reviews_28d: int
    last_review_at: datetime | None


@dataclass(frozen=True, slots=True)
class OwnerSummary:
    """An organisation, GitHub account or GitLab group, with its repositories."""

    owner: str
    repositories: tuple[RepositorySummary, ...]

    @property
    def open_findings(self) -> int:
        return sum(r.open_findings for r in self.repositories)


def repositories_by_owner(session: Session, now: datetime) -> list[OwnerSummary]:
    """Every repository in the history, grouped by owner (both sorted by name)."""
    open_counts = Counter(dict(session.execute(
        select(FindingRecord.repository_id, func.count()).where(FindingRecord.state.in_(LIVE))
        .group_by(FindingRecord.repository_id)).all()))
    recent = Counter(dict(session.execute(
        select(ReviewRun.repository_id, func.count()).where(
            ReviewRun.status == RunStatus.COMPLETED,
            ReviewRun.finished_at >= now - timedelta(days=28), ReviewRun.finished_at < now)
        .group_by(ReviewRun.repository_id)).all()))
    last = dict(session.execute(select(ReviewRun.repository_id, func.max(ReviewRun.finished_at))
                                .group_by(ReviewRun.repository_id)).all())
    grouped: dict[str, list[RepositorySummary]] = defaultdict(list)
    for repo in session.scalars(select(Repository).order_by(Repository.owner,
                                                            Repository.full_name)):
        grouped[repo.owner].append(RepositorySummary(
            repo.id, repo.forge.value, repo.full_name, repo.owner, open_counts[repo.id],
            recent[repo.id], last.get(repo.id)))
    return [OwnerSummary(owner, tuple(repos)) for owner, repos in grouped.items()]


@dataclass(frozen=True, slots=True)
class PullSummary:
    number: int
    title: str
    author: str | None
    state: str
    runs: int
    last_status: str | None
    last_finished_at: datetime | None
    open_findings: int


def pull_requests(session: Session, repository_id: int, limit: int = 50) -> list[PullSummary]:
    """The repository's pull requests that have review runs, most recently reviewed first."""
    pulls = {p.id: p for p in session.scalars(select(PullRequest).where(
        PullRequest.repository_id == repository_id))}
    runs = session.execute(select(ReviewRun.pull_request_id, ReviewRun.status,
                                  ReviewRun.queued_at, ReviewRun.finished_at, ReviewRun.id)
                           .where(ReviewRun.repository_id == repository_id,
                                  ReviewRun.pull_request_id.is_not(None))
                           .order_by(ReviewRun.queued_at, ReviewRun.id)).all()
    count: Counter[int] = Counter()
    newest: dict[int, tuple[RunStatus, datetime, datetime | None]] = {}
    for pr_id, status, queued, finished, _ in runs:
        if pr_id is None:
            continue
        count[pr_id] += 1
        newest[pr_id] = (status, queued, finished)
    open_counts = Counter(dict(session.execute(
        select(FindingRecord.pull_request_id, func.count()).where(
            FindingRecord.repository_id == repository_id, FindingRecord.state.in_(LIVE))
        .group_by(FindingRecord.pull_request_id)).all()))
    ordered = sorted(newest, key=lambda pr_id: (newest[pr_id][1], pr_id), reverse=True)
    return [PullSummary(pulls[pr_id].number, pulls[pr_id].title, pulls[pr_id].author,
                        pulls[pr_id].state.value, count[pr_id], newest[pr_id][0].value,
                        newest[pr_id][2], open_counts[pr_id])
            for pr_id in ordered[:limit]]


@dataclass(frozen=True, slots=True)
class RunFindingView:
    finding: FindingRecord
    line: int
    end_line: int
    new: bool


@dataclass(frozen=True, slots=True)
class RunView:
    run: ReviewRun
    latency_s: float | None  # webhook received -> finished
    findings: tuple[RunFindingView, ...]
    tests: tuple[GeneratedTest, ...]


@dataclass(frozen=True, slots=True)
class PullDetail:
    repository: Repository
    pull_request: PullRequest
    runs: tuple[RunView, ...]  # newest first


def pull_request_detail(session: Session, repository_id: int, number: int
                        ) -> PullDetail | None:
    """A pull request's review runs, newest first, each with what it found and generated."""
    row = session.execute(select(PullRequest, Repository)
                          .join(Repository, Repository.id == PullRequest.repository_id)
                          .where(PullRequest.repository_id == repository_id,
                                 PullRequest.number == number)).one_or_none()
    if row is None:
        return None
    pr, repo = row
    runs = list(session.scalars(select(ReviewRun).where(ReviewRun.pull_request_id == pr.id)
                                .order_by(ReviewRun.queued_at.desc(), ReviewRun.id.desc())))
    sightings: dict[int, list[RunFindingView]] = defaultdict(list)
    for finding, seen in session.execute(
            select(FindingRecord, RunFinding)
            .join(RunFinding, RunFinding.finding_id == FindingRecord.id)
            .where(RunFinding.run_id.in_([r.id for r in runs]))
            .order_by(FindingRecord.id)):
        sightings[seen.run_id].append(RunFindingView(finding, seen.line, seen.end_line, seen.new))
    views = []
    for run in runs:
        received = run.delivery.received_at if run.delivery is not None else None
        latency = ((run.finished_at - received).total_seconds()
                   if received is not None and run.finished_at is not None else None)
        views.append(RunView(run, latency, tuple(sightings[run.id]), tuple(run.generated_tests)))
    return PullDetail(repo, pr, tuple(views))


@dataclass(frozen=True, slots=True)
class DigestEntry:
    id: int
    scope: str
    week: str  # "2026-W41"
    period_start: datetime
    updated_at: datetime
    issue_number: int | None


def digest_archive(session: Session, tz: tzinfo, *, scope: str | None = None,
                   limit: int = 200) -> list[DigestEntry]:
    """Stored digests, newest week first (then by scope); optionally of one scope."""
    query = select(Digest.id, Digest.scope, Digest.period_start, Digest.updated_at,
                   Digest.forge_issue_number).order_by(Digest.period_start.desc(), Digest.scope)
    if scope is not None:
        query = query.where(Digest.scope == scope)
    return [DigestEntry(id_, name, week_of(start, tz).label, start, updated, issue)
            for id_, name, start, updated, issue in session.execute(query.limit(limit))]


def find_digest(session: Session, scope: str, week: str, tz: tzinfo) -> Digest | None:
    """The stored digest of `scope` for the ISO week labelled `week` ("2026-W41")."""
    for row in session.scalars(select(Digest).where(Digest.scope == scope)
                               .order_by(Digest.period_start.desc())):
        if week_of(row.period_start, tz).label == week:
            return row
    return None
