"""Records a finished pipeline outcome (local CLI run or service job) in the history store."""

from __future__ import annotations

from collections.abc import Iterable

from bot.errors import HistoryError
from bot.history.db import (
    current_revision,
    head_revision,
    make_engine,
    normalise_url,
    session_factory,
    session_scope,
    translate_errors,
    upgrade_database,
)
from bot.history.enums import Forge, RunStatus, RunTrigger, TestFate
from bot.history.store import (
    EngineCallRecord,
    GeneratedTestRecord,
    finish_run,
    get_or_create_repository,
    start_run,
)
from bot.history.triage import record_triage_dismissals
from reviewers.engine import CallRecord
from reviewers.pipeline import ReviewOutcome
from reviewers.testgen import TestGenResult


def engine_call_records(calls: Iterable[CallRecord]) -> list[EngineCallRecord]:
    return [EngineCallRecord(
        replica=c.replica or "", purpose=c.schema_name or "chat",
        prompt_tokens=c.prompt_tokens or 0, completion_tokens=c.completion_tokens or 0,
        cached_tokens=c.cached_tokens or 0, total_s=c.total_s, queue_s=c.queue_s,
        ok=c.outcome == "ok", error=c.error) for c in calls]


def generated_test_records(result: TestGenResult | None) -> list[GeneratedTestRecord]:
    """Every candidate of a test-generation run with its fate and evidence (none: [])."""
    if result is None:
        return []
    return [GeneratedTestRecord(
        target=r["target"], path=r["path"], code=r["code"], fate=TestFate(r["fate"]),
        evidence=r["evidence"], behaviour_change=r["behaviour_change"])
        for r in result.history_records()]


def record_outcome(database_url: str, repository: str, outcome: ReviewOutcome, *,
                   base: str, head: str) -> int:
    """Store a local review run and its findings; returns the run id.

    A SQLite history (the local default) is migrated on first use; any other database
    must already be at the newest revision (`reviewbot db upgrade`).
    """
    url = normalise_url(database_url)
    if url.get_backend_name() == "sqlite":
        upgrade_database(url)
    engine = make_engine(url)
    try:
        with translate_errors("checking the history schema"):
            current = current_revision(engine)
        if current != head_revision():
            raise HistoryError(f"the database is at revision {current}, not "
                               f"{head_revision()}; run 'reviewbot db upgrade'")
        with session_scope(session_factory(engine)) as session:
            repo = get_or_create_repository(session, Forge.LOCAL, repository)
            run = start_run(session, repo, RunTrigger.CLI, base, head)
            finish_run(session, run, RunStatus.COMPLETED, outcome.findings,
                       engine_calls=engine_call_records(outcome.calls),
                       generated_tests=generated_test_records(outcome.tests),
                       stage_durations=outcome.timings,
                       findings_dropped=len(outcome.dropped), notes=outcome.notes)
            record_triage_dismissals(session, run, outcome.suppressed)
            session.flush()
            return run.id
    finally:
        engine.dispose()
