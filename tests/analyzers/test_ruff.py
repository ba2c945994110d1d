"""Ruff findings on real branch changes: changed lines only, mapping, fixes, repo config."""

from __future__ import annotations

from pathlib import Path

from reviewers.analyzers import RuffAnalyzer
from reviewers.analyzers.ruff import classify, local_fix
from reviewers.findings import Category, Severity, fingerprint
from tests.analyzers.changes import analyze, branch_change
from tests.gitbuilder import GitRepo

BASE = "import os\n\n\ndef keep():\n    return 1\n"


def test_only_added_lines_are_flagged(git_repo: GitRepo, tmp_path: Path) -> None:
    head = ("import os\nimport sys\n\n\ndef keep():\n    return 1\n\n\n"
            "def new():\n    return undefined_name\n")
    branch_change(git_repo, {"app.py": BASE}, {"app.py": head})

    result = analyze(git_repo, RuffAnalyzer(), tmp_path / "work")

    assert result.errors == []
    got = {(f.rule, f.line) for f in result.findings}
    # `import os` (line 1) was already unused on main: not this change's problem
    assert got == {("F401", 2), ("F821", 10)}
    unused = next(f for f in result.findings if f.rule == "F401")
    assert (unused.category, unused.severity, unused.source) == (
        Category.MAINTAINABILITY, Severity.LOW, "ruff")
    assert unused.extra["quote"] == "import sys"
    assert unused.fingerprint == fingerprint("F401", "app.py", "import sys")
    undefined = next(f for f in result.findings if f.rule == "F821")
    assert (undefined.category, undefined.severity) == (Category.BUG, Severity.MEDIUM)
    assert "undefined_name" in undefined.message


def test_a_local_fix_becomes_a_suggestion(git_repo: GitRepo, tmp_path: Path) -> None:
    head = BASE + "\n\ndef name_of(obj):\n    return getattr(obj, \"name\")\n"
    branch_change(git_repo, {"app.py": BASE}, {"app.py": head})

    result = analyze(git_repo, RuffAnalyzer(), tmp_path / "work")

    (finding,) = [f for f in result.findings if f.rule == "B009"]
    assert finding.line == 9
    assert finding.suggestion == "    return obj.name"


def test_fix_touching_other_lines_gives_no_suggestion() -> None:
    lines = ["def f(items=[]):", "    x = 1", "    return items"]
    fix = {"applicability": "unsafe", "edits": [
        {"content": "None", "location": {"row": 1, "column": 13},
         "end_location": {"row": 1, "column": 15}},
        {"content": "list(items)", "location": {"row": 3, "column": 12},
         "end_location": {"row": 3, "column": 17}},
    ]}
    assert local_fix(fix, lines, 1, 1) is None  # the second edit is outside line 1
    assert local_fix(fix, lines, 1, 3) == (
        "def f(items=None):\n    x = 1\n    return list(items)")
    assert local_fix({"applicability": "display-only", "edits": fix["edits"]}, lines, 1, 3) \
        is None
    # an insertion at the start of the next line appends to the region
    insert = {"applicability": "safe", "edits": [
        {"content": "    y = 2\n", "location": {"row": 3, "column": 1},
         "end_location": {"row": 3, "column": 1}}]}
    assert local_fix(insert, lines, 2, 2) == "    x = 1\n    y = 2"


def test_the_repository_ruff_config_is_respected(git_repo: GitRepo, tmp_path: Path) -> None:
    config = 'line-length = 40\n[lint]\nselect = ["E501"]\n'
    head = BASE + "\n\ndef long_one():\n    return 'a string that is longer than forty'\n"
    branch_change(git_repo, {"app.py": BASE, "ruff.toml": config},
                  {"app.py": head + "import json\n"})

    result = analyze(git_repo, RuffAnalyzer(), tmp_path / "work")

    assert {(f.rule, f.line) for f in result.findings} == {("E501", 9)}  # no F401 for json
    (finding,) = result.findings
    assert (finding.category, finding.severity) == (Category.STYLE, Severity.LOW)
    assert result.notes == ["ruff used the repository's configuration (ruff.toml)"]


def test_import_sorting_knows_the_repositorys_own_packages(git_repo: GitRepo,
                                                           tmp_path: Path) -> None:
    """Ruff's isort rule (I001) tells first-party from third-party by what exists on disk.
    A change importing an unchanged module of the repository is correctly sorted and must
    not be flagged; an unsorted block still is."""
    config = '[lint]\nselect = ["I"]\n'
    sorted_imports = ("from __future__ import annotations\n\nimport json\n\nimport yaml\n\n"
                      "from acme.core import helper\nfrom acme.core.tools import X\n"
                      "from acme.web import app\nfrom setup_helpers import setup\n"
                      "from shared.util import tool\n\n"
                      "VALUE = (json, yaml, helper, X, app, setup, tool)\n")
    unsorted = "import yaml\nimport json\n\nVALUE = (json, yaml)\n"
    branch_change(git_repo, {"ruff.toml": config, "acme/__init__.py": "",
                             "acme/core/__init__.py": "", "acme/core/tools.py": "X = 1\n",
                             "acme/web/__init__.py": "app = 1\n", "setup_helpers.py": "",
                             "shared/__init__.py": "", "shared/util.py": "tool = 1\n"},
                  {"acme/web/views.py": sorted_imports, "acme/web/other.py": unsorted})

    result = analyze(git_repo, RuffAnalyzer(), tmp_path / "work")

    assert result.errors == []
    assert {(f.path, f.rule) for f in result.findings} == {("acme/web/other.py", "I001")}


def test_a_broken_repository_config_is_an_error_not_an_exception(
        git_repo: GitRepo, tmp_path: Path) -> None:
    branch_change(git_repo, {"app.py": BASE, "ruff.toml": "[lint]\nselect = 42\n"},
                  {"app.py": BASE + "import json\n"})

    result = analyze(git_repo, RuffAnalyzer(), tmp_path / "work")

    assert result.findings == []
    assert len(result.errors) == 1
    assert result.errors[0].startswith("ruff: ruff exited 2")


def test_excluded_and_non_python_files_are_not_checked(git_repo: GitRepo,
                                                       tmp_path: Path) -> None:
    from reviewers.repoconfig import RepoConfig

    branch_change(git_repo, {"README.md": "hi\n"},
                  {"gen/app.py": "import os\n", "README.md": "import os\n"})

    result = analyze(git_repo, RuffAnalyzer(), tmp_path / "work",
                     RepoConfig(exclude=["gen/**"]))

    assert result.findings == []
    assert not (tmp_path / "work" / "gen").exists()


def test_classification_table() -> None:
    assert classify(None) == (Category.BUG, Severity.HIGH, 0.95)
    assert classify("E999")[:2] == (Category.BUG, Severity.HIGH)
    assert classify("F841")[:2] == (Category.MAINTAINABILITY, Severity.LOW)
    assert classify("B006")[:2] == (Category.BUG, Severity.MEDIUM)
    assert classify("S608")[0] is Category.SECURITY
    assert classify("I001")[:2] == (Category.STYLE, Severity.LOW)
