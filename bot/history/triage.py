"""Triage dismissals in history: analyzer findings the model judged false positives.

They are not posted (unless `.reviewbot.yml` sets `post_false_positives`), but history
keeps each one dismissed, with the model's reason, so a security engineer can audit what
the bot chose not to say; a later run of the same code finds it already dismissed.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.orm import Session

from bot.history.enums import FindingState
from bot.history.lifecycle import record_findings, set_finding_state
from bot.history.models import FindingRecord, ReviewRun
from reviewers.findings import Finding
from reviewers.secrets_mask import mask_secrets

FALSE_POSITIVE = "false_positive"


def triage_verdict(finding: Finding) -> tuple[str, str] | None:
    """(verdict, reason) of a triaged analyzer finding, the reason masked; None otherwise."""
    triage = finding.extra.get("triage")
    if not isinstance(triage, dict) or not triage.get("verdict"):
        return None
    return str(triage["verdict"]), mask_secrets(str(triage.get("reason", "")))


def record_triage_dismissals(session: Session, run: ReviewRun,
                             suppressed: Iterable[tuple[Finding, str]]) -> list[FindingRecord]:
    """Store the findings policy held back because triage called them false positives, as
    dismissed findings of `run` with the verdict and reason; returns their rows."""
    dismissed = [finding for finding, _ in suppressed
                 if (verdict := triage_verdict(finding)) and verdict[0] == FALSE_POSITIVE]
    records = record_findings(session, run, dismissed)
    for record in records:
        set_finding_state(record, FindingState.DISMISSED, verdict=FALSE_POSITIVE,
                          reason=record.triage_reason or "")
    session.flush()
    return records
