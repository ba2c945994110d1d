"""Semgrep with the project's own taint rules (semgrep_rules/*.yml), when semgrep is installed.

Semgrep is an optional extra (``pip install 'reviewbot[semgrep]'``); without the program
the analyzer says so in one note. It never uses the network rule registry or metrics.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reviewers.analyzers.bandit import bandit_severity
from reviewers.analyzers.base import (
    AnalyzerError,
    AnalyzerResult,
    changed_span,
    guarded,
    head_lines,
    materialise,
    quote,
    selected_files,
    tool_note,
)
from reviewers.analyzers.process import find_executable, run_tool
from reviewers.diff import FileDiff, ReviewDiff
from reviewers.findings import Category, Finding
from reviewers.repoconfig import RepoConfig
from reviewers.source import SourceTree

RULES_DIR = Path(__file__).with_name("semgrep_rules")
SUFFIXES = (".py", ".js", ".jsx", ".mjs", ".cjs", ".ts", ".tsx", ".go", ".java")
# Rule severity in bandit's terms, so both go through one severity x confidence table.
LEVEL = {"ERROR": "HIGH", "WARNING": "MEDIUM", "INFO": "LOW"}
CONFIDENCE = {"HIGH": 0.9, "MEDIUM": 0.7, "LOW": 0.4}
_CWE = re.compile(r"CWE-\d+")
NOT_INSTALLED = ("the semgrep program is not installed "
                 "(install the optional extra: pip install 'reviewbot[semgrep]')")


@dataclass(frozen=True, slots=True)
class SemgrepAnalyzer:
    timeout: float = 120.0
    executable: str | None = None  # default: `semgrep` beside the interpreter, then on PATH
    rules_dir: Path = RULES_DIR
    name: str = "semgrep"

    def run(self, tree: SourceTree, diff: ReviewDiff, config: RepoConfig,
            workdir: Path) -> AnalyzerResult:
        return guarded(self.name, lambda: self._analyze(tree, diff, config, workdir))

    def _analyze(self, tree: SourceTree, diff: ReviewDiff, config: RepoConfig,
                 workdir: Path) -> AnalyzerResult:
        files = selected_files(diff, config, security=True, suffixes=SUFFIXES)
        if not files:
            return AnalyzerResult()
        program = self.executable or find_executable("semgrep")
        if program is None:
            return AnalyzerResult(notes=[tool_note(self.name, NOT_INSTALLED)])
        rules = sorted(self.rules_dir.glob("*.yml"))
        if not rules:
            return AnalyzerResult(notes=[tool_note(self.name, f"no rules in {self.rules_dir}")])
        written = materialise(tree, [f.path for f in files], workdir)
        report = self._scan(program, rules, sorted(written), workdir) if written else {}
        by_path = {f.path: f for f in files}
        findings = []
        for result in report.get("results") or []:
            file = by_path.get(str(result.get("path", "")).removeprefix("./"))
            if file is not None:
                finding = _to_finding(result, file, head_lines(tree, file.path))
                if finding is not None:
                    findings.append(finding)
        errors = [f"semgrep: {_error_text(err)}" for err in report.get("errors") or []]
        return AnalyzerResult(findings=findings, errors=errors)

    def _scan(self, program: str, rules: list[Path], paths: list[str],
              workdir: Path) -> dict[str, Any]:
        # --experimental runs the OCaml front end directly: ~1 s instead of ~10 s of
        # Python start-up per scan on a loaded CI machine, with the same results for local rules
        argv = [program, "scan", "--experimental", "--json", "--quiet", "--metrics=off",
                "--disable-version-check", "--no-rewrite-rule-ids", "--no-git-ignore",
                "--timeout", str(max(1, int(self.timeout / 4)))]  # per rule and file
        for rule_file in rules:
            argv += ["--config", str(rule_file.resolve())]
        out = run_tool([*argv, "--", *paths], cwd=workdir, timeout=self.timeout,
                       label="semgrep")
        try:
            report = json.loads(out.stdout)
        except json.JSONDecodeError as exc:
            raise AnalyzerError(
                f"semgrep exited {out.returncode} without a JSON report: {out.stderr_tail()}"
            ) from exc
        if not isinstance(report, dict):
            raise AnalyzerError("semgrep printed JSON that is not a report object")
        return report


def _to_finding(result: dict[str, Any], file: FileDiff, lines: list[str]) -> Finding | None:
    start = int((result.get("start") or {}).get("line") or 1)
    end = int((result.get("end") or {}).get("line") or start)
    span = changed_span(file, start, end)
    if span is None:
        return None
    extra = result.get("extra") or {}
    metadata = extra.get("metadata") or {}
    cwes = metadata.get("cwe") or []
    cwe_match = _CWE.search(" ".join(cwes) if isinstance(cwes, list) else str(cwes))
    flagged = quote(lines, start, end)
    level = LEVEL.get(str(extra.get("severity", "")).upper(), "MEDIUM")
    confidence = str(metadata.get("confidence", "MEDIUM")).upper()
    finding = Finding(
        path=file.path, line=span[0], end_line=span[1],
        severity=bandit_severity(level, confidence),
        category=Category.SECURITY, rule=str(result.get("check_id", "semgrep")),
        cwe=cwe_match.group() if cwe_match else None,
        message=" ".join(str(extra.get("message", "")).split()), source="semgrep",
        confidence=CONFIDENCE.get(confidence, 0.7),
        extra={"quote": flagged, "rule_name": result.get("check_id")},
    )
    return finding.with_fingerprint(flagged)


def _error_text(error: Any) -> str:
    if isinstance(error, dict):
        return " ".join(str(error.get("message") or error.get("type") or error).split())[:300]
    return str(error)[:300]
