"""--format markdown: summary, findings grouped by file and sorted by line, no stray ANSI."""

from __future__ import annotations

from dataclasses import replace

from bot.formats import ReportInput
from bot.formats.markdown import render_markdown
from tests.formats.conftest import SECRETS


def test_summary_then_files_in_order(report: ReportInput) -> None:
    text = render_markdown(report, color=False)

    lines = text.splitlines()
    assert lines[0] == f"# reviewbot review of {report.repository}"
    assert "**Verdict: FAIL**: 4 findings at or above the fail-on severity (high)" in lines
    assert "| critical | 2 |" in lines
    assert "- model reviewers skipped: no engine configured (set REVIEWBOT_ENGINE_URLS or " \
           "pass --engine URL)" in lines
    headings = [line[3:] for line in lines if line.startswith("## ")]
    assert headings == ["app.py", "config/prod.yml", "web/client.js"]


def test_findings_under_their_file_sorted_by_line(report: ReportInput) -> None:
    text = render_markdown(report)

    app_section = text.split("## app.py\n")[1].split("## ")[0]
    items = [line for line in app_section.splitlines() if line.startswith("- [")]
    assert items == [
        "- [LOW] `F401` line 2 (maintainability, ruff, confidence 0.9)",
        "- [HIGH] `B602` CWE-78 line 6 (security, bandit, confidence 0.9)",
        "- [MEDIUM] `B009` line 10 (bug, ruff, confidence 0.7)",
    ]
    assert ("  Suggested change:\n  ```suggestion\n      return obj.name\n  ```"
            in app_section)
    assert ("  Suggested change (delete the flagged lines):\n  ```suggestion\n  ```"
            in app_section)


def test_no_ansi_unless_asked(report: ReportInput) -> None:
    plain = render_markdown(report, color=False)
    coloured = render_markdown(report, color=True)

    assert "\x1b[" not in plain
    assert "\x1b[1;31m[HIGH]\x1b[0m" in coloured
    assert "\x1b[1;31mFAIL\x1b[0m" in coloured


def test_a_clean_review_passes(report: ReportInput) -> None:
    text = render_markdown(replace(report, findings=[], notes=[]))

    assert "**Verdict: PASS**: 0 findings at or above the fail-on severity (high)" in text
    never = render_markdown(replace(report, fail_on="never"))
    assert "**Verdict: PASS**: fail-on is never" in never
    assert "## " not in text


def test_no_secret_appears_unmasked(report: ReportInput) -> None:
    text = render_markdown(report) + render_markdown(report, color=True)

    for secret in SECRETS:
        assert secret not in text
    assert "debug: token ghp_…(40 chars) seen" in text
