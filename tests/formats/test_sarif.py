"""--format sarif: valid SARIF 2.1.0 (official schema), rules, fingerprints, masked secrets."""

from __future__ import annotations

import json
from typing import Any

import pytest
from jsonschema import Draft4Validator

from bot.formats import ReportInput
from bot.formats.sarif import render_sarif
from tests.conftest import FIXTURES
from tests.formats.conftest import SECRETS


@pytest.fixture(scope="module")
def sarif_validator() -> Draft4Validator:
    schema = json.loads((FIXTURES / "sarif" / "sarif-schema-2.1.0.json").read_text())
    assert schema["$schema"] == "http://json-schema.org/draft-04/schema#"
    return Draft4Validator(schema)


def document(report: ReportInput) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(render_sarif(report))
    return loaded


def test_valid_against_the_official_schema(report: ReportInput,
                                           sarif_validator: Draft4Validator) -> None:
    sarif = document(report)

    errors = sorted(sarif_validator.iter_errors(sarif), key=str)
    assert errors == []
    assert sarif["version"] == "2.1.0"


def test_an_empty_report_is_valid_too(report: ReportInput,
                                      sarif_validator: Draft4Validator) -> None:
    from dataclasses import replace

    sarif = document(replace(report, findings=[], notes=[]))

    assert list(sarif_validator.iter_errors(sarif)) == []
    assert sarif["runs"][0]["results"] == []


def test_rules_carry_security_severity_and_cwe_tags(report: ReportInput) -> None:
    run = document(report)["runs"][0]
    rules = {rule["id"]: rule for rule in run["tool"]["driver"]["rules"]}

    shell = rules["B602"]
    assert shell["properties"]["security-severity"] == "8.0"
    assert {"security", "external/cwe/cwe-78"} <= set(shell["properties"]["tags"])
    assert shell["helpUri"].startswith("https://bandit.readthedocs.io/")
    assert "CWE-78" in shell["help"]["text"]
    assert rules["secret/aws-access-key"]["properties"]["security-severity"] == "9.5"
    assert "external/cwe/cwe-798" in rules["secret/aws-access-key"]["properties"]["tags"]
    assert "security-severity" not in rules["F401"]["properties"]  # not a security rule


def test_results_point_at_rules_and_have_fingerprints(report: ReportInput) -> None:
    run = document(report)["runs"][0]
    rules = run["tool"]["driver"]["rules"]

    assert len(run["results"]) == len(report.findings)
    for result in run["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        assert len(result["partialFingerprints"]["reviewbot/v1"]) == 32
        location = result["locations"][0]["physicalLocation"]
        assert location["artifactLocation"]["uriBaseId"] == "%SRCROOT%"
        assert not location["artifactLocation"]["uri"].startswith("/")
    shell = next(r for r in run["results"] if r["ruleId"] == "B602")
    assert shell["level"] == "error"
    assert shell["locations"][0]["physicalLocation"]["region"] == {"startLine": 6,
                                                                   "endLine": 6}
    assert shell["properties"]["cwe"] == "CWE-78"
    assert run["versionControlProvenance"][0]["revisionId"] == report.head_sha


def test_a_suggestion_becomes_a_whole_line_fix(report: ReportInput) -> None:
    run = document(report)["runs"][0]

    getattr_fix = next(r for r in run["results"] if r["ruleId"] == "B009")["fixes"][0]
    (replacement,) = getattr_fix["artifactChanges"][0]["replacements"]
    assert replacement["deletedRegion"] == {"startLine": 10, "startColumn": 1,
                                            "endLine": 11, "endColumn": 1}
    assert replacement["insertedContent"]["text"] == "    return obj.name\n"


def test_no_secret_appears_unmasked(report: ReportInput) -> None:
    text = render_sarif(report)

    for secret in SECRETS:
        assert secret not in text
    assert "ghp_…(40 chars)" in text
