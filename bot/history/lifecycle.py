"""The life of a finding across runs: linked by fingerprint, posted, outdated, resolved.

A finding's identity is its fingerprint within a scope: the repository plus the pull
request (or "no pull request" for local runs), so the same code flagged in two PRs is two
findings. A new sighting of a fingerprint that is open, posted or dismissed updates that
row (a dismissed finding stays dismissed); after it was resolved or outdated, the same
fingerprint is a new finding (the problem came back).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from bot.history.enums import LIVE_FINDING_STATES, FindingState
from bot.history.models import FindingRecord, PostedComment, ReviewRun, RunFinding
from bot.history.schema import utcnow
from reviewers.findings import Finding


def _scope(repository_id: int, pull_request_id: int | None) -> list[ColumnElement[bool]]:
    pr_clause = (FindingRecord.pull_request_id.is_(None) if pull_request_id is None
                 else FindingRecord.pull_request_id == pull_request_id)
    return [FindingRecord.repository_id == repository_id, pr_clause]


def live_findings(session: Session, repository_id: int, pull_request_id: int | None = None,
                  *, fingerprints: Sequence[str] | None = None) -> list[FindingRecord]:
    """Open, posted and dismissed findings of a scope, oldest first."""
    query = select(FindingRecord).where(
        *_scope(repository_id, pull_request_id),
        FindingRecord.state.in_(LIVE_FINDING_STATES),
    ).order_by(FindingRecord.id)
    if fingerprints is not None:
        query = query.where(FindingRecord.fingerprint.in_(set(fingerprints)))
    return list(session.scalars(query))


def record_findings(session: Session, run: ReviewRun, findings: Sequence[Finding], *,
                    now: datetime | None = None) -> list[FindingRecord]:
    """Store `run`'s findings, linking each to the live finding with its fingerprint.

    Returns one row per distinct finding in input order; a second finding with the same
    fingerprint in one run is the same finding and is not stored twice.
    """
    now = now or utcnow()
    fingerprints = [f.fingerprint for f in findings if f.fingerprint]
    known: dict[str, FindingRecord] = {}
    if fingerprints:
        for row in live_findings(session, run.repository_id, run.pull_request_id,
                                 fingerprints=fingerprints):
            known[row.fingerprint] = row  # the newest live row wins
    sightings: list[tuple[FindingRecord, Finding, bool]] = []
    taken: set[int] = set()
    for finding in findings:
        record = known.get(finding.fingerprint) if finding.fingerprint else None
        is_new = record is None
        if record is None:
            record = FindingRecord.from_finding(
                finding, repository_id=run.repository_id,
                pull_request_id=run.pull_request_id, first_seen_run_id=run.id,
                state=FindingState.OPEN, created_at=now, state_changed_at=now)
            session.add(record)
            if finding.fingerprint:
                known[finding.fingerprint] = record
        elif id(record) in taken:
            continue
        else:
            record.update_from(finding)
        record.last_seen_run_id = run.id
        taken.add(id(record))
        sightings.append((record, finding, is_new))
    session.flush()
    for record, finding, is_new in sightings:
        session.add(RunFinding(run_id=run.id, finding_id=record.id, line=finding.line,
                               end_line=finding.end_line, new=is_new))
    session.flush()
    return [record for record, _, _ in sightings]


def findings_of_run(session: Session, run: ReviewRun) -> list[FindingRecord]:
    """The findings `run` reported (new and already known), in the order stored."""
    query = (select(FindingRecord).join(RunFinding, RunFinding.finding_id == FindingRecord.id)
             .where(RunFinding.run_id == run.id).order_by(FindingRecord.id))
    return list(session.scalars(query))


def set_finding_state(finding: FindingRecord, state: FindingState, *,
                      verdict: str | None = None, reason: str | None = None,
                      now: datetime | None = None) -> None:
    """Move a finding to `state`, with an optional triage verdict and reason."""
    if finding.state is not state:
        finding.state = state
        finding.state_changed_at = now or utcnow()
    if verdict is not None:
        finding.triage_verdict = verdict
    if reason is not None:
        finding.triage_reason = reason


def record_posted_comment(session: Session, *, forge_comment_id: str, kind: str, body: str,
                          finding: FindingRecord | None = None, run: ReviewRun | None = None,
                          now: datetime | None = None) -> PostedComment:
    """Remember a comment the bot posted (only a hash of its body); its finding is posted."""
    now = now or utcnow()
    comment = PostedComment(
        finding_id=finding.id if finding else None, run_id=run.id if run else None,
        forge_comment_id=forge_comment_id, kind=kind,
        body_sha256=hashlib.sha256(body.encode("utf-8", "surrogateescape")).hexdigest(),
        created_at=now,
    )
    session.add(comment)
    if finding is not None:
        finding.posted_comment_id = forge_comment_id
        if finding.state is FindingState.OPEN:
            set_finding_state(finding, FindingState.POSTED, now=now)
    session.flush()
    return comment


def posted_fingerprints(session: Session, repository_id: int,
                        pull_request_id: int | None) -> set[str]:
    """Fingerprints already commented on in this scope: never post them again."""
    query = select(FindingRecord.fingerprint).where(
        *_scope(repository_id, pull_request_id),
        FindingRecord.posted_comment_id.is_not(None),
    )
    return set(session.scalars(query))


def mark_outdated(session: Session, run: ReviewRun, *,
                  now: datetime | None = None) -> list[FindingRecord]:
    """Open or posted findings of `run`'s scope that `run` no longer reported become outdated.

    Call it after a full review of a new head (not an incremental one): a finding the new
    head no longer shows had its lines changed.
    """
    now = now or utcnow()
    query = select(FindingRecord).where(
        *_scope(run.repository_id, run.pull_request_id),
        FindingRecord.state.in_((FindingState.OPEN, FindingState.POSTED)),
        (FindingRecord.last_seen_run_id != run.id) | FindingRecord.last_seen_run_id.is_(None),
    )
    stale = list(session.scalars(query))
    for finding in stale:
        set_finding_state(finding, FindingState.OUTDATED, now=now)
    session.flush()
    return stale
