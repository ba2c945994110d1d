"""Semgrep: skipped with a note when absent; real taint rules when installed; tool failures."""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

import pytest

from reviewers.analyzers import SemgrepAnalyzer
from reviewers.analyzers.process import find_executable
from reviewers.analyzers.semgrep import RULES_DIR
from reviewers.findings import Severity
from tests.analyzers.changes import analyze, branch_change
from tests.gitbuilder import GitRepo

# the optional extra; point REVIEWBOT_TEST_SEMGREP at a semgrep program to run the real tests
SEMGREP = os.environ.get("REVIEWBOT_TEST_SEMGREP") or find_executable("semgrep")
JS_HANDLER = """const cp = require('child_process');
app.get('/ping', (req, res) => {
  const host = req.query.host;
  cp.exec('ping -c 1 ' + host, (err, out) => res.send(out));
  cp.execFile('ping', ['-c', '1', req.query.host]);
});
"""


def program(tmp_path: Path, body: str) -> str:
    """A stand-in `semgrep` executable (a real program, not an object double)."""
    path = tmp_path / "fake-semgrep"
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


@pytest.mark.skipif(find_executable("semgrep") is not None, reason="semgrep is installed")
def test_absent_semgrep_is_skipped_with_one_note(git_repo: GitRepo, tmp_path: Path) -> None:
    branch_change(git_repo, {"README.md": "x\n"}, {"web/app.js": JS_HANDLER})

    result = analyze(git_repo, SemgrepAnalyzer(), tmp_path / "work")

    assert result.findings == []
    assert result.errors == []
    assert len(result.notes) == 1
    assert result.notes[0].startswith("semgrep skipped: the semgrep program is not installed")


def test_a_crashing_semgrep_is_an_error_entry(git_repo: GitRepo, tmp_path: Path) -> None:
    branch_change(git_repo, {"README.md": "x\n"}, {"web/app.js": JS_HANDLER})
    crashing = program(tmp_path, "echo 'Fatal error: out of memory' >&2\nexit 2")

    result = analyze(git_repo, SemgrepAnalyzer(executable=crashing), tmp_path / "work")

    assert result.findings == []
    assert result.errors == ["semgrep: semgrep exited 2 without a JSON report: "
                             "Fatal error: out of memory"]


def test_a_hanging_semgrep_is_killed_at_the_time_limit(git_repo: GitRepo,
                                                       tmp_path: Path) -> None:
    branch_change(git_repo, {"README.md": "x\n"}, {"web/app.js": JS_HANDLER})
    hanging = program(tmp_path, "sleep 30")
    analyzer = SemgrepAnalyzer(executable=hanging, timeout=0.5)

    started = time.monotonic()
    result = analyze(git_repo, analyzer, tmp_path / "work")

    assert time.monotonic() - started < 5
    assert result.errors == ["semgrep: semgrep timed out after 0.5 s"]


def test_project_rules_are_valid_yaml_with_cwe_metadata() -> None:
    import yaml

    rule_files = sorted(RULES_DIR.glob("*.yml"))
    assert {p.stem for p in rule_files} >= {"python", "javascript", "go", "java"}
    for path in rule_files:
        for rule in yaml.safe_load(path.read_text())["rules"]:
            # taint rules for data flows, plain pattern rules for unsafe settings and APIs
            assert rule.get("mode", "search") in {"taint", "search"}
            assert rule["metadata"]["cwe"][0].startswith("CWE-")
            assert rule["metadata"]["confidence"] in {"HIGH", "MEDIUM", "LOW"}
            assert rule["severity"] in {"ERROR", "WARNING", "INFO"}


@pytest.mark.skipif(SEMGREP is None, reason="semgrep (optional extra) is not installed")
def test_real_semgrep_finds_the_taint_flow_on_the_changed_line(git_repo: GitRepo,
                                                               tmp_path: Path) -> None:
    branch_change(git_repo, {"README.md": "x\n"}, {"web/app.js": JS_HANDLER})

    result = analyze(git_repo, SemgrepAnalyzer(executable=SEMGREP), tmp_path / "work")

    assert result.errors == []
    (finding,) = result.findings
    assert (finding.rule, finding.line, finding.cwe) == (
        "js-command-injection-from-request", 4, "CWE-78")
    assert finding.severity is Severity.HIGH
    assert finding.source == "semgrep"
