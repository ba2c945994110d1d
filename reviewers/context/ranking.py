"""Scores, overlap merging and size caps for context items.

Each kind owns a score band one unit wide, so the kind order is fixed
(enclosing > definition > test > convention) and boosts only reorder within a kind.
"""

from __future__ import annotations

from dataclasses import replace

from reviewers.context.files import RepoFiles
from reviewers.context.model import ContextItem, ContextKind, ContextLimits

_BAND: dict[str, float] = {"enclosing": 4.0, "definition": 3.0, "test": 2.0, "convention": 1.0}


def score(kind: ContextKind, boost: float) -> float:
    """The band floor of `kind` plus a boost squeezed into [0, 0.99]."""
    return round(_BAND[kind] + min(max(boost, 0.0), 0.99), 4)


def reference_boost(count: int) -> float:
    """More references, more relevance, with diminishing returns (1 -> 0.2, 10+ -> ~0.9)."""
    return min(count, 40) / (min(count, 40) + 4) * 0.99


def merge_and_cap(items: list[ContextItem], files: RepoFiles,
                  limits: ContextLimits) -> list[ContextItem]:
    """Merge overlapping regions of one file, cap each item, and sort best first."""
    by_path: dict[str, list[ContextItem]] = {}
    kept: list[ContextItem] = []
    for item in items:
        if item.kind == "convention":
            kept.append(item)
        else:
            by_path.setdefault(item.path, []).append(item)
    for group in by_path.values():
        group.sort(key=lambda i: (i.start_line, -i.end_line))
        current = group[0]
        for item in group[1:]:
            if item.start_line <= current.end_line:
                current = _merge(current, item, files)
            else:
                kept.append(current)
                current = item
        kept.append(current)
    capped = [_cap(item, limits) for item in kept]
    capped.sort(key=ContextItem.sort_key)
    return capped


def _merge(a: ContextItem, b: ContextItem, files: RepoFiles) -> ContextItem:
    best, other = (a, b) if a.sort_key() <= b.sort_key() else (b, a)
    start, end = min(a.start_line, b.start_line), max(a.end_line, b.end_line)
    origins = tuple(sorted(set(a.origins) | set(b.origins)))
    reasons = best.reason if other.reason in best.reason else f"{best.reason}; {other.reason}"
    # a region wanted for two reasons is a little more relevant than for one
    new_score = round(min(best.score + 0.05, _BAND[best.kind] + 0.99), 4)
    text = (files.snippet(a.path, start, end) if (start, end) != (best.start_line, best.end_line)
            else best.text)
    return replace(best, start_line=start, end_line=end, text=text, origins=origins,
                   reason=reasons, score=new_score, truncated=a.truncated or b.truncated)


def _cap(item: ContextItem, limits: ContextLimits) -> ContextItem:
    lines = item.text.split("\n")
    max_chars = limits.max_convention_chars if item.kind == "convention" else limits.max_item_chars
    kept: list[str] = []
    size = 0
    for line in lines[: limits.max_item_lines]:
        size += len(line) + 1
        if size > max_chars:
            break
        kept.append(line)
    if len(kept) == len(lines):
        return item
    end = item.start_line + len(kept) - 1 if item.kind != "convention" else len(kept)
    return replace(item, text="\n".join(kept), end_line=max(end, item.start_line),
                   truncated=True)
