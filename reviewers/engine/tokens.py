"""Exact token counts from the server's `/tokenize`, cached by content hash."""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from reviewers.engine.calls import Message


def content_key(payload: dict[str, Any]) -> str:
    """Stable hash of a tokenize request body (message texts hashed without re-encoding JSON)."""
    digest = hashlib.sha256()
    for message in payload.get("messages", ()):
        for part in (message.get("role", ""), message.get("content", "")):
            text = str(part).encode()
            digest.update(len(text).to_bytes(8, "big"))
            digest.update(text)
    rest = {key: value for key, value in payload.items() if key != "messages"}
    digest.update(json.dumps(rest, sort_keys=True, ensure_ascii=False).encode())
    return digest.hexdigest()


def tokenize_payload(model: str, content: str | Sequence[Message]) -> dict[str, Any]:
    """Body for POST /tokenize: chat messages get the chat template, plain text no BOS."""
    if isinstance(content, str):
        return {"model": model, "prompt": content, "add_special_tokens": False}
    return {
        "model": model,
        "messages": [dict(message) for message in content],
        "add_generation_prompt": True,
    }


class TokenCountCache:
    """Bounded LRU of exact counts keyed by content hash."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._counts: OrderedDict[str, int] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def get(self, key: str) -> int | None:
        count = self._counts.get(key)
        if count is None:
            return None
        self._counts.move_to_end(key)
        return count

    def put(self, key: str, count: int) -> None:
        self._counts[key] = count
        self._counts.move_to_end(key)
        while len(self._counts) > self._size:
            self._counts.popitem(last=False)


def estimate_tokens(text: str, chars_per_token: float) -> int:
    """Cheap upper-leaning guess used before an exact count is known."""
    return math.ceil(len(text) / chars_per_token) if text else 0


def estimate_messages(messages: Sequence[Message], chars_per_token: float) -> int:
    """Guess for a chat prompt: content plus a few template tokens per message."""
    return sum(estimate_tokens(m["content"], chars_per_token) + 4 for m in messages) + 3


class EngineTokenCounter:
    """`TokenCounter` backed by the engine's tokenizer (exact), with a local estimate."""

    def __init__(
        self,
        count: Callable[[str], Awaitable[int]],
        chars_per_token: float = 3.0,
        concurrency: int = 8,
    ) -> None:
        self._count = count
        self._chars_per_token = chars_per_token
        self._limit = asyncio.Semaphore(concurrency)

    async def count(self, text: str) -> int:
        async with self._limit:
            return await self._count(text)

    async def count_many(self, texts: Sequence[str]) -> list[int]:
        return list(await asyncio.gather(*(self.count(text) for text in texts)))

    def estimate(self, text: str) -> int:
        return estimate_tokens(text, self._chars_per_token)
