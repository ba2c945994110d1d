"""`reviewbot digest` from the command line, configured through the environment like a user."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from bot.cli import main
from bot.settings import get_settings
from tests.digest.conftest import ChatReceiver
from tests.forgestandin.fixtures import AppKey
from tests.forgestandin.github import GitHubStandin
from tests.gitbuilder import GitRepo

pytestmark = pytest.mark.postgres


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch, seeded_url: str) -> Iterator[None]:
    for name, value in {"DATABASE_URL": seeded_url, "DIGEST_TIMEZONE": "UTC",
                        "GPU_PREFILL_TOKENS_PER_S": "1000", "GPU_DECODE_TOKENS_PER_S": "100",
                        "DASHBOARD_URL": "https://bot.example/dashboard"}.items():
        monkeypatch.setenv(f"REVIEWBOT_{name}", value)
    for name in ("GITHUB_APP_ID", "GITHUB_PRIVATE_KEY", "DIGEST_CHAT_WEBHOOK_URL"):
        monkeypatch.delenv(f"REVIEWBOT_{name}", raising=False)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.mark.usefixtures("environment")
def test_json_digest_delivered_to_the_issue_and_chat(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        github_standin: GitHubStandin, github_app_key: AppKey, git_repo: GitRepo,
        chat: ChatReceiver) -> None:
    git_repo.commit("init", {"README.md": "widgets\n"})
    github_standin.add_repo("acme/widgets", git_repo.root)
    monkeypatch.setenv("REVIEWBOT_GITHUB_APP_ID", "4242")
    monkeypatch.setenv("REVIEWBOT_GITHUB_PRIVATE_KEY", github_app_key.private_pem)
    monkeypatch.setenv("REVIEWBOT_GITHUB_API_URL", github_standin.base_url)
    monkeypatch.setenv("REVIEWBOT_DIGEST_CHAT_WEBHOOK_URL", chat.url)

    argv = ["digest", "--repo", "acme/widgets", "--since", "2026-10-09", "--format", "json"]
    assert main(argv) == 0
    first = json.loads(capsys.readouterr().out)
    assert main(argv) == 0
    second = json.loads(capsys.readouterr().out)

    assert (first["scope"], first["kind"], first["week"]) == ("acme/widgets", "repository",
                                                              "2026-W41")
    assert first["figures"]["reviews"] == {"label": "Reviews completed", "unit": "count",
                                           "current": 3, "baseline": 0.5, "change": 2.5}
    assert first["figures"]["gpu_seconds"]["current"] == pytest.approx(87.0)
    assert first["introduced"]["by_cwe"] == {"CWE-89": 1, "CWE-798": 1, "CWE-22": 1}
    assert [f["rule"] for f in first["top_open_findings"]] == [
        "path-traversal", "sql-injection", "n-plus-one"]
    assert [r["rule"] for r in first["noisiest_rules"]] == ["naming", "hardcoded-secret"]
    assert [t["path"] for t in first["merged_tests"]] == ["tests/test_parser.py"]
    assert first["generated_tests"] == {"kept": 2, "discarded": {"failed": 2,
                                                                 "no_assertions": 1}}
    assert first["issue"] == second["issue"]
    assert first["digest_id"] == second["digest_id"]
    assert first["chat_posted"] is True
    assert list(github_standin.repos["acme/widgets"].issues) == [first["issue"]["number"]]
    assert len(chat.received) == 2


@pytest.mark.usefixtures("environment")
def test_markdown_without_delivery(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["digest", "--repo", "acme", "--since", "2026-10-05", "--no-deliver"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("## reviewbot weekly digest: acme 2026-W41")
    assert "| Reviews completed | 4 | 0.50 | +3.50 |" in out
    assert "(https://bot.example/dashboard/digests/2026-W41/acme)" in out


@pytest.mark.usefixtures("environment")
def test_unknown_scope_and_bad_date_are_one_clear_error(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["digest", "--repo", "nobody/nothing"]) == 2
    err = capsys.readouterr().err
    assert err == ("reviewbot: error: no repository or organisation called 'nobody/nothing' "
                   "in the history\n")
    with pytest.raises(SystemExit) as exited:
        main(["digest", "--repo", "acme/widgets", "--since", "last week"])
    assert exited.value.code == 2
    assert "not a date (YYYY-MM-DD): 'last week'" in capsys.readouterr().err


def test_help_has_examples(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["digest", "--help"])
    out = capsys.readouterr().out
    assert "reviewbot digest --repo acme/widgets --since 2026-10-05 --format json" in out
