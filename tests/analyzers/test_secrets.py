"""Secrets in any file type: detected on changed lines and never shown unmasked."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from reviewers.analyzers import SecretsAnalyzer
from reviewers.findings import Category, Finding, Severity
from tests.analyzers.changes import analyze, branch_change
from tests.gitbuilder import GitRepo

AWS_KEY = "AKIAIOSFODNN7EXAMPLE"
DB_PASSWORD = "Xk9#mQ2vL8pR4tZ7wN"
GH_TOKEN = "ghp_Zx8Qw2Er4Ty6Ui8Op0As2Df4Gh6Jk8Lz0Xc2"
OLD_PASSWORD = "Pq7!nR3sT9vW1xY5zA"
PEM_BODY = ("MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gunVTLw7onLRnrq0/"
            "IzW7yWR7QkrmBL7jTKEn5u+qKhbwKfBstIs+bMY2Zkp18gnTxKLxoS2tFczGkPLPgizskuemMgh")
SECRETS = (AWS_KEY, DB_PASSWORD, GH_TOKEN, PEM_BODY, OLD_PASSWORD)


def everything_in(findings: list[Finding]) -> str:
    """Every field of the findings, extra data included, as one string."""
    return json.dumps([asdict(f) for f in findings], default=str)


def test_yaml_and_js_secrets_are_found_and_masked(git_repo: GitRepo, tmp_path: Path) -> None:
    base_yaml = f"db:\n  host: localhost\n  password: \"{OLD_PASSWORD}\"\n"
    head_yaml = base_yaml + f"aws:\n  access_key_id: {AWS_KEY}\n  password: \"{DB_PASSWORD}\"\n"
    head_js = f"const client = connect({{\n  token: \"{GH_TOKEN}\",\n}});\n"
    branch_change(git_repo, {"config/app.yml": base_yaml},
                  {"config/app.yml": head_yaml, "web/client.js": head_js})

    result = analyze(git_repo, SecretsAnalyzer(), tmp_path / "work")

    assert result.errors == []
    got = {(f.path, f.line, f.rule, f.severity) for f in result.findings}
    # the old password on line 3 is not part of this change
    assert got == {
        ("config/app.yml", 5, "secret/aws-access-key", Severity.CRITICAL),
        ("config/app.yml", 6, "secret/secret-keyword", Severity.HIGH),
        ("web/client.js", 2, "secret/github-token", Severity.CRITICAL),
    }
    for finding in result.findings:
        assert (finding.category, finding.cwe, finding.source) == (
            Category.SECURITY, "CWE-798", "secrets")
        assert "…" in finding.message
        assert "…" in finding.extra["quote"]
    dumped = everything_in(result.findings)
    for secret in SECRETS:
        assert secret not in dumped
    aws = next(f for f in result.findings if f.rule == "secret/aws-access-key")
    assert aws.extra["quote"] == "  access_key_id: AKIA…(20 chars)"
    assert aws.extra["masked_secret"] == "AKIA…(20 chars)"
    token = next(f for f in result.findings if f.rule == "secret/github-token")
    assert "ghp_…(40 chars)" in token.message  # the whole token masked, not just "ghp"


def test_a_private_key_is_critical_and_its_body_never_shown(git_repo: GitRepo,
                                                            tmp_path: Path) -> None:
    pem = (f"-----BEGIN RSA PRIVATE KEY-----\n{PEM_BODY[:64]}\n{PEM_BODY[64:]}\n"
           "-----END RSA PRIVATE KEY-----\n")
    branch_change(git_repo, {"README.md": "x\n"}, {"deploy/id_rsa": pem})

    result = analyze(git_repo, SecretsAnalyzer(), tmp_path / "work")

    (finding,) = [f for f in result.findings if f.rule == "secret/private-key"]
    assert (finding.line, finding.severity) == (1, Severity.CRITICAL)
    assert PEM_BODY[:40] not in everything_in(result.findings)
    assert PEM_BODY[64:104] not in everything_in(result.findings)


def test_allowlisted_lines_and_ignored_paths_are_skipped(git_repo: GitRepo,
                                                         tmp_path: Path) -> None:
    branch_change(git_repo, {"README.md": "x\n"}, {
        "settings.py": f"AWS = \"{AWS_KEY}\"  # pragma: allowlist secret\n",
        "tests/fixtures/keys.yml": f"key: {AWS_KEY}\n",
    })

    result = analyze(git_repo, SecretsAnalyzer(), tmp_path / "work")

    assert result.findings == []


def test_binary_files_are_skipped(git_repo: GitRepo, tmp_path: Path) -> None:
    branch_change(git_repo, {"README.md": "x\n"},
                  {"blob.bin": b"\x00\x01" + AWS_KEY.encode() + b"\x00"})

    result = analyze(git_repo, SecretsAnalyzer(), tmp_path / "work")

    assert result.findings == []
    assert result.errors == []
