"""What a call adds to a replica's KV cache when calls of the same repository overlap.

vLLM keeps one copy of the KV blocks of a prefix that several running requests share, so
three calls of one review (same repository context and diff, different final instruction)
occupy about one prompt's worth of cache, not three. The token budget charges each call
only what it does not share with a call of the same affinity key already under way on
that replica; otherwise the calls a review is built from would queue behind each other at
the client for memory the server never spends.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from reviewers.engine.calls import Message


def prompt_text(messages: Sequence[Message]) -> str:
    """The messages as one string, so that a shared leading part is a shared prefix."""
    return "\x00".join(f"{message['role']}\x01{message['content']}" for message in messages)


def common_prefix_length(left: str, right: str) -> int:
    """Length of the longest common prefix (binary search over C-speed slice compares)."""
    low, high = 0, min(len(left), len(right))
    while low < high:
        middle = (low + high + 1) // 2
        if left[:middle] == right[:middle]:
            low = middle
        else:
            high = middle - 1
    return low


@dataclass
class _Anchor:
    text: str
    calls: int


class PrefixSharing:
    """Per replica: one anchor prompt per affinity key while any of its calls is under way."""

    def __init__(self) -> None:
        self._anchors: dict[str, _Anchor] = {}

    @contextmanager
    def charge(self, key: str, text: str, tokens: int) -> Iterator[int]:
        """Yield the tokens to charge for this call, for as long as the call lasts."""
        anchor = self._anchors.get(key)
        if anchor is None:
            anchor = self._anchors[key] = _Anchor(text, 0)
            charged = tokens
        else:
            shared = common_prefix_length(anchor.text, text)
            charged = tokens - tokens * shared // max(1, len(text))
        anchor.calls += 1
        try:
            yield charged
        finally:
            anchor.calls -= 1
            if anchor.calls == 0:
                del self._anchors[key]
