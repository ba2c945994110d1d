"""`reviewbot doctor`: each failure class against the real thing (a closed port, a migrated or
unmigrated database, the vLLM stand-in serving another model or a shorter context, the forge
stand-ins refusing a key or token, a missing bwrap), and the whole command end to end."""

from __future__ import annotations

import json
import secrets
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from bot.cli import main
from bot.doctor import (
    Status,
    broker_check,
    database_check,
    engine_checks,
    forge_checks,
    sandbox_check,
    settings_checks,
)
from bot.history.db import upgrade_database
from bot.settings import Settings, get_settings
from tests.forgestandin.fixtures import AppKey, make_app_key
from tests.forgestandin.github import GitHubStandin
from tests.forgestandin.gitlab import GitLabStandin
from tests.ops.conftest import OPS_REDIS_URL
from tests.standin.fixtures import StandinFactory

SECRET = secrets.token_hex(24)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port  # nothing listens once the socket is closed


def settings(**values: Any) -> Settings:
    base: dict[str, Any] = {"database_url": "sqlite://", "broker_url": OPS_REDIS_URL,
                            "github_webhook_secret": SecretStr(SECRET)}
    return Settings(**{**base, **values})


def test_inconsistent_settings_and_placeholder_secrets_fail() -> None:
    checks = settings_checks(settings(job_time_limit_s=5000, broker_visibility_timeout_s=3600,
                                      github_webhook_secret=SecretStr("changeme")))
    failed = [c for c in checks if c.status is Status.FAIL]
    assert any("broker_visibility_timeout_s" in c.detail for c in failed)
    assert any("REVIEWBOT_GITHUB_WEBHOOK_SECRET is a placeholder" in c.detail for c in failed)
    assert all("changeme" not in (c.detail + (c.fix or "")) for c in checks)
    none = settings_checks(settings(github_webhook_secret=None))
    assert any("no webhook secret" in c.detail for c in none)
    unsandboxed = settings_checks(settings(testgen_allow_unsandboxed=True))
    assert [c.status for c in unsandboxed if "UNSANDBOXED" in c.detail] == [Status.WARN]


def test_database_unreachable_unmigrated_and_ready(tmp_path: Path) -> None:
    down = database_check(settings(
        database_url=f"postgresql+psycopg://postgres@127.0.0.1:{closed_port()}/x"))
    assert down.status is Status.FAIL
    assert "cannot reach the database" in down.detail
    url = f"sqlite:///{tmp_path / 'history.sqlite3'}"
    fresh = database_check(settings(database_url=url))
    assert (fresh.status, fresh.fix) == (Status.FAIL, "run: reviewbot db upgrade")
    upgrade_database(url)
    assert database_check(settings(database_url=url)).status is Status.OK


@pytest.mark.postgres
def test_migrated_postgres_is_ok(pg_url: str) -> None:
    upgrade_database(pg_url)
    assert database_check(settings(database_url=pg_url)).status is Status.OK


def test_broker_down_and_up() -> None:
    down = broker_check(settings(broker_url=f"redis://127.0.0.1:{closed_port()}/0"))
    assert down.status is Status.FAIL
    assert "REVIEWBOT_BROKER_URL" in (down.fix or "")
    assert broker_check(settings()).status is Status.OK


def test_engine_replicas_each_report_their_own_problem(vllm_standin: StandinFactory) -> None:
    right = vllm_standin()
    other_model = vllm_standin(model="SmolLM2-135M-Instruct")
    short = vllm_standin(max_model_len=32768)
    dead = f"http://127.0.0.1:{closed_port()}"
    checks = engine_checks(settings(engine_urls=[right.url, other_model.url, short.url, dead],
                                    max_model_len=131072))
    by_url = {c.name.removeprefix("engine "): c for c in checks}
    assert by_url[right.url.rstrip("/")].status is Status.OK
    wrong = by_url[other_model.url.rstrip("/")]
    assert wrong.status is Status.FAIL
    assert "serves SmolLM2-135M-Instruct" in wrong.detail
    assert "--served-model-name IQuest-Coder-V1-40B-Instruct" in (wrong.fix or "")
    too_short = by_url[short.url.rstrip("/")]
    assert too_short.status is Status.FAIL
    assert "32768" in too_short.detail
    assert by_url[dead].status is Status.FAIL
    assert "unreachable" in by_url[dead].detail


def test_no_engine_is_a_warning() -> None:
    (check,) = engine_checks(settings())
    assert check.status is Status.WARN


def test_github_app_key_is_checked_against_the_forge(
    github_standin: GitHubStandin, github_app_key: AppKey,
) -> None:
    good = forge_checks(settings(github_app_id="4242",
                                 github_private_key=SecretStr(github_app_key.private_pem),
                                 github_api_url=github_standin.base_url))
    assert [(c.name, c.status) for c in good] == [("github", Status.OK)]
    assert "reviewbot-test[bot]" in good[0].detail
    wrong = forge_checks(settings(github_app_id="4242",
                                  github_private_key=SecretStr(make_app_key().private_pem),
                                  github_api_url=github_standin.base_url))
    assert wrong[0].status is Status.FAIL
    assert "401" in wrong[0].detail
    assert "do not match" in (wrong[0].fix or "")
    missing = forge_checks(settings(github_app_id="4242"))
    assert missing[0].status is Status.FAIL


def test_gitlab_token_is_checked_and_no_forge_fails(gitlab_standin: GitLabStandin) -> None:
    good = forge_checks(settings(gitlab_url=gitlab_standin.base_url,
                                 gitlab_token=SecretStr(gitlab_standin.token),
                                 gitlab_bot_username=gitlab_standin.bot_username))
    assert [(c.name, c.status) for c in good] == [("gitlab", Status.OK)]
    revoked = forge_checks(settings(gitlab_url=gitlab_standin.base_url,
                                    gitlab_token=SecretStr("glpat-revoked-000000000")))
    assert revoked[0].status is Status.FAIL
    assert "401" in revoked[0].detail
    unreachable = forge_checks(settings(gitlab_url=f"http://127.0.0.1:{closed_port()}",
                                        gitlab_token=SecretStr(gitlab_standin.token)))
    assert unreachable[0].status is Status.FAIL
    (nothing,) = forge_checks(settings())
    assert (nothing.name, nothing.status) == ("forge", Status.FAIL)


def test_missing_bubblewrap_is_reported_with_the_fix() -> None:
    check = sandbox_check(bwrap="bwrap-not-installed-here")
    assert check.status is Status.WARN
    assert "bubblewrap" in check.detail
    assert "apt-get install bubblewrap" in (check.fix or "")


@pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is not installed")
def test_installed_bubblewrap_is_ok() -> None:
    assert sandbox_check().status is Status.OK


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[dict[str, str]]:
    """A clean REVIEWBOT_* environment for the command; the settings cache cleared around."""
    import os

    for name in [n for n in os.environ if n.startswith("REVIEWBOT_")]:
        monkeypatch.delenv(name)
    url = f"sqlite:///{tmp_path / 'history.sqlite3'}"
    upgrade_database(url)
    values = {"REVIEWBOT_DATABASE_URL": url, "REVIEWBOT_BROKER_URL": OPS_REDIS_URL,
              "REVIEWBOT_GITHUB_WEBHOOK_SECRET": SECRET}
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    yield values
    get_settings.cache_clear()


def test_doctor_command_json_all_good_then_failures(
    environment: dict[str, str], monkeypatch: pytest.MonkeyPatch,
    gitlab_standin: GitLabStandin, vllm_standin: StandinFactory,
    capsys: pytest.CaptureFixture[str],
) -> None:
    engine = vllm_standin()
    monkeypatch.setenv("REVIEWBOT_ENGINE_URLS", engine.url)
    monkeypatch.setenv("REVIEWBOT_GITLAB_URL", gitlab_standin.base_url)
    monkeypatch.setenv("REVIEWBOT_GITLAB_TOKEN", gitlab_standin.token)
    code = main(["doctor", "--format", "json"])
    report = json.loads(capsys.readouterr().out)
    statuses = {c["name"]: c["status"] for c in report["checks"]}
    assert statuses["database"] == "ok"
    assert statuses["broker"] == "ok"
    assert statuses["gitlab"] == "ok"
    assert statuses[f"engine {engine.url.rstrip('/')}"] == "ok"
    assert statuses["settings"] == "warn"  # SQLite is not for a service
    assert statuses["sandbox"] in {"ok", "warn"}  # a missing sandbox is only a warning
    assert (code, report["ok"]) == (0, True)

    monkeypatch.setenv("REVIEWBOT_BROKER_URL", f"redis://:{SECRET}@127.0.0.1:{closed_port()}/0")
    monkeypatch.setenv("REVIEWBOT_ENGINE_MODEL", "another-model")
    get_settings.cache_clear()
    assert main(["doctor"]) == 1
    out = capsys.readouterr().out
    assert "FAIL  broker: cannot reach the broker" in out
    assert "not another-model" in out
    assert "some checks failed" in out
    assert SECRET not in out
    assert gitlab_standin.token not in out


def test_invalid_setting_is_named_without_its_value(
    environment: dict[str, str], monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("REVIEWBOT_MAX_MODEL_LEN", "512")
    get_settings.cache_clear()
    assert main(["doctor"]) == 1
    out = capsys.readouterr().out
    assert "FAIL  settings: REVIEWBOT_MAX_MODEL_LEN" in out
    assert "at least 1024" in out
