"""The corpus through `reviewbot review` with the vLLM stand-in playing a model that knows
the ground truth: analyzer and model findings merge, triage dismissals are kept out of
the report but recorded in history, and the SARIF of the run is valid code-scanning input."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft4Validator

from bot.cli import main
from bot.settings import get_settings
from reviewers.analyzers.process import find_executable
from tests.conftest import FIXTURES
from tests.security.oracle import FALSE_POSITIVE_REASON, LOCAL_FIXES, OracleModel
from tests.security_corpus import Case, Expected, batches, cwe_number, load_cases
from tests.security_corpus.run import build_change
from tests.standin.engine import StandinConfig
from tests.standin.server import StandinServer

ANALYZERS = {"bandit", "semgrep", "secrets", "ruff"}


def _cases() -> list[Case]:
    """One change of vulnerable cases and unique-path look-alikes: Python and config files,
    plus one JavaScript and one Go case when semgrep runs (the model answers at most 25
    findings per call)."""
    others = {"js-cmdi-exec", "go-insecure-skip-verify"} if find_executable("semgrep") else set()
    usable = [c for c in load_cases()
              if c.language in {"python", "config"} or c.id in others]
    return batches(usable)[0]


def _covers(finding: dict[str, Any], expected: Expected) -> bool:
    return (finding["path"] == expected.path
            and finding["line"] <= expected.line <= finding["end_line"]
            and cwe_number(finding["cwe"]) == cwe_number(expected.cwe))


@pytest.fixture(scope="module")
def reviewed(tmp_path_factory: pytest.TempPathFactory
             ) -> tuple[list[Case], Path, list[str]]:
    """The change reviewed twice with the oracle model: JSON (recorded) and SARIF."""
    tmp = tmp_path_factory.mktemp("model-corpus")
    cases = _cases()
    repo = build_change(tmp / "repo", cases)
    db = tmp / "history.sqlite3"
    with pytest.MonkeyPatch.context() as env, StandinServer(StandinConfig()) as engine:
        env.setenv("REVIEWBOT_DATABASE_URL", f"sqlite:///{db}")
        env.delenv("REVIEWBOT_ENGINE_URLS", raising=False)
        get_settings.cache_clear()
        engine.script_fn(OracleModel(cases))
        outputs = []
        for fmt, extra in (("json", []), ("sarif", ["--no-history"])):
            out = tmp / f"report.{fmt}"
            code = main(["review", "--repo", str(repo.root), "--base", "main",
                         "--head", "feature", "--engine", engine.url, "--format", fmt,
                         "--no-tests", "--fail-on", "never", "--output", str(out), *extra])
            assert code == 0
            outputs.append(out.read_text(encoding="utf-8"))
    get_settings.cache_clear()
    return cases, db, outputs


def test_each_vulnerability_is_one_finding_with_every_source(
        reviewed: tuple[list[Case], Path, list[str]]) -> None:
    cases, _, (report, _) = reviewed
    findings = [f for f in json.loads(report)["findings"] if f["category"] == "security"]
    for case in cases:
        for expected in case.expect:
            hits = [f for f in findings if _covers(f, expected)]
            assert len(hits) == 1, (case.id, hits)
            sources = set(hits[0]["source"].split("+"))
            if case.analyzer_gap:
                assert sources == {"llm"}, case.id
            else:  # the analyzer's finding and the model's, merged into one
                assert "llm" in sources, case.id
                assert sources & ANALYZERS, case.id
                assert hits[0]["triage"]["verdict"] == "true_positive"
            # the model's exploit scenario, told in the message
            assert f"Exploit scenario: An attacker who controls this input abuses it ({case.id}" \
                in hits[0]["message"]
    [yaml_load] = [f for f in findings if f["path"] == "settings/loader.py"]
    assert yaml_load["suggestion"] == LOCAL_FIXES["py-yaml-full-loader"]
    assert yaml_load["source"] == "bandit+llm"
    expected_all = [e for c in cases for e in c.expect]
    stray = [f for f in findings if not any(_covers(f, e) for e in expected_all)]
    assert stray == []  # safe look-alikes stay unflagged, the known false positive included


def test_triage_dismissals_are_recorded_not_reported(
        reviewed: tuple[list[Case], Path, list[str]]) -> None:
    cases, db, (report, _) = reviewed
    assert "py-password-prompt-label" in {c.id for c in cases}
    assert not [f for f in json.loads(report)["findings"] if f["path"] == "cli/login.py"]
    with sqlite3.connect(db) as connection:
        rows = connection.execute(
            "SELECT path, rule, source, state, triage_verdict, triage_reason FROM findings "
            "WHERE state = 'dismissed'").fetchall()
        verdicts = dict(connection.execute(
            "SELECT path, triage_verdict FROM findings WHERE state != 'dismissed'"
            " AND triage_verdict IS NOT NULL").fetchall())
    assert rows == [("cli/login.py", "secret/secret-keyword", "bandit+secrets", "dismissed",
                     "false_positive", FALSE_POSITIVE_REASON)]
    assert verdicts["shop/orders.py"] == "true_positive"


def test_the_sarif_of_the_run_is_valid_code_scanning_input(
        reviewed: tuple[list[Case], Path, list[str]]) -> None:
    _, _, (report, sarif_text) = reviewed
    schema = json.loads((FIXTURES / "sarif" / "sarif-schema-2.1.0.json").read_text())
    sarif = json.loads(sarif_text)
    errors = sorted(Draft4Validator(schema).iter_errors(sarif), key=str)
    assert errors == []
    run = sarif["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    for rule in rules:
        assert float(rule["properties"]["security-severity"]) > 0
        assert any(t.startswith("external/cwe/cwe-") for t in rule["properties"]["tags"])
        assert rule["help"]["text"]
    json_prints = {f["fingerprint"] for f in json.loads(report)["findings"]}
    sarif_prints = {r["partialFingerprints"]["reviewbot/v1"] for r in run["results"]}
    assert sarif_prints == json_prints  # the same findings, the same stable identities
    for result in run["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        if result["properties"]["source"] != "llm":  # an analyzer took part: triaged
            assert result["properties"]["triage"]["verdict"] == "true_positive"
