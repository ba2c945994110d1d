"""Store functions on SQLite and Postgres: runs, findings linked across runs, idempotency."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from bot.errors import DuplicateRun, HistoryError
from bot.history.db import session_factory, session_scope
from bot.history.enums import FindingState, Forge, RunStatus, RunTrigger, TestFate
from bot.history.lifecycle import (
    findings_of_run,
    mark_outdated,
    posted_fingerprints,
    record_posted_comment,
    set_finding_state,
)
from bot.history.models import (
    EngineCall,
    FindingRecord,
    PostedComment,
    PullRequest,
    Repository,
    ReviewRun,
    RunFinding,
)
from bot.history.store import (
    EngineCallRecord,
    GeneratedTestRecord,
    finish_run,
    get_or_create_pull_request,
    get_or_create_repository,
    start_run,
)
from reviewers.findings import Category, Finding, Severity

BASE, HEAD, HEAD2 = "a" * 40, "b" * 40, "c" * 40


def make_finding(code: str, *, line: int = 10, rule: str = "B608", **kw: object) -> Finding:
    finding = Finding(path="app/db.py", line=line, end_line=line, severity=Severity.HIGH,
                      category=Category.SECURITY, rule=rule, message=f"problem in {code}",
                      source="bandit")
    return replace(finding, **kw).with_fingerprint(code)  # type: ignore[arg-type]


def finding_count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(FindingRecord)) or 0


@pytest.fixture
def repo(session: Session) -> Repository:
    return get_or_create_repository(session, Forge.GITHUB, "acme/app", external_id="42",
                                    default_branch="main")


@pytest.fixture
def pr(session: Session, repo: Repository) -> PullRequest:
    return get_or_create_pull_request(session, repo, 7, title="Add search", author="dev",
                                      head_sha=HEAD, base_sha=BASE)


def review(session: Session, repo: Repository, findings: list[Finding], *,
           pr: PullRequest | None = None, head: str = HEAD,
           trigger: RunTrigger = RunTrigger.SYNCHRONIZE) -> list[FindingRecord]:
    run = start_run(session, repo, trigger, BASE, head, pr)
    return finish_run(session, run, RunStatus.COMPLETED, findings)


def test_finding_contract_round_trips_every_field(history_engine: Engine) -> None:
    full = Finding(
        path="src/naïve/ünïcode.py", line=12, end_line=15, side="RIGHT",
        severity=Severity.CRITICAL, category=Category.SECURITY, rule="B602", cwe="CWE-78",
        message="`subprocess` with shell=True and user input — quote: \"x\"\n2nd line",
        suggestion="subprocess.run([cmd, arg], check=True)", source="bandit",
        confidence=0.875, extra={"bandit": {"test_id": "B602"}, "lines": [12, 15]},
    ).with_fingerprint("subprocess.call(cmd, shell=True)")
    minimal = Finding(path="b.py", line=1, end_line=1, severity=Severity.INFO,
                      category=Category.STYLE, rule="", message="m", source="llm")
    factory = session_factory(history_engine)
    with factory() as session:
        repo = get_or_create_repository(session, Forge.LOCAL, "local/checkout")
        review(session, repo, [full, minimal], trigger=RunTrigger.CLI)
        session.commit()
    with factory() as fresh:  # read back from the database, not the identity map
        rows = fresh.scalars(select(FindingRecord).order_by(FindingRecord.id)).all()
        assert [row.to_finding().to_contract() for row in rows] == [
            full.to_contract(), minimal.to_contract()]
        assert rows[0].to_finding().extra == full.extra
        assert isinstance(rows[0].severity, Severity)
        assert rows[0].state is FindingState.OPEN


def test_a_known_fingerprint_is_linked_not_duplicated(session: Session, repo: Repository,
                                                       pr: PullRequest) -> None:
    first = review(session, repo, [make_finding("query(a)"), make_finding("query(b)")], pr=pr)
    moved = make_finding("query(a)", line=40)  # same code, further down after a push
    second = review(session, repo, [moved, make_finding("query(c)")], pr=pr, head=HEAD2)

    assert finding_count(session) == 3
    assert second[0].id == first[0].id
    assert second[0].line == 40
    assert second[0].first_seen_run_id == first[0].first_seen_run_id != second[0].last_seen_run_id
    run2 = session.get(ReviewRun, second[1].first_seen_run_id)
    assert run2 is not None
    assert {r.id for r in findings_of_run(session, run2)} == {first[0].id, second[1].id}
    sightings = session.scalars(select(RunFinding).where(RunFinding.run_id == run2.id)
                                .order_by(RunFinding.finding_id)).all()
    assert [(s.line, s.new) for s in sightings] == [(40, False), (10, True)]


def test_the_same_finding_twice_in_one_run_is_stored_once(session: Session,
                                                          repo: Repository) -> None:
    twice = [make_finding("eval(x)", line=3), make_finding("eval(x)", line=9)]
    records = review(session, repo, twice, trigger=RunTrigger.CLI)
    assert len(records) == 1
    assert finding_count(session) == 1


def test_same_code_in_two_pull_requests_is_two_findings(session: Session, repo: Repository,
                                                        pr: PullRequest) -> None:
    other = get_or_create_pull_request(session, repo, 8)
    a = review(session, repo, [make_finding("query(a)")], pr=pr)
    b = review(session, repo, [make_finding("query(a)")], pr=other)
    assert a[0].id != b[0].id
    assert finding_count(session) == 2


def test_dismissed_stays_dismissed_and_resolved_comes_back_new(
        session: Session, repo: Repository, pr: PullRequest) -> None:
    dismissed, resolved = review(session, repo, [make_finding("x()"), make_finding("y()")],
                                 pr=pr)
    set_finding_state(dismissed, FindingState.DISMISSED, verdict="false_positive",
                      reason="👎 from the author")
    set_finding_state(resolved, FindingState.RESOLVED)
    again = review(session, repo, [make_finding("x()"), make_finding("y()")], pr=pr, head=HEAD2)
    assert again[0].id == dismissed.id
    assert again[0].state is FindingState.DISMISSED
    assert again[0].triage_verdict == "false_positive"
    assert again[1].id != resolved.id
    assert again[1].state is FindingState.OPEN


def test_posting_marks_the_finding_and_keeps_only_a_body_hash(
        session: Session, repo: Repository, pr: PullRequest) -> None:
    (record,) = review(session, repo, [make_finding("query(a)")], pr=pr)
    body = "SQL built from user input.\n<!-- reviewbot:fp -->"
    record_posted_comment(session, forge_comment_id="1001", kind="inline", body=body,
                          finding=record)
    assert record.state is FindingState.POSTED
    assert record.posted_comment_id == "1001"
    assert posted_fingerprints(session, repo.id, pr.id) == {record.fingerprint}
    assert posted_fingerprints(session, repo.id, None) == set()
    comment = session.scalars(select(PostedComment)).one()
    assert len(comment.body_sha256) == 64
    assert body not in comment.body_sha256
    # the next push reports it again: still posted, so it is not posted a second time
    (again,) = review(session, repo, [make_finding("query(a)", line=11)], pr=pr, head=HEAD2)
    assert again.id == record.id
    assert again.state is FindingState.POSTED


def test_mark_outdated_touches_only_findings_the_new_head_lost(
        session: Session, repo: Repository, pr: PullRequest) -> None:
    kept, lost = review(session, repo, [make_finding("a()"), make_finding("b()")], pr=pr)
    run = start_run(session, repo, RunTrigger.SYNCHRONIZE, BASE, HEAD2, pr)
    finish_run(session, run, RunStatus.COMPLETED, [make_finding("a()")])
    assert mark_outdated(session, run) == [lost]
    assert lost.state is FindingState.OUTDATED
    assert kept.state is FindingState.OPEN


def test_pr_run_is_idempotent_per_head_and_trigger(session: Session, repo: Repository,
                                                   pr: PullRequest) -> None:
    first = start_run(session, repo, RunTrigger.OPENED, BASE, HEAD, pr)
    with pytest.raises(DuplicateRun) as caught:
        start_run(session, repo, RunTrigger.OPENED, BASE, HEAD, pr)
    assert caught.value.run_id == first.id
    # the duplicate left the transaction usable, and other triggers or heads still run
    start_run(session, repo, RunTrigger.COMMAND, BASE, HEAD, pr)
    start_run(session, repo, RunTrigger.SYNCHRONIZE, BASE, HEAD2, pr)
    start_run(session, repo, RunTrigger.CLI, BASE, HEAD)  # local runs have no key
    start_run(session, repo, RunTrigger.CLI, BASE, HEAD)
    session.commit()
    assert session.scalar(select(func.count()).select_from(ReviewRun)) == 5


def test_finish_run_records_calls_tests_and_timings(history_engine: Engine) -> None:
    started = datetime(2025, 3, 1, 9, 0, tzinfo=timezone(timedelta(hours=2)))
    factory = session_factory(history_engine)
    with factory() as session:
        repo = get_or_create_repository(session, Forge.GITLAB, "group/sub/app")
        run = start_run(session, repo, RunTrigger.CLI, BASE, HEAD, now=started)
        finish_run(
            session, run, RunStatus.COMPLETED, [make_finding("q()")],
            engine_calls=[
                EngineCallRecord("http://gpu-1:8000", "review", 9000, 700, cached_tokens=8000,
                                 total_s=12.5, queue_s=0.4),
                EngineCallRecord("http://gpu-1:8000", "tests", 3000, 0, total_s=30.0,
                                 ok=False, error="timeout"),
            ],
            generated_tests=[GeneratedTestRecord(
                "app.db.query", "tests/test_db.py", "def test_q(): assert q() == 1",
                TestFate.KEPT, {"passes": 3, "coverage_before": 0.5, "coverage_after": 0.75,
                                "runtime_ms": 41}, behaviour_change=True)],
            stage_durations={"diff": 0.02, "context": 0.3}, findings_dropped=2,
            notes=["diff split into 2 groups"], conclusion="failure",
            now=started + timedelta(seconds=50))
        session.commit()
        run_id = run.id
    with factory() as fresh:
        run = fresh.get_one(ReviewRun, run_id)
        assert (run.prompt_tokens, run.completion_tokens, run.cached_tokens) == (12000, 700, 8000)
        assert run.engine_call_count == 2
        assert run.engine_endpoint == "http://gpu-1:8000"
        assert run.started_at == datetime(2025, 3, 1, 7, 0, tzinfo=UTC)
        assert run.finished_at is not None
        assert run.started_at is not None
        assert (run.finished_at - run.started_at).total_seconds() == 50
        assert run.stage_durations == {"diff": 0.02, "context": 0.3}
        assert run.notes == ["diff split into 2 groups"]
        assert run.findings_dropped == 2
        assert [(c.purpose, c.ok, c.error) for c in run.engine_calls] == [
            ("review", True, None), ("tests", False, "timeout")]
        (test,) = run.generated_tests
        assert test.fate is TestFate.KEPT
        assert test.evidence["coverage_after"] == 0.75
        assert test.behaviour_change is True
        assert run.repository.owner == "group/sub"
        assert run.repository.name == "app"
    with factory() as session, pytest.raises(HistoryError, match="already completed"):
        finish_run(session, session.get_one(ReviewRun, run_id), RunStatus.FAILED)


def test_repository_found_by_external_id_after_a_rename(session: Session,
                                                        repo: Repository) -> None:
    renamed = get_or_create_repository(session, Forge.GITHUB, "acme/application",
                                       external_id="42", default_branch="trunk")
    assert renamed.id == repo.id
    assert renamed.name == "application"
    assert renamed.default_branch == "trunk"
    assert get_or_create_repository(session, Forge.GITLAB, "acme/app").id != repo.id


def test_deleting_a_repository_removes_its_history(session: Session, repo: Repository,
                                                   pr: PullRequest) -> None:
    review(session, repo, [make_finding("a()")], pr=pr)
    session.commit()
    session.delete(repo)  # the ON DELETE CASCADE of the schema does the rest
    session.commit()
    session.expunge_all()
    for model in (PullRequest, ReviewRun, FindingRecord, RunFinding, EngineCall):
        assert session.scalar(select(func.count()).select_from(model)) == 0


def test_naive_timestamps_are_refused(history_engine: Engine) -> None:
    def start_with_naive_clock() -> None:
        with session_scope(session_factory(history_engine)) as session:
            repo = get_or_create_repository(session, Forge.LOCAL, "local/x")
            start_run(session, repo, RunTrigger.CLI, BASE, HEAD, now=datetime(2025, 1, 1))

    with pytest.raises(HistoryError, match="naive datetime"):
        start_with_naive_clock()
