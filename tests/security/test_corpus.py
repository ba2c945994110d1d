"""The security corpus through the review pipeline with no engine: the analyzer path.

Each vulnerable case must be found at its expected line with its CWE (except the
documented analyzer gaps, the model's job); each safe look-alike must stay unflagged
(except the documented analyzer false positives, triage's job); nothing is flagged off the
changed code; every finding is complete and marked untriaged.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from reviewers.analyzers.process import find_executable
from reviewers.findings import Category
from reviewers.pipeline import ReviewOutcome
from tests.security_corpus import Case, batches, load_cases
from tests.security_corpus.run import Score, run_batched

SEMGREP = find_executable("semgrep")
CODE_LANGUAGES = {"python", "javascript", "go", "java"}


def _needs_semgrep(case: Case) -> bool:
    """Outside Python, only secrets are found without semgrep and the project's rules."""
    return case.language in {"javascript", "go", "java"} and case.cwes != {"CWE-798"}


def _in_scope(case: Case) -> bool:
    return SEMGREP is not None or not _needs_semgrep(case)


@pytest.fixture(scope="module")
def corpus_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Score, list[ReviewOutcome]]:
    cases = [case for case in load_cases() if _in_scope(case)]
    return run_batched(cases, tmp_path_factory.mktemp("corpus"))


def test_the_corpus_is_broad_enough() -> None:
    cases = load_cases()
    vulnerable = [c for c in cases if c.vulnerable]
    assert len(cases) >= 40
    assert len({e.cwe for c in vulnerable for e in c.expect}) >= 12
    languages = {c.language for c in vulnerable} & CODE_LANGUAGES
    assert "python" in languages
    assert len(languages - {"python"}) >= 2
    safe = [c for c in cases if not c.vulnerable]
    assert len(safe) >= 20  # a look-alike for most vulnerable shapes
    assert len(batches(cases)) <= 3  # vulnerable and safe variants share paths


def test_every_vulnerable_case_is_found_at_its_line_with_its_cwe(
        corpus_run: tuple[Score, list[ReviewOutcome]]) -> None:
    score, _ = corpus_run
    missed = [(r.case.id, e.line, e.cwe) for r in score.cases if not r.case.analyzer_gap
              for e in r.missed]
    assert missed == []
    # the documented gaps really are gaps: if an analyzer starts finding one, update the
    # corpus so the figure stays honest
    found_gaps = [r.case.id for r in score.cases if r.case.analyzer_gap and r.matched]
    assert found_gaps == []


def test_safe_look_alikes_are_not_flagged(corpus_run: tuple[Score, list[ReviewOutcome]]
                                          ) -> None:
    score, _ = corpus_run
    flagged = [(r.case.id, f.line, f.rule) for r in score.cases
               if not r.case.vulnerable and not r.case.analyzer_false_positive
               for f in r.false_positives]
    assert flagged == []
    extra = [(r.case.id, f.line, f.rule) for r in score.cases if r.case.vulnerable
             for f in r.false_positives]
    assert extra == []  # and vulnerable cases get no second, wrong finding


def test_only_changed_code_is_flagged(corpus_run: tuple[Score, list[ReviewOutcome]]) -> None:
    _, outcomes = corpus_run
    for outcome in outcomes:
        for finding in outcome.findings:
            file = outcome.diff.file(finding.path)
            assert file is not None
            added = set(file.added_lines())
            assert added & set(range(finding.line, finding.end_line + 1)), finding
    score, _ = corpus_run
    by_id = {r.case.id: r for r in score.cases}
    # shell=True in the base, untouched by the change: not this change's finding
    assert by_id["py-preexisting-issue-untouched"].true_positives == []
    assert by_id["py-preexisting-issue-untouched"].false_positives == []
    # only `shell=True` and the command changed: the statement spanning them is flagged
    multiline = by_id["py-cmdi-multiline-statement"].true_positives
    assert [(f.line, f.end_line, f.rule) for f in multiline] == [(5, 8, "B602")]


def test_findings_are_complete_and_marked_untriaged(
        corpus_run: tuple[Score, list[ReviewOutcome]]) -> None:
    _, outcomes = corpus_run
    security = [f for o in outcomes for f in o.findings if f.category is Category.SECURITY]
    assert len(security) >= 30
    for finding in security:
        assert finding.rule, finding
        assert (finding.cwe or "").startswith("CWE-"), finding
        assert 0 < finding.confidence <= 1
        assert finding.fingerprint
        assert finding.extra["triage"]["verdict"] == "untriaged"
    # severity follows the tool's severity x confidence: a high/high bandit rule is high,
    # a low-confidence entropy guess never reaches critical
    by_rule = {f.rule: f for f in security}
    assert by_rule["B602"].severity == "high"
    assert by_rule["secret/aws-access-key"].severity == "critical"


def test_two_analyzers_on_one_line_and_cwe_are_one_finding(
        corpus_run: tuple[Score, list[ReviewOutcome]]) -> None:
    score, _ = corpus_run
    by_id = {r.case.id: r for r in score.cases}
    [password] = by_id["py-hardcoded-db-password"].true_positives
    assert password.source == "bandit+secrets"
    assert password.cwe == "CWE-798"
    [sql] = by_id["py-sqli-fstring"].true_positives
    assert sql.source == "bandit+semgrep" if SEMGREP else sql.source == "bandit"


def test_repository_config_raises_lowers_and_ignores(tmp_path: Path) -> None:
    from reviewers.repoconfig import parse_repo_config

    config = parse_repo_config(
        "rules:\n"
        "  B602: {severity: critical}\n"
        "  B324: {severity: low}\n"
        "  B311: {ignore: true}\n"
        "  CWE-502: {severity: critical}\n"
        "security_ignore_paths: ['ops/**']\n")
    chosen = [c for c in load_cases() if c.id in {
        "py-cmdi-shell-true", "py-md5-password", "py-random-reset-token",
        "py-cmdi-multiline-statement", "py-pickle-loads"}]
    _score, outcomes = run_batched(chosen, tmp_path, config=config)
    reported = {f.rule: f for o in outcomes for f in o.findings}
    assert reported["B602"].severity == "critical"
    assert reported["B602"].path == "media/thumbs.py"
    assert reported["B324"].severity == "low"
    assert "B311" not in reported
    assert reported["B301"].severity == "critical"  # by its CWE: any source reporting CWE-502
    assert not [f for f in reported.values() if f.path.startswith("ops/")]
    assert any("ignored by config" in why for o in outcomes for _, why in o.suppressed)


@pytest.mark.slow
def test_each_case_alone_scores_as_in_the_batched_run(
        tmp_path: Path, corpus_run: tuple[Score, list[ReviewOutcome]]) -> None:
    """One change per case (what a pull request sees, and what the benchmark measures)
    finds and misses the same things as the combined changes the fast tests review."""
    from tests.security_corpus.run import run_each

    batched, _ = corpus_run
    alone = run_each([r.case for r in batched.cases], tmp_path)

    def outcome(score: Score) -> dict[str, tuple[int, int, list[tuple[int, str]]]]:
        return {r.case.id: (len(r.matched), len(r.missed),
                            sorted((f.line, f.rule) for f in r.false_positives))
                for r in score.cases}

    assert outcome(alone) == outcome(batched)
