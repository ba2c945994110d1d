"""Bandit on the changed Python files, mapped to security findings with CWE and severity.

Severity is bandit's severity x confidence:

    severity \\ confidence   LOW      MEDIUM   HIGH
    HIGH                    medium   high     high
    MEDIUM                  low      medium   medium
    LOW                     low      low      low

Confidence becomes a number: LOW 0.3, MEDIUM 0.6, HIGH 0.9.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
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
    selected_files,
)
from reviewers.analyzers.process import python_module, run_tool
from reviewers.diff import FileDiff, ReviewDiff
from reviewers.findings import Category, Finding, Severity
from reviewers.repoconfig import RepoConfig
from reviewers.secrets_mask import mask_secrets
from reviewers.source import SourceTree

SEVERITY_TABLE: dict[tuple[str, str], Severity] = {
    ("HIGH", "HIGH"): Severity.HIGH,
    ("HIGH", "MEDIUM"): Severity.HIGH,
    ("HIGH", "LOW"): Severity.MEDIUM,
    ("MEDIUM", "HIGH"): Severity.MEDIUM,
    ("MEDIUM", "MEDIUM"): Severity.MEDIUM,
    ("MEDIUM", "LOW"): Severity.LOW,
    ("LOW", "HIGH"): Severity.LOW,
    ("LOW", "MEDIUM"): Severity.LOW,
    ("LOW", "LOW"): Severity.LOW,
}
CONFIDENCE = {"HIGH": 0.9, "MEDIUM": 0.6, "LOW": 0.3}
_HARDCODED_VALUE = re.compile(r"hardcoded password: '(.+)'")
# Skipped by default: `assert` (a style question), import warnings whose dangerous calls
# bandit flags itself where they happen (pickle B301, subprocess B602-B607, xml B313-B320),
# and B603 (subprocess with an argument list and no shell), which flags the safe form that
# B602's own advice asks for; a shell stays flagged by B602/B605.
DEFAULT_SKIPS = ("B101", "B403", "B404", "B405", "B406", "B407", "B408", "B409", "B410",
                 "B603")
# Where bandit names a broad parent class or a neighbouring weakness, the precise CWE: the
# one a security engineer (and the model's review) would use, so that findings of both
# merge on the same line and CWE. Hard-coded passwords (CWE-259) are hard-coded
# credentials (CWE-798), the class the secrets detector reports.
CWE_OVERRIDES = {
    "B102": "CWE-95", "B307": "CWE-95",  # exec/eval run code, not an OS command (CWE-78)
    "B105": "CWE-798", "B106": "CWE-798", "B107": "CWE-798",
    "B506": "CWE-502",  # yaml.load builds arbitrary objects: deserialisation, not CWE-20
    "B701": "CWE-79",  # autoescape=False: cross-site scripting, as bandit's text says
    **{f"B{n}": "CWE-611" for n in range(313, 321)},  # XML parsers: external entities
}


def bandit_severity(severity: str, confidence: str) -> Severity:
    return SEVERITY_TABLE.get((severity.upper(), confidence.upper()), Severity.LOW)


@dataclass(frozen=True, slots=True)
class BanditAnalyzer:
    timeout: float = 60.0
    skips: tuple[str, ...] = DEFAULT_SKIPS
    name: str = "bandit"

    def run(self, tree: SourceTree, diff: ReviewDiff, config: RepoConfig,
            workdir: Path) -> AnalyzerResult:
        return guarded(self.name, lambda: self._analyze(tree, diff, config, workdir))

    def _analyze(self, tree: SourceTree, diff: ReviewDiff, config: RepoConfig,
                 workdir: Path) -> AnalyzerResult:
        files = selected_files(diff, config, security=True, suffixes=PYTHON_SUFFIXES)
        if not files:
            return AnalyzerResult()
        written = materialise(tree, [f.path for f in files], workdir)
        report = self._scan(sorted(written), workdir) if written else {}
        by_path = {f.path: f for f in files}
        findings, errors = [], []
        for problem in report.get("errors") or []:
            errors.append(f"bandit could not scan {problem.get('filename', '?')}: "
                          f"{problem.get('reason', 'unknown reason')}")
        for issue in report.get("results") or []:
            path = str(issue.get("filename", "")).removeprefix("./")
            file = by_path.get(path)
            if file is not None:
                finding = _to_finding(issue, file, head_lines(tree, path))
                if finding is not None:
                    findings.append(finding)
        return AnalyzerResult(findings=findings, errors=errors)

    def _scan(self, paths: list[str], workdir: Path) -> dict[str, Any]:
        argv = [*python_module("bandit"), "-f", "json", "-q"]
        if self.skips:
            argv += ["-s", ",".join(self.skips)]
        out = run_tool([*argv, "--", *paths], cwd=workdir, timeout=self.timeout,
                       label="bandit")
        # bandit exits 1 when it found issues; anything else without JSON is a failure
        try:
            report = json.loads(out.stdout)
        except json.JSONDecodeError as exc:
            raise AnalyzerError(
                f"bandit exited {out.returncode} without a JSON report: {out.stderr_tail()}"
            ) from exc
        if not isinstance(report, dict):
            raise AnalyzerError("bandit printed JSON that is not a report object")
        return report


def _to_finding(issue: dict[str, Any], file: FileDiff, lines: list[str]) -> Finding | None:
    start = int(issue.get("line_number") or 1)
    line_range = [int(n) for n in issue.get("line_range") or [start]]
    first, last = min([start, *line_range]), max([start, *line_range])
    span = changed_span(file, first, last)
    if span is None:
        return None
    severity_name = str(issue.get("issue_severity", "LOW"))
    confidence_name = str(issue.get("issue_confidence", "LOW"))
    cwe = issue.get("issue_cwe") or {}
    rule = str(issue.get("test_id", "bandit"))
    cwe_id = CWE_OVERRIDES.get(rule) or (
        f"CWE-{cwe['id']}" if isinstance(cwe, dict) and cwe.get("id") else None)
    text = str(issue.get("issue_text", "")).strip()
    # B105-B107 quote the password itself: "Possible hardcoded password: 'hunter2'"
    secrets = [m.group(1) for m in _HARDCODED_VALUE.finditer(text)]
    flagged = quote(lines, first, last, secrets)
    finding = Finding(
        path=file.path, line=span[0], end_line=span[1],
        severity=bandit_severity(severity_name, confidence_name), category=Category.SECURITY,
        rule=rule, cwe=cwe_id,
        message=mask_secrets(text, secrets), source="bandit",
        confidence=CONFIDENCE.get(confidence_name.upper(), 0.3),
        extra={"quote": flagged, "rule_name": issue.get("test_name"),
               "help_uri": issue.get("more_info"),
               "tool_severity": severity_name, "tool_confidence": confidence_name},
    )
    return finding.with_fingerprint(flagged)
