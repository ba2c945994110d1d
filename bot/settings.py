"""Typed settings from the environment (prefix ``REVIEWBOT_``), built by a cached factory.

Nothing reads the environment at import time: call `get_settings()`; tests call
`get_settings.cache_clear()` after changing the environment.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import platformdirs
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


def _default_database_url() -> str:
    data_dir = Path(platformdirs.user_data_dir("reviewbot", appauthor=False))
    return f"sqlite:///{data_dir / 'history.sqlite3'}"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="REVIEWBOT_", extra="ignore")

    database_url: str = Field(default_factory=_default_database_url)
    broker_url: str = "redis://localhost:6379/0"

    engine_urls: Annotated[list[str], NoDecode] = Field(default_factory=list)
    engine_model: str = "IQuest-Coder-V1-40B-Instruct"
    engine_api_key: SecretStr | None = None
    max_model_len: int = 131072
    answer_tokens: int = 4096
    engine_timeout_s: float = 900.0
    engine_deadline_s: float = 1800.0
    engine_priority_scheduling: bool = False
    engine_max_waiting: int = 8
    engine_max_inflight_tokens: int = 400_000

    log_level: str = "INFO"
    log_format: Literal["json", "text"] = "json"  # json: one object per line (bot.logs)
    metrics_port: int = Field(default=9102, ge=0, le=65535)  # worker exporter; 0 = none

    github_app_id: str | None = None
    github_private_key: SecretStr | None = None
    github_private_key_path: Path | None = None
    github_webhook_secret: SecretStr | None = None
    github_api_url: str = "https://api.github.com"
    gitlab_url: str = "https://gitlab.com"
    gitlab_token: SecretStr | None = None
    gitlab_webhook_secret: SecretStr | None = None

    # Webhook edge and queue (bot.webhooks, taskqueue).
    webhook_max_bytes: int = 25 * 1024 * 1024  # GitHub's own payload cap
    gitlab_bot_username: str | None = None  # the bot's GitLab user, whose notes are ignored
    job_soft_time_limit_s: int = 2400  # the job gets SoftTimeLimitExceeded and can clean up
    job_time_limit_s: int = 2700  # the worker child is killed
    broker_visibility_timeout_s: int = 3600  # unacked jobs come back after this; > time limit
    job_max_retries: int = 5  # retries of a job that raised TransientError
    job_retry_base_s: float = Field(default=10.0, gt=0)  # first retry after 5-10 s, doubling
    # Bare mirrors of reviewed repositories (one per repository, shared by the workers of a host).
    mirror_dir: Path = Field(default_factory=lambda: Path(
        platformdirs.user_cache_dir("reviewbot", appauthor=False)) / "mirrors")

    # Generated tests (reviewers.testgen): always sandboxed with bubblewrap unless the
    # operator explicitly allows running them without it (never do this on a shared host).
    testgen_allow_unsandboxed: bool = False
    testgen_environment: Literal["shared", "venv"] = "shared"  # the bot's Python / a cached venv
    testgen_venv_dir: Path = Field(default_factory=lambda: Path(
        platformdirs.user_cache_dir("reviewbot", appauthor=False)) / "test-venvs")
    testgen_pip_index_url: SecretStr | None = None  # for building venvs (may hold a token)
    testgen_run_timeout_s: float = Field(default=60.0, gt=0)  # one pytest run
    testgen_memory_mb: int = Field(default=2048, ge=256)  # address space per process
    testgen_max_processes: int = Field(default=64, ge=8)
    testgen_candidates_per_target: int = Field(default=3, ge=1, le=8)
    testgen_max_targets: int = Field(default=8, ge=1)
    testgen_check_base: bool = True  # also run kept tests on the base: behaviour changes

    # Weekly digest (bot.digest) and dashboard (bot.dashboard).
    digest_day: Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"] = "mon"
    digest_hour: int = Field(default=8, ge=0, le=23)
    digest_timezone: str = "UTC"  # IANA name; weeks start on Monday 00:00 in this zone
    digest_to_issue: bool = True  # a tracking issue per week in the repository
    digest_chat_webhook_url: SecretStr | None = None  # Slack-compatible incoming webhook
    dashboard_tokens: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)
    dashboard_session_ttl_s: int = 12 * 3600
    dashboard_url: str | None = None  # public base URL of the dashboard, for digest links
    # GPU-seconds estimate: uncached prompt / prefill rate + completion / decode rate, per GPU
    # (VLLM.md section 7: ~5.7k tok/s prefill of a 10k prompt at 50 % MFU on one H100;
    # ~1.2k tok/s decode on a 2xH100 pod with ~30 sequences in the batch).
    gpu_prefill_tokens_per_s: float = Field(default=5700.0, gt=0)
    gpu_decode_tokens_per_s: float = Field(default=600.0, gt=0)

    @field_validator("engine_urls", mode="before")
    @classmethod
    def _split_urls(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip().rstrip("/") for part in value.split(",") if part.strip()]
        return value

    @field_validator("dashboard_tokens", mode="before")
    @classmethod
    def _split_tokens(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("digest_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("max_model_len")
    @classmethod
    def _positive(cls, value: int) -> int:
        if value < 1024:
            raise ValueError("must be at least 1024 tokens")
        return value


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
