"""Plain configuration of the engine pool (built by `bot` from its settings)."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class Priority(enum.IntEnum):
    """Who is waiting for an answer; lower values are served first (vLLM's convention)."""

    INTERACTIVE = -1
    REVIEW = 0
    DIGEST = 1


class RoutingPolicy(enum.StrEnum):
    """How a call picks its replica."""

    AFFINITY = "affinity"  # rendezvous hash of the affinity key, spill when overloaded/unhealthy
    LEAST_LOADED = "least_loaded"
    ROUND_ROBIN = "round_robin"


def normalize_url(url: str) -> str:
    """Server root without a trailing slash or `/v1` (both spellings are accepted)."""
    url = url.strip().rstrip("/")
    return url.removesuffix("/v1")


@dataclass(frozen=True)
class EngineConfig:
    """Everything the pool needs; no environment is read here."""

    urls: tuple[str, ...]
    model: str
    api_key: str | None = None
    timeout_s: float = 900.0
    connect_timeout_s: float = 5.0
    deadline_s: float = 1800.0
    priority_scheduling: bool = False
    max_waiting: int = 8
    max_inflight_tokens: int = 400_000
    routing: RoutingPolicy = RoutingPolicy.AFFINITY
    metrics_ttl_s: float = 1.0
    metrics_max_age_s: float = 5.0  # older load views make the call wait for a fresh scrape
    probe_timeout_s: float = 2.0
    breaker_failures: int = 3
    breaker_cooldown_s: float = 10.0
    backoff_base_s: float = 0.5
    backoff_max_s: float = 8.0
    abort_grace_s: float = 1.0  # after a timeout: time for the server to abort the attempt
    max_connections: int = 64
    token_cache_size: int = 8192
    chars_per_token: float = 3.0
    records_kept: int = 10_000
    extra_headers: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.urls:
            raise ValueError("EngineConfig needs at least one engine URL")
        object.__setattr__(self, "urls", tuple(normalize_url(url) for url in self.urls))
        if self.max_inflight_tokens < 1 or self.max_waiting < 0:
            raise ValueError("max_inflight_tokens must be positive and max_waiting >= 0")
