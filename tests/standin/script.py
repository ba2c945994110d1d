"""What the stand-in answers: scripted replies per test, else a minimal schema-valid object."""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from tests.standin.schemagen import minimal_instance, violating_instance

Fault = Literal["unavailable", "queue_full", "drop", "slow", "malformed", "violate"]


@dataclass(frozen=True)
class ChatCall:
    """The request as a script sees it."""

    request_id: str
    messages: list[dict[str, Any]]
    schema: dict[str, Any] | None
    priority: int
    n: int
    body: dict[str, Any]

    @property
    def last(self) -> str:
        content = self.messages[-1].get("content") if self.messages else ""
        return content if isinstance(content, str) else json.dumps(content)


@dataclass(frozen=True)
class Reply:
    """One scripted answer. `content` may be a str or a JSON-able object (dumped)."""

    content: Any = None
    fault: Fault | None = None
    delay_s: float = 0.0  # extra wall-clock seconds the request spends "decoding"
    finish_reason: str | None = None


ScriptFn = Callable[[ChatCall], "Reply | str | dict[str, Any] | list[Any] | None"]


@dataclass
class _Rule:
    marker: str | None
    replies: deque[Reply]


@dataclass
class Script:
    """Rules are tried in order; a rule matches when its marker is in the last message."""

    rules: list[_Rule] = field(default_factory=list)
    fn: ScriptFn | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, replies: list[Reply], marker: str | None) -> None:
        with self._lock:
            self.rules.append(_Rule(marker, deque(replies)))

    def next_reply(self, call: ChatCall) -> Reply:
        with self._lock:
            for rule in self.rules:
                if rule.replies and (rule.marker is None or rule.marker in call.last):
                    reply = rule.replies.popleft()
                    if not rule.replies:
                        self.rules.remove(rule)
                    return reply
        if self.fn is not None:
            produced = self.fn(call)
            if isinstance(produced, Reply):
                return produced
            if produced is not None:
                return Reply(content=produced)
        return Reply()


def as_reply(item: Reply | str | dict[str, Any] | list[Any]) -> Reply:
    return item if isinstance(item, Reply) else Reply(content=item)


def render_content(reply: Reply, call: ChatCall, fault: Fault | None) -> str:
    """The assistant text: scripted, or generated for the schema, damaged by a fault."""
    if fault == "malformed":
        return '{"findings": [ {"path": "a.py", '
    if fault == "violate" and call.schema is not None:
        return json.dumps(violating_instance(call.schema))
    if reply.content is not None:
        return reply.content if isinstance(reply.content, str) else json.dumps(reply.content)
    if call.schema is not None:
        return json.dumps(minimal_instance(call.schema))
    return "OK"
