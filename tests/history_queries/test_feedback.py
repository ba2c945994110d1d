"""Forge feedback moves seeded findings: reactions, resolved threads and re-runs."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from bot.history.enums import FindingState, RunStatus, RunTrigger
from bot.history.feedback import (
    finding_for_comment,
    record_reaction,
    record_reply,
    record_rerun,
    record_thread_resolved,
)
from bot.history.models import FindingRecord, PullRequest, Repository
from bot.history.store import finish_run, start_run
from tests.history_queries.seed import F, Seeded, at

pytestmark = pytest.mark.postgres


def test_the_seed_went_through_the_feedback_paths(session: Session, seeded: Seeded) -> None:
    state = {key: session.get(FindingRecord, fid).state  # type: ignore[union-attr]
             for key, fid in seeded.findings.items()}
    assert state["F2"] is FindingState.RESOLVED  # re-run no longer reported it
    assert state["F3"] is FindingState.DISMISSED  # 👎
    assert state["F4"] is FindingState.DISMISSED  # thread resolved, code unchanged
    assert state["F7"] is FindingState.POSTED  # 👍 keeps it
    f7 = session.get(FindingRecord, seeded.findings["F7"])
    assert f7 is not None
    assert f7.triage_verdict == "upvoted"


def test_comment_lookup_and_downvote(session: Session, seeded: Seeded) -> None:
    f1 = session.get(FindingRecord, seeded.findings["F1"])
    assert f1 is not None
    assert f1.posted_comment_id is not None
    assert finding_for_comment(session, seeded.widgets_id, f1.posted_comment_id) is f1
    assert finding_for_comment(session, seeded.gadgets_id, f1.posted_comment_id) is None
    assert record_reaction(f1, "-1", now=at(10, 12, 9)) is FindingState.DISMISSED
    assert record_reaction(f1, "+1") is FindingState.DISMISSED  # a decision stays made


def test_thread_resolved_after_a_new_run_dropped_the_finding(session: Session,
                                                             seeded: Seeded) -> None:
    repo = session.get(Repository, seeded.widgets_id)
    pr = session.get(PullRequest, seeded.pulls[2])
    assert repo is not None
    assert pr is not None
    f5 = session.get(FindingRecord, seeded.findings["F5"])
    assert f5 is not None
    run = start_run(session, repo, RunTrigger.COMMAND, "0" * 40, "e" * 40, pr, now=at(10, 12, 8))
    finish_run(session, run, RunStatus.COMPLETED, [F["F7"]], now=at(10, 12, 9))
    assert record_thread_resolved(session, f5, now=at(10, 12, 10)) is FindingState.RESOLVED


def test_rerun_resolves_changed_files_and_outdates_the_rest(session: Session,
                                                            seeded: Seeded) -> None:
    repo = session.get(Repository, seeded.widgets_id)
    pr = session.get(PullRequest, seeded.pulls[2])
    assert repo is not None
    assert pr is not None
    run = start_run(session, repo, RunTrigger.RERUN, "0" * 40, "f" * 40, pr, now=at(10, 12, 8))
    finish_run(session, run, RunStatus.COMPLETED, [F["F5"]], now=at(10, 12, 9))
    moved = record_rerun(session, run, {"src/cache.py"}, now=at(10, 12, 9))
    # F5 still reported; F6 (src/cache.py changed) resolved; F7 (src/db.py left the diff).
    assert moved == {seeded.findings["F6"]: FindingState.RESOLVED,
                     seeded.findings["F7"]: FindingState.OUTDATED}


def test_gitlab_award_emoji_and_replies(session: Session, seeded: Seeded) -> None:
    f5 = session.get(FindingRecord, seeded.findings["F5"])
    f1 = session.get(FindingRecord, seeded.findings["F1"])
    f7 = session.get(FindingRecord, seeded.findings["F7"])
    assert f5 is not None
    assert f1 is not None
    assert f7 is not None
    assert record_reply(f5, "alice", now=at(10, 12, 9)) is FindingState.POSTED
    assert (f5.triage_verdict, f5.triage_reason) == ("replied", "reply by alice")
    assert record_reply(f7, "bob") is FindingState.POSTED
    assert f7.triage_verdict == "upvoted"  # a reply does not overwrite a reaction
    assert record_reaction(f5, "thumbsup") is FindingState.POSTED
    assert f5.triage_verdict == "upvoted"
    assert record_reaction(f1, "eyes") is FindingState.POSTED  # not feedback
    assert record_reaction(f1, "thumbsdown", now=at(10, 12, 10)) is FindingState.DISMISSED
    assert f1.state_changed_at == at(10, 12, 10)
