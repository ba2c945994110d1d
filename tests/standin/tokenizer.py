"""Deterministic toy tokenizer and chat template, so /tokenize(messages) == usage.prompt_tokens."""

from __future__ import annotations

import re
import zlib
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

_PIECE = re.compile(r"\s*\w+|\s*[^\w\s]|\s+")
IM_START, IM_END, EOS = 1, 2, 3
SPECIAL = {IM_START: "<|im_start|>", IM_END: "<|im_end|>", EOS: "<|endoftext|>"}


def pieces(text: str) -> list[str]:
    """Words (with their leading space) and single punctuation marks."""
    return _PIECE.findall(text)


@lru_cache(maxsize=1 << 18)
def _piece_id(piece: str) -> int:
    # memoised: real text repeats a small vocabulary, and this runs per prompt token
    return 16 + zlib.crc32(piece.encode()) % 150_000


@lru_cache(maxsize=256)
def encode(text: str) -> tuple[int, ...]:
    return tuple(map(_piece_id, pieces(text)))


def count(text: str) -> int:
    return len(encode(text))


def apply_chat_template(
    messages: Sequence[dict[str, Any]], add_generation_prompt: bool = True
) -> list[int]:
    """`<|im_start|>role\\ncontent<|im_end|>\\n` per message, then the assistant header."""
    ids: list[int] = []
    for message in messages:
        content = message.get("content") or ""
        if isinstance(content, list):  # OpenAI content parts
            content = "".join(str(part.get("text", "")) for part in content)
        ids.append(IM_START)
        ids.extend(encode(f"{message.get('role', 'user')}\n"))
        ids.extend(encode(str(content)))
        ids.append(IM_END)
        ids.extend(encode("\n"))
    if add_generation_prompt:
        ids.append(IM_START)
        ids.extend(encode("assistant\n"))
    return ids
