"""Masks secrets in any text the bot writes: findings, comments, logs, SARIF, the database.

`mask_secrets(text)` replaces every token that looks like a credential with
`mask_value(token)`: at most the first four characters, an ellipsis and the length
(``AKIA…(20 chars)``). Detection combines exact token shapes (GitHub, GitLab, AWS,
Slack, Stripe, JWT, PEM private keys, long high-entropy runs) with detect-secrets'
line plugins (offline ones only: nothing here ever verifies a secret over the network).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

MASK_MARK = "…"
_PREFIX_MIN_LEN = 12  # shorter secrets show no prefix at all
_PREFIX_LEN = 4

_KNOWN_TOKENS = re.compile(
    r"\b(?:"
    r"gh[pousr]_[A-Za-z0-9]{30,255}"
    r"|github_pat_[A-Za-z0-9_]{22,255}"
    r"|gl(?:pat|dt|rt|ptt|cbt|imt|oas|soat|ffct)-[A-Za-z0-9_\-]{20,}"
    r"|(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}"
    r"|xox[abposr]-[A-Za-z0-9\-]{10,}"
    r"|[rs]k_(?:live|test)_[A-Za-z0-9]{16,}"
    r"|sk-[A-Za-z0-9_\-]{20,}"
    r"|npm_[A-Za-z0-9]{36}"
    r"|pypi-[A-Za-z0-9_\-]{50,}"
    r"|eyJ[A-Za-z0-9_\-]{5,}\.eyJ[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]*"
    r")"
)
_PEM_BLOCK = re.compile(
    r"(-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----)(.*?)(-----END [A-Z0-9 ]*PRIVATE KEY"
    r"(?: BLOCK)?-----|\Z)",
    re.DOTALL,
)
_LONG_RUN = re.compile(r"[A-Za-z0-9+/_\-]{40,}={0,2}")
_LONG_RUN_MIN_ENTROPY = 4.5
_TOKEN_CHARS = re.compile(r"[A-Za-z0-9_\-+/=.~]")
_SKIPPED_PLUGINS = frozenset({"IPPublicDetector"})
_UNMASKED_TYPES = frozenset({"Private Key"})  # its value is the armour line, not the key


def mask_value(secret: str) -> str:
    """The masked form of one secret: a short prefix (long secrets only), '…', the length."""
    shown = secret[:_PREFIX_LEN] if len(secret) >= _PREFIX_MIN_LEN else ""
    return f"{shown}{MASK_MARK}({len(secret)} chars)"


def mask_secrets(text: str, values: Iterable[str] = ()) -> str:
    """`text` with every secret-looking token, and every known secret in `values`
    (e.g. the password an analyzer reported), replaced by its masked form."""
    if not text:
        return text
    known = [v for v in values if v]
    text = _PEM_BLOCK.sub(_mask_pem, text)
    return "\n".join(mask_line(line, known) if line.strip() else line
                     for line in text.split("\n"))


def secret_spans(line: str, values: Iterable[str] = ()) -> list[tuple[int, int]]:
    """Character spans of secrets in one line: known shapes, plugin hits and `values`.

    A value reported as a fragment (detect-secrets reports only ``ghp`` for a GitHub
    token) is widened to the whole token around it.
    """
    spans = [(m.start(), m.end()) for m in _KNOWN_TOKENS.finditer(line)]
    spans += [(m.start(), m.end()) for m in _LONG_RUN.finditer(line)
              if _entropy(m.group()) >= _LONG_RUN_MIN_ENTROPY]
    for value in [*values, *_plugin_values(line)]:
        if not value or MASK_MARK in value:
            continue
        start = line.find(value)
        while start != -1:
            spans.append(_widen(line, start, start + len(value)))
            start = line.find(value, start + len(value))
    return _merge(spans)


def mask_line(line: str, values: Iterable[str] = ()) -> str:
    """One line with its secrets (and the given known secret `values`) masked."""
    out, last = [], 0
    for start, end in secret_spans(line, values):
        out.append(line[last:start])
        out.append(mask_value(line[start:end]))
        last = end
    out.append(line[last:])
    return "".join(out)


def _mask_pem(match: re.Match[str]) -> str:
    """Mask each line of a private key's body; the BEGIN/END armour and line breaks stay."""
    body = "\n".join(mask_value(part) if part.strip() else part
                     for part in match.group(2).split("\n"))
    return f"{match.group(1)}{body}{match.group(3)}"


def _widen(line: str, start: int, end: int) -> tuple[int, int]:
    while start > 0 and _TOKEN_CHARS.match(line[start - 1]):
        start -= 1
    while end < len(line) and _TOKEN_CHARS.match(line[end]):
        end += 1
    return start, end


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _entropy(text: str) -> float:
    counts = Counter(text)
    return -sum(n / len(text) * math.log2(n / len(text)) for n in counts.values())


def _plugin_values(line: str) -> list[str]:
    """Secret values detect-secrets' offline line plugins see in `line` (heuristics applied)."""
    from detect_secrets.filters import heuristic

    if heuristic.is_indirect_reference(line):
        return []
    values = []
    for plugin in _plugins():
        for found in plugin.analyze_line(filename="masked.yaml", line=line, line_number=1):
            value = found.secret_value
            if (not value or found.type in _UNMASKED_TYPES
                    or _is_false_positive(heuristic, value, line, plugin)):
                continue
            values.append(value)
    return values


def _is_false_positive(heuristic: Any, value: str, line: str, plugin: Any) -> bool:
    return bool(
        heuristic.is_sequential_string(value) or heuristic.is_potential_uuid(value)
        or heuristic.is_templated_secret(value) or heuristic.is_prefixed_with_dollar_sign(value)
        or heuristic.is_likely_id_string(value, line, plugin)
        or heuristic.is_not_alphanumeric_string(value)
    )


@lru_cache(maxsize=1)
def _plugins() -> tuple[Any, ...]:
    """detect-secrets' default plugins, built once on first use (never at import time)."""
    from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class

    classes: list[Any] = list(get_mapping_from_secret_type_to_class().values())
    return tuple(cls() for cls in classes if cls.__name__ not in _SKIPPED_PLUGINS)
