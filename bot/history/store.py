"""Writing review history: repositories, pull requests and review runs with their records.

Plain functions over a caller-owned `Session`: they add and flush, never commit, so the
caller decides the transaction (see `bot.history.db.session_scope`). Inserts that can race
(a repository or PR first seen by two workers, a run's idempotency key) go through a
SAVEPOINT and fall back to the row that won.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.errors import DuplicateRun, HistoryError
from bot.history.enums import Forge, PullRequestState, RunStatus, RunTrigger, TestFate
from bot.history.lifecycle import record_findings
from bot.history.models import (
    EngineCall,
    FindingRecord,
    GeneratedTest,
    Installation,
    PullRequest,
    Repository,
    ReviewRun,
    WebhookDelivery,
)
from bot.history.schema import Base, utcnow
from reviewers.findings import Finding

RowT = TypeVar("RowT", bound=Base)


@dataclass(frozen=True, slots=True)
class EngineCallRecord:
    """What the engine client measured for one call."""

    replica: str
    purpose: str
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int = 0
    total_s: float = 0.0
    queue_s: float | None = None
    ok: bool = True
    error: str | None = None


@dataclass(frozen=True, slots=True)
class GeneratedTestRecord:
    """A generated test and the sandbox's verdict on it."""

    target: str
    path: str
    code: str
    fate: TestFate
    evidence: Mapping[str, Any] = field(default_factory=dict)
    behaviour_change: bool = False


def insert_or_get(session: Session, row: RowT, find_existing: Callable[[], RowT | None]
                  ) -> tuple[RowT, bool]:
    """Insert `row` in a SAVEPOINT; on a unique-constraint clash return the existing row."""
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError as exc:
        existing = find_existing()
        if existing is None:  # the clash was not the unique key we were guarding
            raise HistoryError(f"could not insert {type(row).__name__}: {exc.orig}") from exc
        return existing, False
    return row, True


def get_or_create_installation(session: Session, forge: Forge, external_id: str, account: str,
                               *, suspended: bool | None = None) -> Installation:
    """The installation `(forge, external_id)`, created or updated with the given account."""

    def find() -> Installation | None:
        return session.scalars(select(Installation).where(
            Installation.forge == forge, Installation.external_id == external_id)).one_or_none()

    installation = find()
    if installation is None:
        installation, _ = insert_or_get(session, Installation(
            forge=forge, external_id=external_id, account=account,
            suspended=bool(suspended)), find)
    installation.account = account
    if suspended is not None:
        installation.suspended = suspended
    session.flush()
    return installation


def split_full_name(full_name: str) -> tuple[str, str]:
    """`"group/sub/name"` -> `("group/sub", "name")`; GitLab namespaces can nest."""
    owner, _, name = full_name.strip("/").rpartition("/")
    if not name:
        raise HistoryError(f"repository name {full_name!r} is empty")
    return owner, name


def get_or_create_repository(session: Session, forge: Forge, full_name: str, *,
                             external_id: str | None = None,
                             installation: Installation | None = None,
                             default_branch: str | None = None) -> Repository:
    """The repository, found by external id (survives renames) or full name; fields updated."""
    forge = Forge(forge)
    full_name = full_name.strip("/")
    owner, name = split_full_name(full_name)

    def find() -> Repository | None:
        if external_id is not None:
            by_id = session.scalars(select(Repository).where(
                Repository.forge == forge, Repository.external_id == external_id)).one_or_none()
            if by_id is not None:
                return by_id
        return session.scalars(select(Repository).where(
            Repository.forge == forge, Repository.full_name == full_name)).one_or_none()

    repository = find()
    if repository is None:
        repository, _ = insert_or_get(session, Repository(
            forge=forge, full_name=full_name, owner=owner, name=name, external_id=external_id,
            installation=installation, default_branch=default_branch), find)
    repository.full_name, repository.owner, repository.name = full_name, owner, name
    if external_id is not None:
        repository.external_id = external_id
    if installation is not None:
        repository.installation = installation
    if default_branch is not None:
        repository.default_branch = default_branch
    session.flush()
    return repository


def get_or_create_pull_request(session: Session, repository: Repository, number: int, *,
                               title: str | None = None, author: str | None = None,
                               state: PullRequestState | None = None,
                               head_sha: str | None = None,
                               base_sha: str | None = None) -> PullRequest:
    """The PR `number` of `repository`; the given fields are updated to what the forge says."""

    def find() -> PullRequest | None:
        return session.scalars(select(PullRequest).where(
            PullRequest.repository_id == repository.id,
            PullRequest.number == number)).one_or_none()

    pull_request = find()
    if pull_request is None:
        pull_request, _ = insert_or_get(session, PullRequest(
            repository_id=repository.id, number=number, title=title or ""), find)
    updates = {"title": title, "author": author, "state": state, "head_sha": head_sha,
               "base_sha": base_sha}
    for key, value in updates.items():
        if value is not None:
            setattr(pull_request, key, value)
    session.flush()
    return pull_request


def run_idempotency_key(repository: Repository, pull_request: PullRequest, head_sha: str,
                        trigger: RunTrigger | str) -> str:
    """The default key of a PR run: one run per (repository, PR, head sha, trigger)."""
    return f"{repository.id}:{pull_request.number}:{head_sha}:{RunTrigger(trigger)}"


def start_run(session: Session, repository: Repository, trigger: RunTrigger | str,
              base_sha: str, head_sha: str, pr: PullRequest | None = None, *,
              delivery: WebhookDelivery | None = None, idempotency_key: str | None = None,
              status: RunStatus = RunStatus.RUNNING, engine_endpoint: str | None = None,
              now: datetime | None = None) -> ReviewRun:
    """Record a new run (RUNNING by default, or QUEUED).

    A PR run gets `run_idempotency_key(...)` unless `idempotency_key` is given; when a run
    with that key exists already, `DuplicateRun` (with its `run_id`) is raised and nothing is
    added. Local runs (no PR) have no key unless one is given.
    """
    if status not in (RunStatus.QUEUED, RunStatus.RUNNING):
        raise HistoryError(f"a run starts queued or running, not {status}")
    now = now or utcnow()
    if idempotency_key is None and pr is not None:
        idempotency_key = run_idempotency_key(repository, pr, head_sha, trigger)
    run = ReviewRun(
        repository_id=repository.id, pull_request_id=pr.id if pr else None,
        delivery_id=delivery.id if delivery else None, idempotency_key=idempotency_key,
        trigger=RunTrigger(trigger), base_sha=base_sha, head_sha=head_sha, status=status,
        queued_at=now, started_at=now if status is RunStatus.RUNNING else None,
        engine_endpoint=engine_endpoint, stage_durations={}, notes=[],
    )
    if idempotency_key is None:
        session.add(run)
        session.flush()
        return run
    key = idempotency_key

    def find() -> ReviewRun | None:
        return session.scalars(
            select(ReviewRun).where(ReviewRun.idempotency_key == key)).one_or_none()

    stored, created = insert_or_get(session, run, find)
    if not created:
        raise DuplicateRun(key, stored.id)
    return stored


def mark_running(run: ReviewRun, *, now: datetime | None = None) -> None:
    """A queued run was picked up by a worker."""
    run.status = RunStatus.RUNNING
    run.started_at = now or utcnow()


def record_engine_call(session: Session, run: ReviewRun, call: EngineCallRecord, *,
                       now: datetime | None = None) -> EngineCall:
    """Store one engine call and add its tokens to the run's totals."""
    row = EngineCall(
        run_id=run.id, replica=call.replica, purpose=call.purpose,
        prompt_tokens=call.prompt_tokens, cached_tokens=call.cached_tokens,
        completion_tokens=call.completion_tokens, queue_s=call.queue_s, total_s=call.total_s,
        ok=call.ok, error=call.error, created_at=now or utcnow(),
    )
    session.add(row)
    run.prompt_tokens += call.prompt_tokens
    run.completion_tokens += call.completion_tokens
    run.cached_tokens += call.cached_tokens
    run.engine_call_count += 1
    if run.engine_endpoint is None:
        run.engine_endpoint = call.replica
    return row


def record_generated_test(session: Session, run: ReviewRun, test: GeneratedTestRecord, *,
                          now: datetime | None = None) -> GeneratedTest:
    row = GeneratedTest(
        run_id=run.id, target=test.target, path=test.path, code=test.code, fate=test.fate,
        evidence=dict(test.evidence), behaviour_change=test.behaviour_change,
        created_at=now or utcnow(),
    )
    session.add(row)
    return row


def finish_run(session: Session, run: ReviewRun, status: RunStatus,
               findings: Sequence[Finding] = (), *,
               engine_calls: Sequence[EngineCallRecord] = (),
               generated_tests: Sequence[GeneratedTestRecord] = (),
               stage_durations: Mapping[str, float] | None = None,
               findings_dropped: int = 0, notes: Sequence[str] = (),
               conclusion: str | None = None, error: str | None = None,
               now: datetime | None = None) -> list[FindingRecord]:
    """Close a run and store what it produced; returns its findings' history rows.

    Findings are linked by fingerprint to the live findings of the same repository and PR
    (see `bot.history.lifecycle.record_findings`): a finding seen before is updated, not
    duplicated, and keeps its state (posted, dismissed...).
    """
    if not status.finished:
        raise HistoryError(f"{status} is not a final run status")
    if run.status.finished:
        raise HistoryError(f"run {run.id} is already {run.status}")
    now = now or utcnow()
    for call in engine_calls:
        record_engine_call(session, run, call, now=now)
    for test in generated_tests:
        record_generated_test(session, run, test, now=now)
    records = record_findings(session, run, findings, now=now)
    run.status = status
    run.conclusion = conclusion
    run.error = error
    run.finished_at = now
    if run.started_at is None:
        run.started_at = now
    run.stage_durations = {**run.stage_durations, **(stage_durations or {})}
    run.findings_dropped += findings_dropped
    run.notes = [*run.notes, *notes]
    session.flush()
    return records
