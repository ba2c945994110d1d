"""`reviewbot review` without an engine: static reviewers, outputs, exit codes, bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import jsonschema
import pytest
from sqlalchemy import create_engine, text

from bot.formats.schemas import review_validator
from tests.conftest import FIXTURES
from tests.gitbuilder import GitRepo
from tests.pipeline.conftest import CliResult

Run = Callable[..., CliResult]


def test_only_changed_lines_are_flagged(app_repo: GitRepo, run_cli: Run) -> None:
    result = run_cli("review", "--repo", str(app_repo.root), "--format", "json")

    assert result.code == 1, result.err
    findings = result.json()["findings"]
    lines = {(f["path"], f["line"], f["rule"]) for f in findings}
    assert ("app.py", 20, "B602") in lines  # the new shell=True call
    assert all(f["line"] != 5 for f in findings)  # the pre-existing one is not reported
    review_validator().validate(result.json())


def test_model_skip_is_said_once_with_the_fix(app_repo: GitRepo, run_cli: Run) -> None:
    result = run_cli("review", "--repo", str(app_repo.root))

    assert result.out.count("model reviewers skipped") == 1
    assert "REVIEWBOT_ENGINE_URLS" in result.out
    assert "B602" in result.out
    assert "app.py" in result.out


def test_untriaged_analyzer_findings_are_marked(app_repo: GitRepo, run_cli: Run) -> None:
    result = run_cli("review", "--repo", str(app_repo.root), "--format", "json")

    security = [f for f in result.json()["findings"] if f["category"] == "security"]
    assert security
    assert all(f["triage"]["verdict"] == "untriaged" for f in security)


def test_sarif_is_valid_against_the_official_schema(app_repo: GitRepo, run_cli: Run,
                                                    tmp_path: Path) -> None:
    out = tmp_path / "review.sarif"
    result = run_cli("review", "--repo", str(app_repo.root), "--format", "sarif",
                     "--output", str(out))

    assert result.code == 1
    assert result.out == ""
    document = json.loads(out.read_text())
    schema = json.loads((FIXTURES / "sarif" / "sarif-schema-2.1.0.json").read_text())
    jsonschema.Draft4Validator(schema).validate(document)
    results = document["runs"][0]["results"]
    assert any(r["ruleId"] == "B602" and r["partialFingerprints"] for r in results)


@pytest.mark.parametrize(("fail_on", "code"), [("never", 0), ("critical", 0), ("high", 1),
                                               ("low", 1)])
def test_fail_on_decides_the_exit_status(app_repo: GitRepo, run_cli: Run, fail_on: str,
                                         code: int) -> None:
    assert run_cli("review", "--repo", str(app_repo.root), "--fail-on", fail_on).code == code


def test_repo_config_excludes_paths_and_bad_config_falls_back(git_repo: GitRepo,
                                                             run_cli: Run) -> None:
    git_repo.commit("base", {".reviewbot.yml": "exclude: ['scripts/**']\n",
                             "README.md": "x\n"})
    git_repo.branch("feature")
    risky = "import subprocess\nsubprocess.call(input(), shell=True)\n"
    git_repo.commit("risky", {"scripts/tool.py": risky, "lib/tool.py": risky})

    result = run_cli("review", "--repo", str(git_repo.root), "--format", "json")
    paths = {f["path"] for f in result.json()["findings"]}
    assert "lib/tool.py" in paths
    assert "scripts/tool.py" not in paths

    git_repo.checkout("main")
    git_repo.commit("typo", {".reviewbot.yml": "excldue: ['scripts/**']\n"})
    git_repo.checkout("feature")
    git_repo.git("rebase", "-q", "main")
    result = run_cli("review", "--repo", str(git_repo.root), "--format", "json")
    assert "excldue: unknown key" in result.err
    assert any("excldue" in note for note in result.json()["notes"])
    assert {f["path"] for f in result.json()["findings"]} >= {"lib/tool.py", "scripts/tool.py"}


def test_run_is_recorded_in_history(app_repo: GitRepo, run_cli: Run, isolated_env: Path
                                    ) -> None:
    result = run_cli("review", "--repo", str(app_repo.root), "--format", "json")
    engine = create_engine(f"sqlite:///{isolated_env}")
    with engine.connect() as conn:
        runs = conn.execute(text("select trigger, status, head_sha from review_runs")).all()
        stored = conn.execute(text("select path, line, rule, fingerprint from findings")).all()
    engine.dispose()
    assert runs == [("cli", "completed", app_repo.head())]
    assert {(r.path, r.line, r.rule, r.fingerprint) for r in stored} == {
        (f["path"], f["line"], f["rule"], f["fingerprint"]) for f in result.json()["findings"]}


def test_empty_diff_exits_zero(app_repo: GitRepo, run_cli: Run) -> None:
    result = run_cli("review", "--repo", str(app_repo.root), "--base", "HEAD")
    assert result.code == 0
    assert "no changes" in result.out


@pytest.mark.parametrize("case", ["not-a-repo", "unknown-ref", "unreachable-engine"])
def test_bad_input_is_one_clear_line_and_exit_2(case: str, app_repo: GitRepo, run_cli: Run,
                                                tmp_path: Path) -> None:
    args = {
        "not-a-repo": ["--repo", str(tmp_path / "nowhere")],
        "unknown-ref": ["--repo", str(app_repo.root), "--base", "no-such-branch"],
        "unreachable-engine": ["--repo", str(app_repo.root), "--engine", "http://127.0.0.1:9"],
    }[case]
    result = run_cli("review", *args)
    assert result.code == 2
    lines = result.err.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("reviewbot: error: ")
    assert "Traceback" not in result.err


def test_console_script_prints_no_traceback(tmp_path: Path, isolated_env: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "bot.cli", "review", "--repo", str(tmp_path)],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "not inside a git repository" in done.stderr


def test_help_has_examples() -> None:
    done = subprocess.run([sys.executable, "-m", "bot.cli", "review", "--help"],
                          capture_output=True, text=True, check=True)
    assert "examples:" in done.stdout
    assert "--fail-on" in done.stdout
