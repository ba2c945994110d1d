"""Bandit findings on real branch changes: CWE, severity x confidence, statement spans."""

from __future__ import annotations

from pathlib import Path

import pytest

from reviewers.analyzers import BanditAnalyzer, bandit_severity
from reviewers.findings import Category, Severity
from reviewers.repoconfig import RepoConfig
from tests.analyzers.changes import analyze, branch_change
from tests.gitbuilder import GitRepo

BASE = ("import subprocess\n\n\ndef legacy(cmd):\n"
        "    return subprocess.call(cmd, shell=True)\n")


def test_shell_injection_on_a_changed_line(git_repo: GitRepo, tmp_path: Path) -> None:
    head = BASE + "\n\ndef deploy(target):\n    subprocess.run(target, shell=True)\n"
    branch_change(git_repo, {"ops.py": BASE}, {"ops.py": head})

    result = analyze(git_repo, BanditAnalyzer(), tmp_path / "work")

    assert result.errors == []
    # the legacy shell=True call on line 5 predates the change
    (finding,) = result.findings
    assert (finding.rule, finding.line, finding.end_line) == ("B602", 9, 9)
    assert finding.cwe == "CWE-78"
    assert (finding.category, finding.severity, finding.source) == (
        Category.SECURITY, Severity.HIGH, "bandit")
    assert finding.confidence == pytest.approx(0.9)
    assert finding.extra["quote"] == "    subprocess.run(target, shell=True)"
    assert len(finding.fingerprint) == 32


def test_a_statement_spanning_a_changed_line_is_kept(git_repo: GitRepo,
                                                     tmp_path: Path) -> None:
    base = ("import subprocess\n\n\ndef deploy(target):\n"
            "    subprocess.run(\n        target,\n    )\n")
    head = base.replace("        target,\n", "        target,\n        shell=True,\n")
    branch_change(git_repo, {"ops.py": base}, {"ops.py": head})

    result = analyze(git_repo, BanditAnalyzer(), tmp_path / "work")

    (finding,) = [f for f in result.findings if f.rule == "B602"]
    assert (finding.line, finding.end_line) == (5, 8)  # the whole call, context lines included
    assert "shell=True" in finding.extra["quote"]


def test_sql_injection_maps_cwe_and_medium_confidence(git_repo: GitRepo,
                                                      tmp_path: Path) -> None:
    head = ("def find(cur, name):\n"
            "    cur.execute(\"SELECT * FROM users WHERE name = '%s'\" % name)\n")
    branch_change(git_repo, {"README.md": "x\n"}, {"db.py": head})

    result = analyze(git_repo, BanditAnalyzer(), tmp_path / "work")

    (finding,) = result.findings
    assert (finding.rule, finding.cwe, finding.severity) == ("B608", "CWE-89", Severity.MEDIUM)
    assert finding.confidence == pytest.approx(0.6)  # bandit: MEDIUM/MEDIUM


def test_ignored_paths_are_not_scanned(git_repo: GitRepo, tmp_path: Path) -> None:
    vulnerable = "import subprocess\nsubprocess.run(input(), shell=True)\n"
    branch_change(git_repo, {"README.md": "x\n"},
                  {"tests/test_ops.py": vulnerable, "vendor/lib.py": vulnerable,
                   "tools/gen.py": vulnerable, "app/ops.py": vulnerable})

    result = analyze(git_repo, BanditAnalyzer(), tmp_path / "work",
                     RepoConfig(exclude=["tools/**"]))

    assert {f.path for f in result.findings} == {"app/ops.py"}


@pytest.mark.parametrize(("severity", "confidence", "expected"), [
    ("HIGH", "HIGH", Severity.HIGH), ("HIGH", "MEDIUM", Severity.HIGH),
    ("HIGH", "LOW", Severity.MEDIUM), ("MEDIUM", "HIGH", Severity.MEDIUM),
    ("MEDIUM", "LOW", Severity.LOW), ("LOW", "HIGH", Severity.LOW),
    ("UNDEFINED", "HIGH", Severity.LOW),
])
def test_severity_table(severity: str, confidence: str, expected: Severity) -> None:
    assert bandit_severity(severity, confidence) is expected


def test_a_renamed_file_reports_head_lines_of_new_code_only(git_repo: GitRepo,
                                                            tmp_path: Path) -> None:
    git_repo.commit("base", {"ops.py": BASE + "\n\ndef other():\n    return 2\n"})
    git_repo.branch("feature")
    git_repo.move("ops.py", "tools/ops.py")
    git_repo.write("tools/ops.py", "# moved\n" + BASE
                   + "\n\ndef other():\n    return eval(input())\n")
    git_repo.commit("move and edit")

    result = analyze(git_repo, BanditAnalyzer(), tmp_path / "work")

    # the legacy shell=True moved with the file but did not change: only eval is new
    assert [(f.path, f.rule, f.line) for f in result.findings] == [("tools/ops.py", "B307", 10)]


def test_a_hardcoded_password_is_masked_in_message_and_quote(git_repo: GitRepo,
                                                             tmp_path: Path) -> None:
    head = 'def connect(db):\n    return db.login(user="app", password="Tr0ub4dor&3")\n'
    branch_change(git_repo, {"README.md": "x\n"}, {"db.py": head})

    result = analyze(git_repo, BanditAnalyzer(), tmp_path / "work")

    (finding,) = result.findings
    assert finding.rule == "B106"
    assert finding.message == "Possible hardcoded password: '…(11 chars)'"
    assert finding.extra["quote"] == \
        '    return db.login(user="app", password="…(11 chars)")'
    assert "Tr0ub4dor&3" not in repr(finding)
