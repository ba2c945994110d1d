"""run_analyzers: every enabled analyzer on one change, crashes contained, errors masked."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from reviewers.analyzers import (
    AnalyzerResult,
    BanditAnalyzer,
    RuffAnalyzer,
    SecretsAnalyzer,
    default_analyzers,
)
from reviewers.diff import ReviewDiff
from reviewers.repoconfig import RepoConfig
from reviewers.source import SourceTree
from tests.analyzers.changes import analyze_all, branch_change, reviewed
from tests.gitbuilder import GitRepo

TOKEN = "glpat-Xk9mQ2vL8pR4tZ7wNq3e"
HEAD = ("import subprocess\nimport os\n\n\ndef run(cmd):\n"
        "    subprocess.run(cmd, shell=True)\n")


@dataclass(frozen=True)
class ExplodingAnalyzer:
    """Breaks its contract by raising, with a secret in the exception text."""

    name: str = "ruff"

    def run(self, tree: SourceTree, diff: ReviewDiff, config: RepoConfig,
            workdir: Path) -> AnalyzerResult:
        raise RuntimeError(f"parser failed near {TOKEN}")


def test_all_default_analyzers_on_one_change(git_repo: GitRepo) -> None:
    branch_change(git_repo, {"README.md": "x\n"},
                  {"app.py": HEAD, ".env.yml": f"gitlab_token: {TOKEN}\n"})

    result = analyze_all(git_repo, default_analyzers(timeout=30))

    assert {(f.source, f.rule) for f in result.findings} >= {
        ("ruff", "F401"), ("bandit", "B602"), ("secrets", "secret/gitlab-token")}
    assert set(result.timings) >= {"ruff", "bandit", "secrets", "semgrep"}
    assert result.errors == []


def test_a_crashing_analyzer_becomes_a_masked_error(git_repo: GitRepo) -> None:
    branch_change(git_repo, {"README.md": "x\n"}, {"app.py": HEAD})

    result = analyze_all(git_repo, [ExplodingAnalyzer(), BanditAnalyzer()])

    assert [f.rule for f in result.findings] == ["B602"]  # the next analyzer still ran
    (error,) = result.errors
    assert error.startswith("ruff crashed: RuntimeError: parser failed near glpa")
    assert TOKEN not in error


def test_the_repository_config_chooses_the_analyzers(git_repo: GitRepo) -> None:
    branch_change(git_repo, {"README.md": "x\n"}, {"app.py": HEAD})
    config = RepoConfig(reviewers=["llm", "bandit"])

    result = analyze_all(git_repo, [RuffAnalyzer(), BanditAnalyzer(), SecretsAnalyzer()],
                         config)

    assert {f.source for f in result.findings} == {"bandit"}
    assert set(result.timings) == {"bandit"}


def test_a_git_failure_while_reading_is_an_error_entry(git_repo: GitRepo,
                                                       tmp_path: Path) -> None:
    branch_change(git_repo, {"README.md": "x\n"}, {"app.py": HEAD})

    with reviewed(git_repo) as (tree, diff):
        tree.close()
        result = BanditAnalyzer().run(tree, diff, RepoConfig(), tmp_path)

    assert result.findings == []
    assert result.errors == [f"bandit: {tree!r} is closed"]
