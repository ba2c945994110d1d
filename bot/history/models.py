"""SQLAlchemy models of the review history (forges, repositories, runs, findings, deliveries).

Portable across SQLite and Postgres: generic JSON, UTC-aware timestamps, enums stored as
strings with named CHECK constraints. The Alembic migrations in `migrations/` create the
same schema; a test keeps the two identical. Nothing here ever holds a token or secret.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bot.history.enums import (
    DeliveryStatus,
    FindingState,
    Forge,
    PullRequestState,
    RunStatus,
    RunTrigger,
    TestFate,
)
from bot.history.schema import SHA, Base, created_column, fk_column, string_enum, updated_column
from reviewers.findings import Category, Finding, Severity
from reviewers.secrets_mask import mask_secrets

__all__ = [
    "Base", "Digest", "EngineCall", "FindingRecord", "GeneratedTest", "Installation",
    "PostedComment", "PullRequest", "Repository", "ReviewRun", "RunFinding", "WebhookDelivery",
]


class Installation(Base):
    """A GitHub App installation or GitLab integration on an account or group."""

    __tablename__ = "installations"
    __table_args__ = (UniqueConstraint("forge", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    forge: Mapped[Forge] = mapped_column(string_enum(Forge, "forge"))
    external_id: Mapped[str] = mapped_column(String(64))
    account: Mapped[str] = mapped_column(String(255))
    suspended: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = created_column()
    updated_at: Mapped[datetime] = updated_column()


class Repository(Base):
    __tablename__ = "repositories"
    __table_args__ = (
        UniqueConstraint("forge", "full_name"),
        UniqueConstraint("forge", "external_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    forge: Mapped[Forge] = mapped_column(string_enum(Forge, "forge"))
    full_name: Mapped[str] = mapped_column(String(512))
    owner: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(255))
    external_id: Mapped[str | None] = mapped_column(String(64))
    installation_id: Mapped[int | None] = fk_column("installations.id", nullable=True,
                                                    ondelete="SET NULL", index=True)
    default_branch: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = created_column()
    updated_at: Mapped[datetime] = updated_column()

    installation: Mapped[Installation | None] = relationship()


class PullRequest(Base):
    """A GitHub pull request or GitLab merge request (`number` is the iid on GitLab)."""

    __tablename__ = "pull_requests"
    __table_args__ = (UniqueConstraint("repository_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    repository_id: Mapped[int] = fk_column("repositories.id", nullable=False, ondelete="CASCADE")
    number: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(Text, default="")
    author: Mapped[str | None] = mapped_column(String(255))
    state: Mapped[PullRequestState] = mapped_column(
        string_enum(PullRequestState, "state"), default=PullRequestState.OPEN)
    head_sha: Mapped[str | None] = mapped_column(SHA)
    base_sha: Mapped[str | None] = mapped_column(SHA)
    created_at: Mapped[datetime] = created_column()
    updated_at: Mapped[datetime] = updated_column()

    repository: Mapped[Repository] = relationship()


class WebhookDelivery(Base):
    """One webhook delivery as received; `(forge, delivery_id)` is unique to stop replays."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (UniqueConstraint("forge", "delivery_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    forge: Mapped[Forge] = mapped_column(string_enum(Forge, "forge"))
    delivery_id: Mapped[str] = mapped_column(String(255))
    event: Mapped[str] = mapped_column(String(64))
    action: Mapped[str | None] = mapped_column(String(64))
    received_at: Mapped[datetime] = created_column()
    updated_at: Mapped[datetime] = updated_column()
    status: Mapped[DeliveryStatus] = mapped_column(
        string_enum(DeliveryStatus, "status"), default=DeliveryStatus.ACCEPTED)
    repository_full_name: Mapped[str | None] = mapped_column(String(512))
    pr_number: Mapped[int | None] = mapped_column(Integer)
    payload_sha256: Mapped[str | None] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    # The task kwargs of the jobs it was accepted for: what the reconciler publishes again.
    jobs: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)

    runs: Mapped[list[ReviewRun]] = relationship(back_populates="delivery")


class ReviewRun(Base):
    """One review of `base_sha...head_sha`, from the CLI (no PR) or for a PR."""

    __tablename__ = "review_runs"
    __table_args__ = (Index("ix_review_runs_repository_queued", "repository_id", "queued_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    repository_id: Mapped[int] = fk_column("repositories.id", nullable=False, ondelete="CASCADE")
    pull_request_id: Mapped[int | None] = fk_column("pull_requests.id", nullable=True,
                                                    ondelete="CASCADE", index=True)
    delivery_id: Mapped[int | None] = fk_column("webhook_deliveries.id", nullable=True,
                                                ondelete="SET NULL", index=True)
    # "<repository id>:<pr number>:<head sha>:<trigger>" for PR runs; NULL for local runs.
    idempotency_key: Mapped[str | None] = mapped_column(String(255), unique=True)
    trigger: Mapped[RunTrigger] = mapped_column(
        string_enum(RunTrigger, "trigger", constrained=False))
    base_sha: Mapped[str] = mapped_column(SHA)
    head_sha: Mapped[str] = mapped_column(SHA)
    status: Mapped[RunStatus] = mapped_column(string_enum(RunStatus, "status"))
    conclusion: Mapped[str | None] = mapped_column(String(32))
    error: Mapped[str | None] = mapped_column(Text)
    queued_at: Mapped[datetime] = created_column()
    started_at: Mapped[datetime | None] = mapped_column()
    finished_at: Mapped[datetime | None] = mapped_column()
    stage_durations: Mapped[dict[str, Any]] = mapped_column(default=dict)
    prompt_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    completion_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    cached_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    engine_endpoint: Mapped[str | None] = mapped_column(String(512))
    engine_call_count: Mapped[int] = mapped_column(Integer, default=0)
    findings_dropped: Mapped[int] = mapped_column(Integer, default=0)
    notes: Mapped[list[str]] = mapped_column(default=list)

    repository: Mapped[Repository] = relationship()
    pull_request: Mapped[PullRequest | None] = relationship()
    delivery: Mapped[WebhookDelivery | None] = relationship(back_populates="runs")
    engine_calls: Mapped[list[EngineCall]] = relationship(
        back_populates="run", cascade="all, delete-orphan", order_by="EngineCall.id")
    generated_tests: Mapped[list[GeneratedTest]] = relationship(
        back_populates="run", cascade="all, delete-orphan", order_by="GeneratedTest.id")


class EngineCall(Base):
    """One call to a model replica: what it was for, its tokens and how long it took."""

    __tablename__ = "engine_calls"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = fk_column("review_runs.id", nullable=False, ondelete="CASCADE",
                                    index=True)
    replica: Mapped[str] = mapped_column(String(512))
    purpose: Mapped[str] = mapped_column(String(64))
    prompt_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cached_tokens: Mapped[int] = mapped_column(Integer, default=0)
    completion_tokens: Mapped[int] = mapped_column(Integer, default=0)
    queue_s: Mapped[float | None] = mapped_column(Float)
    total_s: Mapped[float] = mapped_column(Float)
    ok: Mapped[bool] = mapped_column(Boolean)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = created_column()

    run: Mapped[ReviewRun] = relationship(back_populates="engine_calls")


class FindingRecord(Base):
    """A finding as history knows it: one row per distinct finding, across the runs that saw it.

    Identity is the fingerprint within a scope (repository, and the PR when there is one);
    `first_seen_run_id`/`last_seen_run_id` and `run_findings` say which runs reported it.
    """

    __tablename__ = "findings"
    __table_args__ = (
        Index("ix_findings_repository_fingerprint", "repository_id", "fingerprint"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    repository_id: Mapped[int] = fk_column("repositories.id", nullable=False, ondelete="CASCADE")
    pull_request_id: Mapped[int | None] = fk_column("pull_requests.id", nullable=True,
                                                    ondelete="CASCADE", index=True)
    first_seen_run_id: Mapped[int | None] = fk_column("review_runs.id", nullable=True,
                                                      ondelete="SET NULL", index=True)
    last_seen_run_id: Mapped[int | None] = fk_column("review_runs.id", nullable=True,
                                                     ondelete="SET NULL", index=True)
    # The finding contract (reviewers.findings.CONTRACT_KEYS), as of the last sighting.
    path: Mapped[str] = mapped_column(Text)
    line: Mapped[int] = mapped_column(Integer)
    end_line: Mapped[int] = mapped_column(Integer)
    side: Mapped[str] = mapped_column(String(8))
    severity: Mapped[Severity] = mapped_column(string_enum(Severity, "severity"))
    category: Mapped[Category] = mapped_column(string_enum(Category, "category"))
    rule: Mapped[str] = mapped_column(String(255))
    cwe: Mapped[str | None] = mapped_column(String(32))
    message: Mapped[str] = mapped_column(Text)
    suggestion: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(64))
    fingerprint: Mapped[str] = mapped_column(String(64))
    confidence: Mapped[float] = mapped_column(Float)
    evidence: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Life cycle.
    state: Mapped[FindingState] = mapped_column(
        string_enum(FindingState, "state"), default=FindingState.OPEN)
    triage_verdict: Mapped[str | None] = mapped_column(String(32))
    triage_reason: Mapped[str | None] = mapped_column(Text)
    posted_comment_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = created_column()
    state_changed_at: Mapped[datetime] = created_column()

    repository: Mapped[Repository] = relationship()

    @classmethod
    def from_finding(cls, finding: Finding, **columns: Any) -> FindingRecord:
        record = cls(**columns)
        record.update_from(finding)
        return record

    def update_from(self, finding: Finding) -> None:
        """Copy every contract field (and the extra evidence) from a fresh sighting, its free
        text (message, suggestion, evidence) masked: a finding about a secret never stores
        it, and model text is untrusted and may quote one."""
        for key, value in finding.to_contract().items():
            masks = key in _FREE_TEXT and isinstance(value, str)
            setattr(self, key, mask_secrets(value) if masks else value)
        self.severity = finding.severity
        self.category = finding.category
        self.evidence = _masked(dict(finding.extra))
        triage = self.evidence.get("triage")
        if isinstance(triage, dict) and triage.get("verdict"):
            self.triage_verdict = str(triage["verdict"])[:32]
            self.triage_reason = str(triage.get("reason", ""))

    def to_finding(self) -> Finding:
        return Finding(
            path=self.path, line=self.line, end_line=self.end_line, side=self.side,
            severity=self.severity, category=self.category, rule=self.rule, cwe=self.cwe,
            message=self.message, suggestion=self.suggestion, source=self.source,
            fingerprint=self.fingerprint, confidence=self.confidence,
            extra=dict(self.evidence),
        )


_FREE_TEXT = frozenset({"message", "suggestion"})  # identity fields are never rewritten


def _masked(value: Any) -> Any:
    """`value` with every string inside it passed through `mask_secrets`."""
    if isinstance(value, str):
        return mask_secrets(value)
    if isinstance(value, dict):
        return {key: _masked(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_masked(item) for item in value]
    return value


class RunFinding(Base):
    """That a run reported a finding, and where it was in that run's head."""

    __tablename__ = "run_findings"

    run_id: Mapped[int] = mapped_column(
        ForeignKey("review_runs.id", ondelete="CASCADE"), primary_key=True)
    finding_id: Mapped[int] = mapped_column(
        ForeignKey("findings.id", ondelete="CASCADE"), primary_key=True, index=True)
    line: Mapped[int] = mapped_column(Integer)
    end_line: Mapped[int] = mapped_column(Integer)
    new: Mapped[bool] = mapped_column(Boolean)


class PostedComment(Base):
    """A comment the bot posted on a forge (inline finding, summary, test suggestion...)."""

    __tablename__ = "posted_comments"

    id: Mapped[int] = mapped_column(primary_key=True)
    finding_id: Mapped[int | None] = fk_column("findings.id", nullable=True, ondelete="CASCADE",
                                               index=True)
    run_id: Mapped[int | None] = fk_column("review_runs.id", nullable=True, ondelete="SET NULL",
                                           index=True)
    forge_comment_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    body_sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = created_column()


class GeneratedTest(Base):
    """A unit test the model wrote for a run, and what the sandbox made of it."""

    __tablename__ = "generated_tests"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = fk_column("review_runs.id", nullable=False, ondelete="CASCADE",
                                    index=True)
    target: Mapped[str] = mapped_column(Text)
    path: Mapped[str] = mapped_column(Text)
    code: Mapped[str] = mapped_column(Text)
    fate: Mapped[TestFate] = mapped_column(string_enum(TestFate, "fate"))
    # reviewers.testgen CandidateResult.evidence(): {"behaviour", "passes", "runs",
    # "coverage_before"/"coverage_after": [covered, changed lines], "newly_covered",
    # "seconds", "steps": [...], "repair_of"} (+ "delivered" once posted, bot.testdelivery)
    evidence: Mapped[dict[str, Any]] = mapped_column(default=dict)
    behaviour_change: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = created_column()

    run: Mapped[ReviewRun] = relationship(back_populates="generated_tests")


class Digest(Base):
    """A weekly quality digest for a scope (a repository's full name, or an organisation)."""

    __tablename__ = "digests"
    __table_args__ = (UniqueConstraint("scope", "period_start"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(String(512))
    repository_id: Mapped[int | None] = fk_column("repositories.id", nullable=True,
                                                  ondelete="CASCADE", index=True)
    period_start: Mapped[datetime] = mapped_column()
    period_end: Mapped[datetime] = mapped_column()
    markdown: Mapped[str] = mapped_column(Text)
    html: Mapped[str | None] = mapped_column(Text)
    forge_issue_number: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = created_column()
    updated_at: Mapped[datetime] = updated_column()
