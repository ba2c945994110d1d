"""Deliver validated generated tests to the PR and record every candidate's fate in history.

Called by the service after the review is posted (and for `/tests`). Two modes, chosen by
`.reviewbot.yml` `tests.delivery`:

- "comment": one PR comment per kept test file with its evidence. Each comment carries a
  hidden marker naming the file, so a retried or redelivered job edits its own comment
  (`Forge.upsert_summary`) instead of posting a second copy.
- "branch": the kept files are committed on `reviewbot/tests/<pr>` on top of the PR head
  and a follow-up PR/MR into the PR's head branch is opened once (found again on re-runs).
  When the forge refuses (no write access to contents, a head branch living in a fork),
  the tests are posted as comments instead and `TestDelivery.note` says why.

Model-written text is untrusted: behaviours are sanitised like every posted text, and the
code cannot carry a marker or a secret.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.errors import ForgeError
from bot.forges.base import Forge, IssueRef, PullRequest
from bot.history.models import GeneratedTest, ReviewRun
from bot.history.recording import generated_test_records
from bot.history.store import record_generated_test
from bot.posting import sanitize
from reviewers.errors import TransientError
from reviewers.repoconfig import TestGenConfig
from reviewers.secrets_mask import mask_secrets
from reviewers.testgen import KeptTest, TestGenResult, comment_marker, render_test_comment

log = logging.getLogger(__name__)

BRANCH_PREFIX = "reviewbot/tests/"
DeliveryMode = Literal["comment", "branch", "none"]


@dataclass(frozen=True, slots=True)
class TestDelivery:
    """What `deliver_tests` did: comments per test path, or the branch and follow-up PR."""

    __test__ = False

    mode: DeliveryMode
    comments: dict[str, int] = field(default_factory=dict)  # test path -> comment/note id
    branch: str | None = None
    commit_sha: str | None = None
    follow_up: IssueRef | None = None
    recorded: int = 0  # candidate rows newly written to history
    note: str | None = None  # why the asked-for mode was not used


def tests_branch(pr: PullRequest) -> str:
    return f"{BRANCH_PREFIX}{pr.number}"


def deliver_tests(forge: Forge, repo: str, pr: PullRequest, result: TestGenResult,
                  config: TestGenConfig, *, session: Session, run: ReviewRun) -> TestDelivery:
    """Post or commit the kept tests of `result`, then record all candidates on `run`.

    Idempotent: re-running for the same PR edits the same comments / moves the same branch
    and finds the open follow-up PR; candidates already recorded on `run` are not stored
    twice. Raises `bot.errors.ForgeError` (transient subclasses for Celery to retry) and
    `HistoryError`; the caller owns the session's transaction.
    """
    kept = [_safe(test) for test in result.kept]
    delivery = TestDelivery("none")
    if kept and config.delivery == "branch":
        try:
            delivery = _to_branch(forge, repo, pr, kept)
        except TransientError:
            raise
        except ForgeError as exc:  # e.g. no write access to contents, or a fork's branch
            note = f"tests posted as comments: the branch could not be written ({exc})"
            log.warning("tests.branch_refused", extra={"repo": repo, "pr": pr.number,
                                                       "error": str(exc)[:300]})
            delivery = dataclasses.replace(_to_comments(forge, repo, pr, kept), note=note)
    elif kept:
        delivery = _to_comments(forge, repo, pr, kept)
    recorded = _record(session, run, result, delivery)
    log.info("tests.delivered", extra={"repo": repo, "pr": pr.number, "mode": delivery.mode,
                                       "kept": len(kept), "candidates": len(result.results),
                                       "recorded": recorded})
    return dataclasses.replace(delivery, recorded=recorded)


def _to_comments(forge: Forge, repo: str, pr: PullRequest, kept: list[KeptTest]
                 ) -> TestDelivery:
    return TestDelivery("comment", {
        test.path: forge.upsert_summary(repo, pr.number, comment_marker(test.path),
                                        render_test_comment(test)) for test in kept})


def _to_branch(forge: Forge, repo: str, pr: PullRequest, kept: list[KeptTest]) -> TestDelivery:
    branch = tests_branch(pr)
    files = {test.path: test.content for test in kept}
    message = (f"Add {len(kept)} generated test file(s) for #{pr.number}\n\n"
               + "\n".join(f"- {t.path}: {t.passes}/{t.runs} sandboxed runs passed, changed "
                           f"lines covered {t.coverage_before[0]}/{t.coverage_before[1]} -> "
                           f"{t.coverage_after[0]}/{t.coverage_after[1]}" for t in kept))
    sha = forge.push_files(repo, branch, pr.head_sha, files, message)
    body = "\n\n".join(
        [f"Generated tests for #{pr.number}, validated in a sandbox by reviewbot. Merge this "
         f"into `{pr.head_ref}` to add them to the change.",
         *(render_test_comment(test) for test in kept)])
    follow_up = forge.open_pull_request(repo, branch, pr.head_ref,
                                        f"Generated tests for #{pr.number}", body)
    return TestDelivery("branch", branch=branch, commit_sha=sha, follow_up=follow_up)


def _safe(test: KeptTest) -> KeptTest:
    """Model text made fit to post: behaviours sanitised; code without secrets or markers."""
    content = mask_secrets(test.content).replace("<!--", "<!\u2060--")
    return dataclasses.replace(test, content=content,
                               behaviours=[sanitize(b, limit=400) for b in test.behaviours])


def _record(session: Session, run: ReviewRun, result: TestGenResult,
            delivery: TestDelivery) -> int:
    """Store every candidate once per run, the kept ones with where they were delivered."""
    seen = {(row.target, row.path, row.fate.value, row.code) for row in session.scalars(
        select(GeneratedTest).where(GeneratedTest.run_id == run.id))}
    written = 0
    for raw in generated_test_records(result):
        record = dataclasses.replace(raw, code=mask_secrets(raw.code))  # no secret is stored
        key = (record.target, record.path, record.fate.value, record.code)
        if key in seen:
            continue
        if record.fate.value == "kept" and delivery.mode != "none":
            where: dict[str, object] = {"mode": delivery.mode}
            if delivery.mode == "comment":
                where["comment_id"] = delivery.comments.get(record.path)
            else:
                where.update(branch=delivery.branch, commit=delivery.commit_sha,
                             follow_up=delivery.follow_up.url if delivery.follow_up else None)
            record = dataclasses.replace(record, evidence={**record.evidence,
                                                           "delivered": where})
        record_generated_test(session, run, record)
        seen.add(key)
        written += 1
    session.flush()
    return written
