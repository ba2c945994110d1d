"""Changed-line coverage: run pytest under coverage.py in the sandbox and read which lines ran."""

from __future__ import annotations

import json
import os
import shlex
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

ChangedLines = frozenset[tuple[str, int]]  # (repository path, head line)


@dataclass(frozen=True, slots=True)
class CoverageRun:
    """The argv of one pytest-under-coverage run and where its JSON report lands."""

    argv: list[str]
    report: Path


def coverage_command(python: str, workspace_out: Path, repo: Path, paths: Iterable[str],
                     pytest_args: Sequence[str], name: str) -> CoverageRun:
    """`coverage run -m pytest ...` then `coverage json`, in one shell; exits with pytest's code.

    The repository's own coverage configuration is ignored (our rc file) so its settings
    cannot hide lines; only the changed files are measured.
    """
    rc = workspace_out / "coveragerc"
    if not rc.exists():
        rc.write_text("[run]\nbranch = False\n")
    data = workspace_out / f".coverage.{name}"
    report = workspace_out / f"coverage.{name}.json"
    include = ",".join(str(repo / p) for p in sorted(set(paths))) or str(repo / "*")
    common = [f"--rcfile={rc}", f"--data-file={data}"]
    run = [python, "-m", "coverage", "run", *common, f"--include={include}", "-m", "pytest",
           *pytest_args]
    report_cmd = [python, "-m", "coverage", "json", *common, f"--include={include}", "-q",
                  "-o", str(report)]
    script = (f"{shlex.join(run)}; status=$?; {shlex.join(report_cmd)} >/dev/null 2>&1; "
              "exit $status")
    return CoverageRun(["/bin/sh", "-c", script], report)


def read_covered(report: Path, repo: Path) -> set[tuple[str, int]]:
    """(path, line) pairs executed, from a coverage JSON report (empty when missing)."""
    try:
        data = json.loads(report.read_text())
    except (OSError, ValueError):
        return set()
    covered: set[tuple[str, int]] = set()
    for name, info in data.get("files", {}).items():
        path = os.path.relpath(name, repo) if os.path.isabs(name) else name
        for line in info.get("executed_lines", []):
            covered.add((path.replace(os.sep, "/"), int(line)))
    return covered


def ratio(covered: set[tuple[str, int]], changed: ChangedLines) -> tuple[int, int]:
    return len(covered & changed), len(changed)
