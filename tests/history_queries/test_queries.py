"""History queries on Postgres against the seed (tests/history_queries/seed.py).

Every expected figure below was computed by hand from the seed's docstring and calls.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date

import pytest
from sqlalchemy.orm import Session

from bot.errors import HistoryError
from bot.history.db import make_engine, session_factory
from bot.history.periods import Week, weeks_ending
from bot.history.queries import (
    acceptance_by_rule,
    acceptance_by_source,
    acceptance_overall,
    findings_by_week,
    hot_files,
    noisiest_rules,
    resolve_scope,
    top_open_findings,
)
from bot.history.runqueries import (
    GpuRates,
    completed_reviews,
    generated_test_outcomes,
    merged_tests,
    percentile,
    review_latency,
    token_usage,
)
from tests.history_queries.seed import Seeded

pytestmark = pytest.mark.postgres


@pytest.fixture
def session(seeded_readonly_url: str) -> Iterator[Session]:
    """These tests only read: a session on the seeded template, read-only."""
    engine = make_engine(seeded_readonly_url)
    try:
        with session_factory(engine)() as session:
            yield session
    finally:
        engine.dispose()

W41 = Week(date(2026, 10, 5), UTC)
W38 = Week(date(2026, 9, 14), UTC)
RATES = GpuRates(prefill_tokens_per_s=1000, decode_tokens_per_s=100)


def test_scopes_are_a_repository_or_an_organisation(session: Session, seeded: Seeded) -> None:
    repo = resolve_scope(session, "acme/widgets")
    org = resolve_scope(session, "acme")
    assert (repo.kind, repo.repository_ids) == ("repository", (seeded.widgets_id,))
    assert (org.kind, org.repository_ids) == ("organisation",
                                              (seeded.widgets_id, seeded.gadgets_id))
    with pytest.raises(HistoryError, match="nobody"):
        resolve_scope(session, "nobody")


def test_findings_introduced_and_fixed_per_week(session: Session) -> None:
    scope = resolve_scope(session, "acme/widgets")
    weeks = findings_by_week(session, scope, weeks_ending(W41, 5))

    assert [w.week.label for w in weeks] == ["2026-W37", "2026-W38", "2026-W39", "2026-W40",
                                             "2026-W41"]
    assert [w.introduced.total for w in weeks] == [0, 2, 0, 1, 7]
    assert [w.fixed.total for w in weeks] == [0, 1, 0, 0, 2]
    w41 = weeks[-1]
    assert w41.introduced.by_severity == {"critical": 1, "high": 2, "medium": 2, "low": 2}
    assert w41.introduced.by_category == {"security": 3, "bug": 1, "style": 1,
                                          "performance": 1, "maintainability": 1}
    assert w41.introduced.by_cwe == {"CWE-89": 1, "CWE-798": 1, "CWE-22": 1}
    # F2 (medium, fixed by run B's re-review) and F8 (high, introduced in W40).
    assert w41.fixed.by_severity == {"high": 1, "medium": 1}
    assert w41.fixed.by_category == {"bug": 2}
    assert w41.fixed.by_cwe == {}
    assert weeks[1].fixed.by_severity == {"low": 1}  # F10


def test_organisation_scope_adds_the_other_repositories(session: Session) -> None:
    [w41] = findings_by_week(session, resolve_scope(session, "acme"), [W41])
    assert w41.introduced.total == 8  # 7 in widgets + F11 in gadgets; not F12 (other/thing)
    assert w41.introduced.by_cwe == {"CWE-89": 2, "CWE-798": 1, "CWE-22": 1}


def test_acceptance_and_dismissal_per_rule_and_source(session: Session) -> None:
    scope = resolve_scope(session, "acme/widgets")
    by_rule = {s.key: (s.posted, s.accepted, s.dismissed)
               for s in acceptance_by_rule(session, scope, W41.start, W41.end)}
    assert by_rule == {
        "hardcoded-secret": (1, 0, 1), "long-function": (1, 0, 0), "naming": (1, 0, 1),
        "null-deref": (1, 1, 0), "path-traversal": (1, 0, 0), "sql-injection": (1, 0, 0),
    }
    by_source = {s.key: (s.posted, s.accepted, s.dismissed)
                 for s in acceptance_by_source(session, scope, W41.start, W41.end)}
    assert by_source == {"bandit": (1, 0, 1), "llm": (3, 1, 0), "ruff": (2, 0, 1)}
    overall = acceptance_overall(session, scope, W41.start, W41.end)
    assert (overall.posted, overall.accepted, overall.dismissed, overall.pending) == (6, 1, 2, 3)
    assert overall.acceptance_rate == pytest.approx(1 / 6)
    assert overall.dismissal_rate == pytest.approx(2 / 6)
    w38 = acceptance_overall(session, scope, W38.start, W38.end)
    assert (w38.posted, w38.accepted, w38.dismissed) == (2, 1, 1)


def test_noisiest_rules_over_five_weeks(session: Session) -> None:
    scope = resolve_scope(session, "acme/widgets")
    noisy = noisiest_rules(session, scope, W41.shifted(-4).start, W41.end)
    assert [(s.key, s.dismissed, s.posted) for s in noisy] == [
        ("naming", 2, 2), ("hardcoded-secret", 1, 1)]


def test_hot_files(session: Session) -> None:
    scope = resolve_scope(session, "acme/widgets")
    hot = hot_files(session, scope, W41.start, W41.end)
    assert [(h.path, h.findings, h.pull_requests, h.worst_severity) for h in hot] == [
        ("src/cache.py", 2, 1, "critical"),
        ("src/db.py", 2, 2, "high"),
        ("src/parser.py", 2, 1, "medium"),
        ("src/config.py", 1, 1, "high"),
    ]


def test_top_open_findings(session: Session) -> None:
    top = top_open_findings(session, resolve_scope(session, "acme/widgets"))
    assert [(f.message.split(":")[0], f.severity, f.pr_number, f.state) for f in top] == [
        ("F5", "critical", 2, "posted"), ("F1", "high", 1, "posted"),
        ("F6", "medium", 2, "open")]


def test_generated_tests_kept_discarded_and_merged(session: Session) -> None:
    scope = resolve_scope(session, "acme/widgets")
    outcomes = generated_test_outcomes(session, scope, W41.start, W41.end)
    assert (outcomes.kept, outcomes.discarded) == (2, {"failed": 2, "no_assertions": 1})
    assert outcomes.discarded_total == 3
    merged = merged_tests(session, scope, W41.start, W41.end)
    assert [(m.pr_number, m.path) for m in merged] == [(1, "tests/test_parser.py")]
    assert merged_tests(session, scope, W38.start, W38.end) == []


def test_review_latency_percentiles(session: Session) -> None:
    scope = resolve_scope(session, "acme/widgets")
    latency = review_latency(session, scope, W41.start, W41.end)
    # Completed runs A, B, C: 120 s, 300 s, 90 s (run D failed and does not count).
    assert (latency.count, latency.p50, latency.p90, latency.p99) == (3, 120.0, 300.0, 300.0)
    assert completed_reviews(session, scope, W41.start, W41.end) == 3
    org = review_latency(session, resolve_scope(session, "acme"), W41.start, W41.end)
    assert (org.count, org.p50, org.p90) == (4, 120.0, 600.0)  # + gadgets' 600 s


def test_tokens_and_gpu_seconds(session: Session) -> None:
    scope = resolve_scope(session, "acme/widgets")
    usage = token_usage(session, scope, W41.start, W41.end, RATES)
    assert (usage.reviews, usage.prompt, usage.cached, usage.completion) == (
        4, 95000, 34000, 2600)
    # (prompt - cached) / 1000 + completion / 100 per run: A 30+12, B 6+6, C 20+8, D 5+0.
    assert [r.gpu_seconds for r in usage.per_review] == [42.0, 12.0, 28.0, 5.0]
    assert usage.gpu_seconds == pytest.approx(87.0)
    assert usage.mean("prompt") == pytest.approx(23750.0)
    assert usage.mean("gpu_seconds") == pytest.approx(21.75)


def test_nearest_rank_percentile() -> None:
    values = [float(v) for v in range(1, 11)]  # 1..10
    assert (percentile(values, 50), percentile(values, 90), percentile(values, 99)) == (
        5.0, 9.0, 10.0)
    assert percentile([], 50) is None
