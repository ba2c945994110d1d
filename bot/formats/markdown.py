"""`--format markdown`: a summary, then findings grouped by file and sorted by line.

Readable as plain text in a terminal or a CI log; ANSI colour only when asked (`color`).
"""

from __future__ import annotations

from itertools import groupby

from bot.formats import (
    ReportInput,
    blocking_findings,
    output_finding,
    severity_counts,
    sorted_findings,
    triage_of,
    verdict,
)
from bot.formats.testsection import tests_markdown
from reviewers.findings import Finding, Severity
from reviewers.secrets_mask import mask_secrets

_ANSI = {
    Severity.CRITICAL: "\x1b[1;37;41m", Severity.HIGH: "\x1b[1;31m",
    Severity.MEDIUM: "\x1b[33m", Severity.LOW: "\x1b[36m", Severity.INFO: "\x1b[2m",
}
_RESET = "\x1b[0m"
_VERDICT_ANSI = {"pass": "\x1b[1;32m", "fail": "\x1b[1;31m"}


def badge(severity: Severity, *, color: bool) -> str:
    """``[HIGH]``, coloured for a terminal when `color` is set."""
    text = f"[{str(severity).upper()}]"
    return f"{_ANSI[severity]}{text}{_RESET}" if color else text


def render_markdown(report: ReportInput, *, color: bool = False) -> str:
    findings = [output_finding(f) for f in sorted_findings(report.findings)]
    lines = [f"# reviewbot review of {report.repository}", "",
             f"`{report.base_sha[:12]}...{report.head_sha[:12]}`", ""]
    lines += _summary(report, findings, color=color)
    for path, group in groupby(findings, key=lambda f: f.path):
        items = list(group)
        lines += ["", f"## {path}", ""]
        for finding in items:
            lines += _finding(finding, color=color)
    lines += tests_markdown(report.tests)
    return "\n".join(lines).rstrip("\n") + "\n"


def _summary(report: ReportInput, findings: list[Finding], *, color: bool) -> list[str]:
    result = verdict(report)
    blocking = len(blocking_findings(report))
    shown = result.upper()
    if color:
        shown = f"{_VERDICT_ANSI[result]}{shown}{_RESET}"
    if report.fail_on == "never":
        reason = "fail-on is never"
    else:
        reason = (f"{blocking} finding{'s' if blocking != 1 else ''} at or above the "
                  f"fail-on severity ({report.fail_on})")
    lines = [f"**Verdict: {shown}**: {reason}", ""]
    counts = severity_counts(findings)
    if findings:
        lines += ["| severity | findings |", "|---|---|"]
        lines += [f"| {name} | {count} |" for name, count in counts.items() if count]
        lines.append("")
    lines.append(f"{len(findings)} finding{'s' if len(findings) != 1 else ''}"
                 + _stats_text(report))
    if report.notes:
        lines += ["", "Notes:"]
        lines += [f"- {mask_secrets(note)}" for note in report.notes]
    return lines


def _stats_text(report: ReportInput) -> str:
    parts = []
    for key, label in (("files", "files"), ("changed_lines", "changed lines"),
                       ("dropped_findings", "dropped (not on a changed line)")):
        value = report.stats.get(key)
        if isinstance(value, int):
            parts.append(f"{value} {label}")
    return f" · {' · '.join(parts)}" if parts else ""


def _finding(finding: Finding, *, color: bool) -> list[str]:
    where = (f"line {finding.line}" if finding.end_line == finding.line
             else f"lines {finding.line}-{finding.end_line}")
    head = [badge(finding.severity, color=color), f"`{finding.rule or finding.category}`"]
    if finding.cwe:
        head.append(finding.cwe)
    head.append(where)
    lines = [f"- {' '.join(head)} ({finding.category}, {finding.source}, "
             f"confidence {finding.confidence:.1f})",
             *[f"  {text}" for text in finding.message.splitlines() or [""]]]
    triage = triage_of(finding)
    if triage is not None:
        lines.append(_TRIAGE_TEXT[triage["verdict"]].format(reason=triage["reason"]))
    if finding.suggestion is not None:
        fence = _fence(finding.suggestion)
        caption = "Suggested change:" if finding.suggestion else \
            "Suggested change (delete the flagged lines):"
        lines += ["", f"  {caption}", f"  {fence}suggestion",
                  *[f"  {text}" if text else "" for text in finding.suggestion.splitlines()],
                  f"  {fence}"]
    lines.append("")
    return lines


_TRIAGE_TEXT = {
    "untriaged": "  _Untriaged: no model reviewed this analyzer finding._",
    "true_positive": "  _Confirmed by the model: {reason}_",
    "false_positive": "  _Judged a false positive by the model: {reason}_",
}


def _fence(body: str) -> str:
    """A backtick fence longer than any backtick run in `body`."""
    longest, run = 0, 0
    for char in body:
        run = run + 1 if char == "`" else 0
        longest = max(longest, run)
    return "`" * max(3, longest + 1)
