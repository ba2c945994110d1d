"""Shared builders for engine tests: pools over stand-ins and typical requests."""

from __future__ import annotations

from typing import Any

from reviewers.engine import ChatRequest, EngineConfig, EnginePool, Message

MODEL = "IQuest-Coder-V1-40B-Instruct"

FINDINGS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "findings": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"line": {"type": "integer"}, "message": {"type": "string"}},
                "required": ["line", "message"],
                "additionalProperties": False,
            },
        }
    },
    "required": ["findings"],
    "additionalProperties": False,
}


def pool_for(*urls: str, **overrides: Any) -> EnginePool:
    """A pool with fast test timings; override any EngineConfig field."""
    options: dict[str, Any] = {
        "model": MODEL, "timeout_s": 5.0, "deadline_s": 10.0, "backoff_base_s": 0.02,
        "backoff_max_s": 0.1, "metrics_ttl_s": 0.0, "breaker_cooldown_s": 0.2,
        "probe_timeout_s": 1.0, "abort_grace_s": 0.2, "metrics_max_age_s": 0.0,
    }
    options.update(overrides)
    return EnginePool(EngineConfig(urls=urls, **options))


def review_messages(repo: str, task: str, context_words: int = 200) -> list[Message]:
    """A review prompt: shared repository prefix, task instruction last."""
    context = " ".join(f"{repo}_symbol{i}" for i in range(context_words))
    return [
        {"role": "system", "content": f"You review code of {repo}. Context: {context}"},
        {"role": "user", "content": f"Diff of {repo}: + x = 1\n\nTask: {task}"},
    ]


def review_request(repo: str, task: str = "review", **fields: Any) -> ChatRequest:
    return ChatRequest(messages=review_messages(repo, task), schema=FINDINGS_SCHEMA,
                       schema_name="review", **fields)
