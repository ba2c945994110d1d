"""`reviewbot doctor`'s checks: is this deployment able to review a PR, and if not, why.

Each check talks to the real dependency (database, broker, engine replicas, forge APIs,
the sandbox), is bounded in time, and returns a `Check` saying what is wrong and how to fix
it. No check raises, and no detail ever contains a secret value.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from pydantic import ValidationError
from sqlalchemy.pool import NullPool

from bot.errors import ForgeError, HistoryError
from bot.settings import Settings
from reviewers.errors import ReviewbotError

PLACEHOLDERS = frozenset({"changeme", "change-me", "secret", "password", "example", "xxx",
                          "todo", "replace-me"})
MIN_SECRET_CHARS = 16


class Status(enum.StrEnum):
    OK = "ok"
    WARN = "warn"  # works, but not as a production deployment should
    FAIL = "fail"  # reviews will not work until fixed
    SKIP = "skip"  # not configured, and not needed


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    detail: str
    fix: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "status": self.status.value}


def load_settings() -> tuple[Settings | None, list[Check]]:
    """Settings from the environment, or the validation errors (field names, never values)."""
    try:
        settings = Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"REVIEWBOT_{'_'.join(str(p) for p in error['loc']).upper()}: {error['msg']}"
            for error in exc.errors())
        return None, [Check("settings", Status.FAIL, problems,
                            "fix these variables (see deploy/compose/.env.example)")]
    return settings, settings_checks(settings)


def settings_checks(settings: Settings) -> list[Check]:
    """Consistency of the settings that no validator of a single field can see."""
    from taskqueue.app import celery_config

    found: list[Check] = []
    try:
        celery_config(settings)
    except ReviewbotError as exc:
        found.append(Check("settings", Status.FAIL, str(exc),
                           "keep job_soft_time_limit_s < job_time_limit_s < "
                           "broker_visibility_timeout_s"))
    for name in ("github_webhook_secret", "gitlab_webhook_secret"):
        secret = getattr(settings, name)
        if secret is not None and (secret.get_secret_value().lower() in PLACEHOLDERS
                                   or len(secret.get_secret_value()) < MIN_SECRET_CHARS):
            found.append(Check("settings", Status.FAIL,
                               f"REVIEWBOT_{name.upper()} is a placeholder or shorter than "
                               f"{MIN_SECRET_CHARS} characters",
                               "generate one: python -c 'import secrets; "
                               "print(secrets.token_hex(32))' and set it on the forge too"))
    if settings.github_webhook_secret is None and settings.gitlab_webhook_secret is None:
        found.append(Check("settings", Status.FAIL,
                           "no webhook secret is set: both receivers refuse every delivery",
                           "set REVIEWBOT_GITHUB_WEBHOOK_SECRET and/or "
                           "REVIEWBOT_GITLAB_WEBHOOK_SECRET"))
    if settings.testgen_allow_unsandboxed:
        found.append(Check("settings", Status.WARN,
                           "REVIEWBOT_TESTGEN_ALLOW_UNSANDBOXED is true: generated tests may run "
                           "without the sandbox, with the worker's network and files",
                           "set it to false and give the workers user namespaces (bwrap)"))
    if settings.database_url.startswith("sqlite"):
        found.append(Check("settings", Status.WARN,
                           "the history database is SQLite: fine for the CLI, not for a service "
                           "with several workers",
                           "set REVIEWBOT_DATABASE_URL=postgresql+psycopg://USER@HOST/DB"))
    return found or [Check("settings", Status.OK, "settings are consistent")]


def database_check(settings: Settings) -> Check:
    """Reachable, and migrated to the revision this version of the bot expects."""
    from bot.history.db import current_revision, head_revision, make_engine

    engine = make_engine(settings.database_url, poolclass=NullPool,
                         **_connect_timeout(settings.database_url))
    try:
        current = current_revision(engine)
    except HistoryError as exc:
        return Check("database", Status.FAIL, f"cannot reach the database: {_first_line(exc)}",
                     "check REVIEWBOT_DATABASE_URL and that the server accepts connections")
    finally:
        engine.dispose()
    head = head_revision()
    if current != head:
        return Check("database", Status.FAIL,
                     f"schema is at {current or 'nothing (never migrated)'}, expected {head}",
                     "run: reviewbot db upgrade")
    return Check("database", Status.OK, f"reachable, schema at {head}")


def _connect_timeout(url: str) -> dict[str, Any]:
    return {"connect_args": {"connect_timeout": 5}} if url.startswith("postgres") else {}


def broker_check(settings: Settings) -> Check:
    from bot.webhooks.queueing import CeleryJobQueue, QueueUnavailable, celery_producer

    queue = CeleryJobQueue(celery_producer(settings))
    try:
        queue.ping()
    except QueueUnavailable as exc:
        return Check("broker", Status.FAIL, f"cannot reach the broker: {_first_line(exc)}",
                     "check REVIEWBOT_BROKER_URL (redis://HOST:6379/0) and that Redis runs")
    return Check("broker", Status.OK, "reachable")


def engine_checks(settings: Settings, timeout_s: float = 10.0) -> list[Check]:
    """Per replica: reachable, serves REVIEWBOT_ENGINE_MODEL, with a long enough context."""
    if not settings.engine_urls:
        return [Check("engine", Status.WARN, "no engine configured: only the static analyzers "
                      "review PRs", "set REVIEWBOT_ENGINE_URLS=http://vllm-0:8000,...")]
    from reviewers.engine.calls import ReplicaDescription
    from reviewers.engine.config import EngineConfig
    from reviewers.engine.pool import EnginePool

    config = EngineConfig(
        urls=tuple(settings.engine_urls), model=settings.engine_model,
        api_key=settings.engine_api_key.get_secret_value() if settings.engine_api_key else None)

    async def describe() -> list[ReplicaDescription]:
        pool = EnginePool(config)
        try:
            return await asyncio.wait_for(pool.describe(), timeout_s)
        finally:
            await pool.aclose()

    try:
        replicas = asyncio.run(describe())
    except TimeoutError:
        return [Check("engine", Status.FAIL, f"no answer from the replicas in {timeout_s:.0f} s",
                      "check REVIEWBOT_ENGINE_URLS and the vLLM pods")]
    return [_replica_check(settings, replica) for replica in replicas]


def _replica_check(settings: Settings, replica: Any) -> Check:
    name = f"engine {replica.url}"
    if not replica.reachable:
        return Check(name, Status.FAIL, f"unreachable: {_first_line(replica.error or '')}",
                     "start vLLM there (deploy/vllm) or fix REVIEWBOT_ENGINE_URLS")
    if not replica.serves_configured_model:
        served = ", ".join(replica.models) or "nothing"
        return Check(name, Status.FAIL,
                     f"serves {served}, not {settings.engine_model}",
                     "set REVIEWBOT_ENGINE_MODEL to the served name, or start vLLM with "
                     f"--served-model-name {settings.engine_model}")
    if replica.max_model_len is not None and replica.max_model_len < settings.max_model_len:
        return Check(name, Status.FAIL,
                     f"max_model_len is {replica.max_model_len}, below REVIEWBOT_MAX_MODEL_LEN "
                     f"({settings.max_model_len}): long prompts would be refused",
                     f"set REVIEWBOT_MAX_MODEL_LEN={replica.max_model_len} or start vLLM with "
                     f"--max-model-len {settings.max_model_len}")
    return Check(name, Status.OK, f"serves {settings.engine_model}, max_model_len "
                 f"{replica.max_model_len if replica.max_model_len is not None else 'unknown'}")


def forge_checks(settings: Settings) -> list[Check]:
    """Each configured forge's credentials, checked with one authenticated call."""
    checks: list[Check] = []
    if settings.github_app_id:
        checks.append(_github_check(settings))
    if settings.gitlab_token is not None:
        checks.append(_gitlab_check(settings))
    if not checks:
        checks.append(Check("forge", Status.FAIL, "neither GitHub nor GitLab is configured",
                            "set REVIEWBOT_GITHUB_APP_ID and REVIEWBOT_GITHUB_PRIVATE_KEY(_PATH), "
                            "or REVIEWBOT_GITLAB_TOKEN"))
    return checks


def _github_check(settings: Settings) -> Check:
    from bot.forges.github import GitHubForge

    try:
        forge = GitHubForge.from_settings(settings)
    except (ForgeError, ValueError) as exc:
        return Check("github", Status.FAIL, _first_line(exc),
                     "set REVIEWBOT_GITHUB_PRIVATE_KEY_PATH to the App's .pem file")
    try:
        login = forge.bot_login()
    except ForgeError as exc:
        fix = ("the App id and private key do not match: download a new key from the App's "
               "settings" if exc.status == 401 else f"check REVIEWBOT_GITHUB_API_URL "
               f"({settings.github_api_url}) and the network path to it")
        return Check("github", Status.FAIL, f"App authentication failed: {_first_line(exc)}", fix)
    finally:
        forge.close()
    return Check("github", Status.OK, f"authenticated as {login}")


def _gitlab_check(settings: Settings) -> Check:
    from bot.forges.gitlab import GitLabForge

    forge = GitLabForge.from_settings(settings)
    try:
        login = forge.bot_login()
    except ForgeError as exc:
        fix = ("the token is invalid, expired or revoked: create a project/group access "
               "token with the api scope and Developer role" if exc.status == 401
               else f"check REVIEWBOT_GITLAB_URL ({settings.gitlab_url})")
        return Check("gitlab", Status.FAIL, f"token refused: {_first_line(exc)}", fix)
    finally:
        forge.close()
    check = Check("gitlab", Status.OK, f"authenticated as {login}")
    if settings.gitlab_bot_username and settings.gitlab_bot_username != login:
        return Check("gitlab", Status.WARN,
                     f"the token belongs to {login}, REVIEWBOT_GITLAB_BOT_USERNAME says "
                     f"{settings.gitlab_bot_username}: the bot would answer its own notes",
                     f"set REVIEWBOT_GITLAB_BOT_USERNAME={login}")
    return check


def sandbox_check(bwrap: str = "bwrap") -> Check:
    """Can generated tests run under bubblewrap here?"""
    from reviewers.testgen.sandbox import Sandbox, SandboxConfig

    reason = Sandbox(SandboxConfig(bwrap=bwrap)).probe()
    if reason is not None:
        return Check("sandbox", Status.WARN, f"generated tests will not run: {reason}",
                     "install bubblewrap (apt-get install bubblewrap; the image has it) and "
                     "allow user namespaces (Kubernetes: see deploy/k8s, securityContext)")
    return Check("sandbox", Status.OK, "bubblewrap runs with its namespaces")


def run_checks(settings: Settings | None, settings_results: list[Check], *,
               bwrap: str = "bwrap") -> list[Check]:
    """Every check, in the order an operator fixes things."""
    if settings is None:
        return list(settings_results)
    steps: list[Callable[[], Check | list[Check]]] = [
        lambda: database_check(settings), lambda: broker_check(settings),
        lambda: engine_checks(settings), lambda: forge_checks(settings),
        lambda: sandbox_check(bwrap),
    ]
    results = list(settings_results)
    for step in steps:
        outcome = step()
        results.extend(outcome if isinstance(outcome, list) else [outcome])
    return results


def _first_line(value: object) -> str:
    text = str(value).strip()
    return text.splitlines()[0][:300] if text else type(value).__name__
