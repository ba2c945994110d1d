"""A report built from real analyzer runs over a real repository change."""

from __future__ import annotations

import pytest

from bot.formats import EngineInfo, ReportInput
from reviewers.analyzers import BanditAnalyzer, RuffAnalyzer, SecretsAnalyzer
from reviewers.findings import Category, Finding, Severity
from tests.analyzers.changes import analyze_all, branch_change
from tests.gitbuilder import GitRepo

AWS_KEY = "AKIAIOSFODNN7EXAMPLE"
GH_TOKEN = "ghp_Zx8Qw2Er4Ty6Ui8Op0As2Df4Gh6Jk8Lz0Xc2"
DB_PASSWORD = "Xk9#mQ2vL8pR4tZ7wN"
SECRETS = (AWS_KEY, GH_TOKEN, DB_PASSWORD)

APP = ("import subprocess\nimport os\n\n\ndef deploy(target):\n"
       "    subprocess.run(target, shell=True)\n\n\ndef name_of(obj):\n"
       "    return getattr(obj, \"name\")\n")


@pytest.fixture(scope="session")
def report(tmp_path_factory: pytest.TempPathFactory) -> ReportInput:
    """Built once per session (read-only for the tests)."""
    git_repo = GitRepo(tmp_path_factory.mktemp("formats") / "repo")
    branch_change(git_repo, {"README.md": "x\n"}, {
        "app.py": APP,
        "config/prod.yml": f"aws:\n  access_key_id: {AWS_KEY}\n  password: \"{DB_PASSWORD}\"\n",
        "web/client.js": f"export const token = \"{GH_TOKEN}\";\n",
    })
    result = analyze_all(git_repo, [RuffAnalyzer(), BanditAnalyzer(), SecretsAnalyzer()])
    # a model finding that quotes a secret, and has no fingerprint yet
    model = Finding(
        path="web/client.js", line=1, end_line=1, severity=Severity.MEDIUM,
        category=Category.MAINTAINABILITY, rule="", source="llm", confidence=0.7,
        message=f"Do not hard-code `{GH_TOKEN}`; read it from the environment.",
        suggestion=f"export const token = process.env.TOKEN; // was {GH_TOKEN}",
    )
    head = git_repo.head()
    return ReportInput(
        repository=str(git_repo.root), base_sha="0" * 40, head_sha=head,
        findings=[*result.findings, model],
        notes=["model reviewers skipped: no engine configured (set REVIEWBOT_ENGINE_URLS "
               "or pass --engine URL)", f"debug: token {GH_TOKEN} seen"],
        stats={"files": 3, "changed_lines": 15, "dropped_findings": 1,
               "durations": result.timings},
        engine=EngineInfo(),
    )
