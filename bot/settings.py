"""Typed settings from the environment (prefix ``REVIEWBOT_``), built by a cached factory.

Nothing reads the environment at import time: call `get_settings()`; tests call
`get_settings.cache_clear()` after changing the environment.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated

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

    @field_validator("engine_urls", mode="before")
    @classmethod
    def _split_urls(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip().rstrip("/") for part in value.split(",") if part.strip()]
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
