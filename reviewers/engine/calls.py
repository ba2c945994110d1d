"""What a caller sends to the pool and what it gets back, plus the per-call record."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypedDict

from reviewers.engine.config import Priority


class Message(TypedDict):
    """One chat message as the OpenAI-compatible API takes it."""

    role: str
    content: str


@dataclass(frozen=True)
class ChatRequest:
    """One chat completion; `schema` asks for JSON validated against it."""

    messages: list[Message]
    schema: dict[str, Any] | None = None
    schema_name: str = "answer"
    max_tokens: int = 2048
    temperature: float = 0.2
    top_p: float = 0.95
    n: int = 1
    stop: list[str] | None = None
    prompt_tokens: int | None = None  # exact count if the caller knows it (backpressure)


@dataclass(frozen=True)
class CallRecord:
    """Accounting of one pool call, kept for the review run (also for failed calls)."""

    request_id: str
    affinity_key: str
    priority: Priority
    schema_name: str | None
    replica: str | None
    outcome: str  # "ok" or the error class name
    prompt_tokens: int | None
    cached_tokens: int | None
    completion_tokens: int | None
    queue_s: float
    total_s: float
    attempts: int
    spilled: bool
    error: str | None = None


@dataclass(frozen=True)
class ChatResult:
    """The answer: one text per choice and, with a schema, the validated objects."""

    texts: list[str]
    parsed: list[Any]
    finish_reasons: list[str]
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int | None
    replica: str
    queue_s: float
    total_s: float
    request_id: str
    record: CallRecord


@dataclass(frozen=True)
class ReplicaDescription:
    """What `/v1/models` and the pool's own state say about one replica."""

    url: str
    reachable: bool
    models: list[str] = field(default_factory=list)
    max_model_len: int | None = None
    serves_configured_model: bool = False
    breaker: str = "closed"
    error: str | None = None
