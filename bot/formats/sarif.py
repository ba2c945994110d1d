"""`--format sarif`: SARIF 2.1.0 for code-scanning uploads (rules, CWE tags, fingerprints).

Rules carry `security-severity` (critical 9.5, high 8.0, medium 5.5, low 3.0, info 1.0)
and ``external/cwe/cwe-N`` tags; results carry ``partialFingerprints["reviewbot/v1"]`` so a
re-upload of the same code does not duplicate alerts.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bot.formats import (
    TOOL_NAME,
    ReportInput,
    output_finding,
    sorted_findings,
    tool_version,
    triage_of,
)
from reviewers.findings import Category, Finding, Severity
from reviewers.secrets_mask import mask_secrets

SARIF_SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_VERSION = "2.1.0"
FINGERPRINT_KEY = "reviewbot/v1"
SRCROOT = "%SRCROOT%"
SECURITY_SEVERITY = {
    Severity.CRITICAL: "9.5", Severity.HIGH: "8.0", Severity.MEDIUM: "5.5",
    Severity.LOW: "3.0", Severity.INFO: "1.0",
}
LEVEL = {
    Severity.CRITICAL: "error", Severity.HIGH: "error", Severity.MEDIUM: "warning",
    Severity.LOW: "note", Severity.INFO: "note",
}


def rule_id(finding: Finding) -> str:
    return finding.rule or str(finding.category)


def render_sarif(report: ReportInput, *, information_uri: str | None = None) -> str:
    return json.dumps(sarif_document(report, information_uri=information_uri), indent=2,
                      ensure_ascii=False) + "\n"


def sarif_document(report: ReportInput, *, information_uri: str | None = None
                   ) -> dict[str, Any]:
    findings = [output_finding(f) for f in sorted_findings(report.findings)]
    rules, index = _rules(findings)
    driver: dict[str, Any] = {"name": TOOL_NAME, "version": tool_version(report),
                              "semanticVersion": tool_version(report), "rules": rules}
    if information_uri:
        driver["informationUri"] = information_uri
    run: dict[str, Any] = {
        "tool": {"driver": driver},
        "invocations": [_invocation(report)],
        "results": [_result(f, index[rule_id(f)]) for f in findings],
        "columnKind": "unicodeCodePoints",
        "properties": {"base": report.base_sha, "head": report.head_sha},
    }
    repository_uri = report.repository_uri or _path_uri(report.repository)
    if repository_uri:
        run["versionControlProvenance"] = [{"repositoryUri": repository_uri,
                                            "revisionId": report.head_sha}]
    return {"$schema": SARIF_SCHEMA_URI, "version": SARIF_VERSION, "runs": [run]}


def _path_uri(repository: str) -> str | None:
    """A file URI for a local checkout path; None for a forge name like "owner/name"."""
    path = Path(repository)
    return path.as_uri() if path.is_absolute() else None


def _rules(findings: list[Finding]) -> tuple[list[dict[str, Any]], dict[str, int]]:
    by_rule: dict[str, list[Finding]] = {}
    for finding in findings:
        by_rule.setdefault(rule_id(finding), []).append(finding)
    rules, index = [], {}
    for position, (rid, group) in enumerate(sorted(by_rule.items())):
        index[rid] = position
        rules.append(_rule(rid, group))
    return rules, index


def _rule(rid: str, group: list[Finding]) -> dict[str, Any]:
    first = group[0]
    worst = max((f.severity for f in group), key=lambda s: s.rank)
    name = str(first.extra.get("rule_name") or rid)
    cwes = sorted({f.cwe for f in group if f.cwe})
    tags = sorted({str(f.category) for f in group} | {f.source for f in group})
    tags += [f"external/cwe/{cwe.lower()}" for cwe in cwes]
    properties: dict[str, Any] = {"tags": tags}
    if any(f.category is Category.SECURITY for f in group):
        properties["security-severity"] = SECURITY_SEVERITY[worst]
        properties["precision"] = _precision(max(f.confidence for f in group))
    help_lines = [first.message]
    help_lines += [f"{cwe}: https://cwe.mitre.org/data/definitions/{cwe[4:]}.html"
                   for cwe in cwes]
    rule: dict[str, Any] = {
        "id": rid,
        "name": name,
        "shortDescription": {"text": f"{name} ({first.source})"},
        "fullDescription": {"text": first.message},
        "help": {"text": "\n".join(help_lines)},
        "defaultConfiguration": {"level": LEVEL[worst]},
        "properties": properties,
    }
    help_uri = first.extra.get("help_uri")
    if isinstance(help_uri, str) and help_uri.startswith(("https://", "http://")):
        rule["helpUri"] = help_uri
    return rule


def _precision(confidence: float) -> str:
    if confidence >= 0.85:
        return "very-high"
    if confidence >= 0.65:
        return "high"
    return "medium" if confidence >= 0.4 else "low"


def _result(finding: Finding, rule_index: int) -> dict[str, Any]:
    region = {"startLine": finding.line, "endLine": max(finding.end_line, finding.line)}
    location = {"physicalLocation": {
        "artifactLocation": {"uri": finding.path, "uriBaseId": SRCROOT},
        "region": region,
    }}
    properties: dict[str, Any] = {"severity": str(finding.severity),
                                  "category": str(finding.category),
                                  "confidence": finding.confidence, "source": finding.source}
    if finding.cwe:
        properties["cwe"] = finding.cwe
    triage = triage_of(finding)
    if triage is not None:  # "untriaged" when no model engine judged an analyzer finding
        properties["triage"] = triage
    result: dict[str, Any] = {
        "ruleId": rule_id(finding),
        "ruleIndex": rule_index,
        "level": LEVEL[finding.severity],
        "message": {"text": finding.message},
        "locations": [location],
        "partialFingerprints": {FINGERPRINT_KEY: finding.fingerprint},
        "properties": properties,
    }
    if finding.suggestion is not None:
        result["fixes"] = [_fix(finding)]
    return result


def _fix(finding: Finding) -> dict[str, Any]:
    """Replace whole lines line..end_line (up to the start of the next line) by the
    suggestion, which is how a review suggestion block applies."""
    suggestion = finding.suggestion or ""
    inserted = suggestion + "\n" if suggestion else ""
    end = max(finding.end_line, finding.line)
    return {
        "description": {"text": "Suggested change"},
        "artifactChanges": [{
            "artifactLocation": {"uri": finding.path, "uriBaseId": SRCROOT},
            "replacements": [{
                "deletedRegion": {"startLine": finding.line, "startColumn": 1,
                                  "endLine": end + 1, "endColumn": 1},
                "insertedContent": {"text": inserted},
            }],
        }],
    }


def _invocation(report: ReportInput) -> dict[str, Any]:
    invocation: dict[str, Any] = {"executionSuccessful": True}
    if report.notes:
        invocation["toolExecutionNotifications"] = [
            {"level": "note", "message": {"text": mask_secrets(note)}} for note in report.notes
        ]
    return invocation
