"""Findings of several sources about one weakness on one line become one finding."""

from __future__ import annotations

from reviewers.findings import Category, Finding, Severity
from reviewers.grounding import merge_findings, same_problem


def _finding(source: str, rule: str, cwe: str, line: int = 5, end_line: int = 5,
             severity: Severity = Severity.MEDIUM) -> Finding:
    return Finding(path="app.py", line=line, end_line=end_line, severity=severity,
                   category=Category.SECURITY, rule=rule, message=f"{source} says so",
                   source=source, cwe=cwe, confidence=0.6)


def test_a_parent_and_child_cwe_are_the_same_weakness() -> None:
    bandit = _finding("bandit", "B602", "CWE-78", line=5, end_line=8)
    model = _finding("llm", "llm/command-injection", "CWE-77", line=6)
    assert same_problem(bandit, model)
    assert same_problem(_finding("bandit", "B105", "CWE-259"),
                        _finding("secrets", "secret/secret-keyword", "CWE-798"))
    merged = merge_findings([bandit, model])
    assert merged.source == "bandit+llm"
    assert (merged.line, merged.end_line, merged.rule) == (5, 8, "B602")  # the analyzer's anchor


def test_different_weaknesses_or_lines_stay_apart() -> None:
    sql = _finding("bandit", "B608", "CWE-89")
    assert not same_problem(sql, _finding("llm", "llm/xss", "CWE-79"))
    assert not same_problem(sql, _finding("semgrep", "sqli", "CWE-89", line=7, end_line=7))
    assert not same_problem(_finding("llm", "llm/eval", "CWE-95"),
                            _finding("bandit", "B602", "CWE-78"))
