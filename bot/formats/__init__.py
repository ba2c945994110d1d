"""Review output formats (markdown, json, sarif) over one `ReportInput`.

Every renderer passes free text (messages, suggestions, notes) through
`reviewers.secrets_mask.mask_secrets`, so a secret can never be echoed by an output even
when a reviewer quoted one.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from reviewers.findings import Finding, Severity
from reviewers.secrets_mask import mask_secrets
from reviewers.testgen import TestGenResult

FailOn = Severity | Literal["never"]
FORMATS = ("markdown", "json", "sarif")
TOOL_NAME = "reviewbot"


@dataclass(frozen=True, slots=True)
class EngineInfo:
    """Which model engine reviewed the change; `endpoint` None means no engine configured."""

    endpoint: str | None = None
    model: str | None = None

    @property
    def configured(self) -> bool:
        return self.endpoint is not None


@dataclass(frozen=True, slots=True)
class ReportInput:
    """Everything an output format shows about one review run."""

    repository: str  # "owner/name" or the checkout path, for people
    base_sha: str
    head_sha: str
    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # "model reviewers skipped: ...", ...
    # files, changed_lines, dropped_findings, prompt_tokens, durations (dict name -> s), ...
    stats: dict[str, Any] = field(default_factory=dict)
    fail_on: FailOn = Severity.HIGH
    engine: EngineInfo = field(default_factory=EngineInfo)
    repository_uri: str | None = None  # for SARIF versionControlProvenance (https/file URI)
    tool_version: str | None = None  # default: the installed reviewbot version
    tests: TestGenResult | None = None  # generated tests; None: not asked for


def blocking_findings(report: ReportInput) -> list[Finding]:
    """Findings at or above `fail_on` ("never" blocks nothing)."""
    if report.fail_on == "never":
        return []
    threshold = Severity(report.fail_on)
    return [f for f in report.findings if f.severity.at_least(threshold)]


def verdict(report: ReportInput) -> Literal["pass", "fail"]:
    return "fail" if blocking_findings(report) else "pass"


def severity_counts(findings: list[Finding]) -> dict[str, int]:
    """Count per severity, every severity present, most severe first."""
    counts = Counter(str(f.severity) for f in findings)
    return {str(s): counts.get(str(s), 0) for s in sorted(Severity, key=lambda s: -s.rank)}


def output_finding(finding: Finding) -> Finding:
    """The finding as outputs show it: text masked, a fingerprint always present."""
    masked = replace(
        finding, message=mask_secrets(finding.message),
        suggestion=mask_secrets(finding.suggestion) if finding.suggestion else finding.suggestion,
    )
    if not masked.fingerprint:
        masked = masked.with_fingerprint(str(finding.extra.get("quote") or masked.message))
    return masked


def triage_of(finding: Finding) -> dict[str, str] | None:
    """The triage verdict of an analyzer finding, masked, or None when it has none."""
    triage = finding.extra.get("triage")
    if not isinstance(triage, dict) or "verdict" not in triage:
        return None
    return {"verdict": str(triage["verdict"]),
            "reason": mask_secrets(str(triage.get("reason", "")))}


def sorted_findings(findings: list[Finding]) -> list[Finding]:
    return sorted(findings, key=lambda f: (f.path, f.line, -f.severity.rank, f.rule))


def tool_version(report: ReportInput) -> str:
    if report.tool_version:
        return report.tool_version
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(TOOL_NAME)
    except PackageNotFoundError:
        return "0.0.0"


def render(report: ReportInput, output_format: str, *, color: bool = False) -> str:
    """The report in `output_format` ("markdown", "json" or "sarif") as text."""
    if output_format == "markdown":
        from bot.formats.markdown import render_markdown

        return render_markdown(report, color=color)
    if output_format == "json":
        from bot.formats.jsonout import render_json

        return render_json(report)
    if output_format == "sarif":
        from bot.formats.sarif import render_sarif

        return render_sarif(report)
    raise ValueError(f"unknown output format {output_format!r}; expected one of {FORMATS}")


__all__ = [
    "FORMATS",
    "EngineInfo",
    "FailOn",
    "ReportInput",
    "blocking_findings",
    "output_finding",
    "render",
    "severity_counts",
    "sorted_findings",
    "tool_version",
    "triage_of",
    "verdict",
]
