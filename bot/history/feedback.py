"""Feedback from the forge moves findings on: resolved threads, 👍/👎 reactions, re-runs.

Plain functions over a caller-owned session (flush, never commit) for the webhook layer:
- a 👎 on the bot's comment dismisses its finding; a 👍 records the verdict and keeps it
  (GitHub's `-1`/`+1` reactions and GitLab's `thumbsdown`/`thumbsup` award emoji alike);
- a person's reply in the thread is noted (verdict `replied`) and decides nothing;
- a resolved thread resolves the finding when the flagged code changed since the comment
  (the newest finished run of the PR no longer reported it) and dismisses it otherwise;
- a full re-run (new head or `/review`) resolves live findings it no longer reports whose
  file is still in the diff (the code changed) and outdates those whose file left the diff.
Dismissed findings stay dismissed on re-runs; resolved and outdated ones are final.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.history.enums import LIVE_FINDING_STATES, FindingState, Forge, RunStatus
from bot.history.lifecycle import set_finding_state
from bot.history.models import FindingRecord, PullRequest, Repository, ReviewRun, RunFinding
from bot.history.schema import utcnow

UPVOTE, DOWNVOTE = "+1", "-1"
UPVOTES = frozenset({UPVOTE, "thumbsup"})
DOWNVOTES = frozenset({DOWNVOTE, "thumbsdown"})
_DECIDABLE = (FindingState.OPEN, FindingState.POSTED)


def feedback_findings(session: Session, forge: Forge, repo: str, number: int,
                      fingerprints: Collection[str]) -> list[FindingRecord]:
    """The live findings of PR `number` with these fingerprints (what a comment was about)."""
    query = (select(FindingRecord)
             .join(Repository, Repository.id == FindingRecord.repository_id)
             .join(PullRequest, PullRequest.id == FindingRecord.pull_request_id)
             .where(Repository.forge == forge, Repository.full_name == repo,
                    PullRequest.number == number,
                    FindingRecord.fingerprint.in_(set(fingerprints)),
                    FindingRecord.state.in_(LIVE_FINDING_STATES))
             .order_by(FindingRecord.id))
    return list(session.scalars(query))


def finding_for_comment(session: Session, repository_id: int, forge_comment_id: str
                        ) -> FindingRecord | None:
    """The finding the bot's comment `forge_comment_id` was about (newest if reposted)."""
    return session.scalars(select(FindingRecord).where(
        FindingRecord.repository_id == repository_id,
        FindingRecord.posted_comment_id == str(forge_comment_id))
        .order_by(FindingRecord.id.desc()).limit(1)).one_or_none()


def record_reaction(finding: FindingRecord, reaction: str, *,
                    now: datetime | None = None) -> FindingState:
    """👎 dismisses a live finding; 👍 is noted as the verdict; other reactions are ignored."""
    if reaction in DOWNVOTES and finding.state in _DECIDABLE:
        set_finding_state(finding, FindingState.DISMISSED, verdict="downvoted",
                          reason="👎 on the bot's comment", now=now)
    elif reaction in UPVOTES and finding.state in _DECIDABLE:
        set_finding_state(finding, finding.state, verdict="upvoted", now=now)
    return finding.state


def record_reply(finding: FindingRecord, author: str, *, now: datetime | None = None
                 ) -> FindingState:
    """Someone answered in the bot's thread: noted when nothing was decided yet, state kept.

    A reply's text is untrusted and never moves a finding; a reaction or a resolved
    thread does.
    """
    if finding.state in _DECIDABLE and finding.triage_verdict is None:
        set_finding_state(finding, finding.state, verdict="replied",
                          reason=f"reply by {author[:100]}", now=now)
    return finding.state


def code_changed_since_posted(session: Session, finding: FindingRecord) -> bool:
    """Whether the newest finished run of the finding's PR no longer reported it."""
    if finding.pull_request_id is None:
        return False
    newest = session.scalars(select(ReviewRun.id).where(
        ReviewRun.pull_request_id == finding.pull_request_id,
        ReviewRun.status == RunStatus.COMPLETED)
        .order_by(ReviewRun.finished_at.desc(), ReviewRun.id.desc()).limit(1)).one_or_none()
    if newest is None:
        return False
    reported = session.get(RunFinding, (newest, finding.id))
    return reported is None


def record_thread_resolved(session: Session, finding: FindingRecord, *,
                           code_changed: bool | None = None,
                           now: datetime | None = None) -> FindingState:
    """A reviewer resolved the comment thread: resolved if the code changed, else dismissed."""
    if finding.state not in _DECIDABLE:
        return finding.state
    if code_changed is None:
        code_changed = code_changed_since_posted(session, finding)
    if code_changed:
        set_finding_state(finding, FindingState.RESOLVED, verdict="fixed",
                          reason="thread resolved after the code changed", now=now)
    else:
        set_finding_state(finding, FindingState.DISMISSED, verdict="resolved-unchanged",
                          reason="thread resolved without a code change", now=now)
    session.flush()
    return finding.state


def record_rerun(session: Session, run: ReviewRun, changed_paths: Collection[str], *,
                 now: datetime | None = None) -> dict[int, FindingState]:
    """After a full re-review: settle the scope's live findings `run` did not report.

    `changed_paths` are the head paths of the files in the re-reviewed diff. Returns the
    findings moved, by id, with their new state.
    """
    now = now or utcnow()
    reported = set(session.scalars(select(RunFinding.finding_id)
                                   .where(RunFinding.run_id == run.id)))
    pr_clause = (FindingRecord.pull_request_id.is_(None) if run.pull_request_id is None
                 else FindingRecord.pull_request_id == run.pull_request_id)
    live = session.scalars(select(FindingRecord).where(
        FindingRecord.repository_id == run.repository_id, pr_clause,
        FindingRecord.state.in_(_DECIDABLE)).order_by(FindingRecord.id))
    moved: dict[int, FindingState] = {}
    paths = set(changed_paths)
    for finding in live:
        if finding.id in reported:
            continue
        if finding.path in paths:
            set_finding_state(finding, FindingState.RESOLVED, verdict="fixed",
                              reason=f"no longer reported by run {run.id}", now=now)
        else:
            set_finding_state(finding, FindingState.OUTDATED,
                              reason=f"file left the diff in run {run.id}", now=now)
        moved[finding.id] = finding.state
    session.flush()
    return moved
