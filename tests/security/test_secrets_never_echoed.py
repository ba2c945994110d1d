"""A secret in a diff never appears unmasked anywhere the bot writes: the markdown, JSON
and SARIF reports, the history database, log records, or the prompts sent to the engine,
even when the model repeats a secret in its answers."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import pytest

from bot.cli import main
from reviewers.secrets_mask import mask_value
from tests.security.oracle import OracleModel
from tests.security_corpus import load_cases
from tests.security_corpus.run import build_change
from tests.standin.fixtures import StandinFactory

# the raw secrets of the corpus' secret cases, as they appear in the changed files
SECRETS = {
    "py-aws-key-in-code": "AKIAZ7QW3RT5YUP2LM4N",
    "py-hardcoded-db-password": "vX9#qL2!mR7pT4wz",
    "js-github-token": "ghp_R8mK2vX9qL4tW7zN3pB6yH1cF5jD0sGaE2uQ",
    "go-private-key": "MIIEowIBAAKCAQEA0Z3VS5JJcds3xfn",
    "java-hardcoded-password": "q7Lm!2vRx9#Tz4Pw",
    "yaml-db-password": "h4Rd-C0ded!pa55w0rd",
    "dotenv-stripe-key": "sk_live_4eC39HqLyjWDarjtT1zdp7dc9Xk2",
}
LEAKED = SECRETS["js-github-token"]  # the model repeats this one in every answer


def _everything_in(db: Path) -> str:
    with sqlite3.connect(db) as connection:
        return "\n".join(connection.iterdump())


def _log_text(records: list[logging.LogRecord]) -> str:
    return "\n".join(f"{r.getMessage()} {r.__dict__}" for r in records)


def test_secrets_are_masked_in_reports_history_logs_and_prompts(
        tmp_path: Path, history_db: Path, vllm_standin: StandinFactory,
        caplog: pytest.LogCaptureFixture) -> None:
    cases = [c for c in load_cases() if c.id in SECRETS]
    for case in cases:
        assert SECRETS[case.id] in case.head  # the corpus really holds these secrets
    repo = build_change(tmp_path / "repo", cases)
    engine = vllm_standin()
    engine.script_fn(OracleModel(cases, leak=LEAKED))
    caplog.set_level(logging.DEBUG)
    written = []
    for fmt in ("markdown", "json", "sarif"):
        out = tmp_path / f"report.{fmt}"
        code = main(["review", "--repo", str(repo.root), "--base", "main", "--head", "feature",
                     "--engine", engine.url, "--format", fmt, "--no-tests", "--fail-on",
                     "never", "--output", str(out)])
        assert code == 0
        written.append(out.read_text(encoding="utf-8"))
    prompts = "\n".join(str(r.body.get("messages")) for r in engine.requests)
    places = {"reports": "\n".join(written), "history": _everything_in(history_db),
              "logs": _log_text(caplog.records), "prompts": prompts}

    leaks = [(case_id, place) for case_id, secret in SECRETS.items()
             for place, text in places.items() if secret in text]
    assert leaks == []
    # the findings are there, showing the masked form
    markdown, report_json, _ = written
    for shown in (mask_value("AKIAZ7QW3RT5YUP2LM4N"), mask_value(LEAKED)):
        assert shown in markdown
        assert shown in report_json
    assert "Possible Private Key committed" in report_json  # the analyzer's text, readable
    assert "secret/aws-access-key" in markdown  # rule ids survive masking
    assert places["history"].count("CWE-798") >= len(SECRETS)
