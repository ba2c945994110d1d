"""`--format json`: the review as one document of finding-contract dicts (review.schema.json)."""

from __future__ import annotations

import json
from typing import Any

from bot.formats import (
    TOOL_NAME,
    ReportInput,
    blocking_findings,
    output_finding,
    severity_counts,
    sorted_findings,
    tool_version,
    triage_of,
    verdict,
)
from bot.formats.testsection import tests_document
from reviewers.findings import Finding
from reviewers.secrets_mask import mask_secrets

JSON_VERSION = 1


def report_document(report: ReportInput) -> dict[str, Any]:
    """The JSON document as a dict; `render_json` serialises it."""
    findings = [output_finding(f) for f in sorted_findings(report.findings)]
    endpoint = report.engine.endpoint
    return {
        "version": JSON_VERSION,
        "tool": {"name": TOOL_NAME, "version": tool_version(report)},
        "repository": report.repository,
        "base": report.base_sha,
        "head": report.head_sha,
        "summary": {
            "total": len(findings),
            "by_severity": severity_counts(findings),
            "fail_on": str(report.fail_on),
            "blocking": len(blocking_findings(report)),
            "verdict": verdict(report),
        },
        "engine": {"configured": report.engine.configured,
                   "endpoint": mask_secrets(endpoint) if endpoint else None,
                   "model": report.engine.model},
        "stats": json.loads(json.dumps(report.stats, default=str)),
        "findings": [_finding(f) for f in findings],
        "notes": [mask_secrets(note) for note in report.notes],
        "tests": tests_document(report.tests),
    }


def _finding(finding: Finding) -> dict[str, Any]:
    data = finding.to_contract()
    triage = triage_of(finding)
    if triage is not None:
        data["triage"] = triage
    return data


def render_json(report: ReportInput) -> str:
    return json.dumps(report_document(report), indent=2, ensure_ascii=False) + "\n"
