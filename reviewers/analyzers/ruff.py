"""Ruff on the changed Python files: the repository's ruff config if it has one, else bug rules."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from reviewers.analyzers.base import (
    PYTHON_SUFFIXES,
    AnalyzerError,
    AnalyzerResult,
    changed_span,
    guarded,
    head_lines,
    materialise,
    quote,
    safe_relpath,
    selected_files,
)
from reviewers.analyzers.process import python_module, run_tool
from reviewers.diff import ReviewDiff
from reviewers.findings import Category, Finding, Severity
from reviewers.repoconfig import RepoConfig
from reviewers.secrets_mask import mask_secrets
from reviewers.source import SourceTree

# Without a repository config: rules that catch bugs, not taste.
DEFAULT_SELECT = ("F", "E9", "B", "PLE", "ASYNC")
DEFAULT_IGNORE = ("B008", "B905")
CONFIG_FILES = ("ruff.toml", ".ruff.toml", "pyproject.toml")
MAX_LAYOUT_FILES = 50_000  # empty stand-ins for the repository's unchanged modules

# Longest matching code prefix wins: (category, severity, confidence).
_CLASSES: dict[str, tuple[Category, Severity, float]] = {
    "E9": (Category.BUG, Severity.HIGH, 0.95),
    "F": (Category.BUG, Severity.MEDIUM, 0.9),
    "F401": (Category.MAINTAINABILITY, Severity.LOW, 0.9),
    "F403": (Category.MAINTAINABILITY, Severity.LOW, 0.9),
    "F405": (Category.MAINTAINABILITY, Severity.LOW, 0.7),
    "F811": (Category.MAINTAINABILITY, Severity.LOW, 0.9),
    "F841": (Category.MAINTAINABILITY, Severity.LOW, 0.9),
    "PLE": (Category.BUG, Severity.MEDIUM, 0.9),
    "B": (Category.BUG, Severity.MEDIUM, 0.7),
    "ASYNC": (Category.BUG, Severity.MEDIUM, 0.7),
    "PLW": (Category.BUG, Severity.LOW, 0.6),
    "S": (Category.SECURITY, Severity.MEDIUM, 0.6),
    "PERF": (Category.PERFORMANCE, Severity.LOW, 0.7),
    "C90": (Category.MAINTAINABILITY, Severity.LOW, 0.9),
    "RUF": (Category.MAINTAINABILITY, Severity.LOW, 0.7),
}
_STYLE = (Category.STYLE, Severity.LOW, 0.9)
_SYNTAX_RULE = "syntax-error"


def classify(code: str | None) -> tuple[Category, Severity, float]:
    """(category, severity, confidence) of a ruff rule code; None is a syntax error."""
    if code is None:
        return Category.BUG, Severity.HIGH, 0.95
    for length in range(len(code), 0, -1):
        if code[:length] in _CLASSES:
            return _CLASSES[code[:length]]
    return _STYLE


@dataclass(frozen=True, slots=True)
class RuffAnalyzer:
    timeout: float = 60.0
    name: str = "ruff"

    def run(self, tree: SourceTree, diff: ReviewDiff, config: RepoConfig,
            workdir: Path) -> AnalyzerResult:
        return guarded(self.name, lambda: self._analyze(tree, diff, config, workdir))

    def _analyze(self, tree: SourceTree, diff: ReviewDiff, config: RepoConfig,
                 workdir: Path) -> AnalyzerResult:
        files = selected_files(diff, config, security=False, suffixes=PYTHON_SUFFIXES)
        if not files:
            return AnalyzerResult()
        written = materialise(tree, [f.path for f in files], workdir)
        _write_layout(tree, workdir, written)
        configs = _write_repo_configs(tree, list(written), workdir)
        records = self._check(sorted(written), workdir, use_repo_config=bool(configs))
        by_path = {f.path: f for f in files}
        findings = []
        for record in records:
            path = _repo_path(record.get("filename", ""), workdir)
            file = by_path.get(path or "")
            if file is None:
                continue
            finding = _to_finding(record, path or "", file, head_lines(tree, file.path))
            if finding is not None:
                findings.append(finding)
        notes = [f"ruff used the repository's configuration ({', '.join(configs)})"] \
            if configs else []
        return AnalyzerResult(findings=findings, notes=notes)

    def _check(self, paths: list[str], workdir: Path, *,
               use_repo_config: bool) -> list[dict[str, Any]]:
        argv = [*python_module("ruff"), "check", "--output-format", "json", "--no-cache",
                "--exit-zero", "--force-exclude"]
        if not use_repo_config:
            argv += ["--isolated", "--select", ",".join(DEFAULT_SELECT),
                     "--ignore", ",".join(DEFAULT_IGNORE)]
        out = run_tool([*argv, "--", *paths], cwd=workdir, timeout=self.timeout, label="ruff")
        if out.returncode != 0:
            raise AnalyzerError(f"ruff exited {out.returncode}: {out.stderr_tail()}")
        try:
            records = json.loads(out.stdout or b"[]")
        except json.JSONDecodeError as exc:
            raise AnalyzerError("ruff printed output that is not JSON") from exc
        if not isinstance(records, list):
            raise AnalyzerError("ruff printed JSON that is not a list of diagnostics")
        return [r for r in records if isinstance(r, dict)]


def _write_layout(tree: SourceTree, workdir: Path, written: dict[str, Path]) -> None:
    """The repository's Python modules around the changed files, as empty stand-ins.

    Ruff's import sorting (I001) tells first-party from third-party by the module path on
    disk (`from pkg.mod import x` looks for `pkg/mod.py`): with only the changed files
    written, an import of an unchanged module of the repository looked third-party and a
    correctly sorted block was flagged. Ruff checks only the changed files named on its
    command line, never the stand-ins. At most `MAX_LAYOUT_FILES` are written.
    """
    made: set[Path] = set()
    count = 0
    for path in tree.list_files():
        if not path.endswith(PYTHON_SUFFIXES) or path in written:
            continue
        if count >= MAX_LAYOUT_FILES:
            return
        try:
            target = workdir.joinpath(*safe_relpath(path).parts)
            if target.parent not in made:
                target.parent.mkdir(parents=True, exist_ok=True)
                made.add(target.parent)
            target.touch(exist_ok=True)
        except (AnalyzerError, OSError):  # a name refused: only a sorting hint is lost
            continue
        count += 1


def _write_repo_configs(tree: SourceTree, paths: list[str], workdir: Path) -> list[str]:
    """Copy ruff config files found in the changed files' directories and their parents."""
    dirs: set[PurePosixPath] = set()
    for path in paths:
        dirs.update(PurePosixPath(path).parents)
    found = []
    for directory in sorted(dirs):
        for name in CONFIG_FILES:
            rel = str(directory / name) if str(directory) != "." else name
            content = tree.read_bytes(rel)
            if content is None or (name == "pyproject.toml" and b"[tool.ruff" not in content):
                continue
            materialise(tree, [rel], workdir)
            found.append(rel)
    return found


def _repo_path(filename: str, workdir: Path) -> str | None:
    try:
        return Path(filename).resolve().relative_to(workdir.resolve()).as_posix()
    except ValueError:
        return None


def _to_finding(record: dict[str, Any], path: str, file: Any,
                lines: list[str]) -> Finding | None:
    start = int(record.get("location", {}).get("row") or 1)
    end = int((record.get("end_location") or {}).get("row") or start)
    span = changed_span(file, start, end)
    if span is None:
        return None
    code = record.get("code")
    category, severity, confidence = classify(code)
    flagged = quote(lines, start, end)
    finding = Finding(
        path=path, line=span[0], end_line=span[1], severity=severity, category=category,
        rule=code or _SYNTAX_RULE, message=mask_secrets(str(record.get("message", "")).strip()),
        source="ruff", confidence=confidence,
        suggestion=_masked(local_fix(record.get("fix"), lines, span[0], span[1])),
        extra={"quote": flagged, "rule_name": record.get("name") or _SYNTAX_RULE,
               "help_uri": record.get("url")},
    )
    return finding.with_fingerprint(flagged)


def _masked(suggestion: str | None) -> str | None:
    return mask_secrets(suggestion) if suggestion else suggestion


def local_fix(fix: Any, lines: list[str], start: int, end: int) -> str | None:
    """The text replacing head lines `start..end` after ruff's fix, when every edit of the
    fix falls inside those lines (a suggestion block can only replace them)."""
    if not isinstance(fix, dict) or fix.get("applicability") not in ("safe", "unsafe"):
        return None
    edits = fix.get("edits") or []
    region = lines[start - 1:end]
    if not edits or len(region) != end - start + 1:
        return None
    text = "\n".join(region) + "\n"
    offsets = []
    for edit in edits:
        begin = _offset(region, start, edit.get("location") or {})
        stop = _offset(region, start, edit.get("end_location") or {})
        if begin is None or stop is None or stop < begin:
            return None
        offsets.append((begin, stop, str(edit.get("content", ""))))
    for begin, stop, content in sorted(offsets, reverse=True):
        text = text[:begin] + content + text[stop:]
    return text[:-1] if text.endswith("\n") else text


def _offset(region: list[str], start: int, where: dict[str, Any]) -> int | None:
    row, column = int(where.get("row", 0)), int(where.get("column", 0))
    index = row - start
    if index == len(region) and column == 1:  # the start of the line after the region
        return sum(len(line) + 1 for line in region)
    if not 0 <= index < len(region) or not 1 <= column <= len(region[index]) + 1:
        return None
    return sum(len(line) + 1 for line in region[:index]) + column - 1
