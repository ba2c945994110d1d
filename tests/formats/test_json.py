"""--format json: valid against the shipped schema, finding contract, masked secrets."""

from __future__ import annotations

import json
from dataclasses import replace

from bot.formats import ReportInput, render
from bot.formats.jsonout import render_json
from bot.formats.schemas import finding_validator, review_validator
from reviewers.findings import CONTRACT_KEYS
from tests.formats.conftest import SECRETS


def test_output_validates_against_the_shipped_schema(report: ReportInput) -> None:
    document = json.loads(render_json(report))

    review_validator().validate(document)
    for finding in document["findings"]:
        finding_validator().validate(finding)
        assert tuple(finding) == CONTRACT_KEYS
    assert document["version"] == 1
    assert document["head"] == report.head_sha


def test_summary_and_verdict(report: ReportInput) -> None:
    document = json.loads(render(report, "json"))

    summary = document["summary"]
    assert summary["total"] == len(report.findings)
    assert sum(summary["by_severity"].values()) == summary["total"]
    assert summary["by_severity"]["critical"] == 2  # AWS key, GitHub token
    assert (summary["fail_on"], summary["verdict"]) == ("high", "fail")
    assert summary["blocking"] == 4  # 2 critical + bandit B602 + the YAML password
    never = json.loads(render_json(replace(report, fail_on="never")))["summary"]
    assert (never["verdict"], never["blocking"]) == ("pass", 0)
    assert document["engine"] == {"configured": False, "endpoint": None, "model": None}


def test_findings_sorted_and_every_one_fingerprinted(report: ReportInput) -> None:
    findings = json.loads(render_json(report))["findings"]

    keys = [(f["path"], f["line"]) for f in findings]
    assert keys == sorted(keys)
    model = next(f for f in findings if f["source"] == "llm")
    assert len(model["fingerprint"]) == 32  # filled in although the finding had none


def test_no_secret_appears_unmasked(report: ReportInput) -> None:
    text = render_json(report)

    for secret in SECRETS:
        assert secret not in text
    assert "AKIA…(20 chars)" in text


def test_the_schema_rejects_a_broken_finding(report: ReportInput) -> None:
    document = json.loads(render_json(report))
    document["findings"][0]["severity"] = "urgent"

    errors = list(review_validator().iter_errors(document))

    assert errors
    assert "urgent" in errors[0].message
