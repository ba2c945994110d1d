"""Pack a diff and its context into prompts that fit the model's window, splitting when needed.

The whole diff goes in first; context fills what is left of `max_model_len` minus the
answer budget and the fixed prompt overhead, best first. A diff too large for one prompt
is split into file groups (a directory's files stay together; a file's hunks are only
split when the file alone is too big; a hunk bigger than a whole prompt is truncated).
Every context item left out and every split or cut is recorded in the plan's notes.
Rendering is deterministic, so calls sharing a diff share a byte-identical prefix.
"""

from __future__ import annotations

import posixpath
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from reviewers.context.model import ContextItem, ContextPack
from reviewers.diff import FileDiff, FileStatus, Hunk, LineKind, ReviewDiff
from reviewers.errors import ConfigError
from reviewers.tokens import TokenCounter

# When the diff must be split, each part's diff may take this share of the budget,
# leaving the rest for the context of its files.
SPLIT_FILL = 0.75
_JOIN_SLACK = 2  # tokens allowed per joined piece: BPE merges across the seams differ


@dataclass(frozen=True, slots=True)
class OmittedContext:
    item: ContextItem
    reason: str


@dataclass(slots=True)
class PromptGroup:
    """One engine call: some files of the diff (whole, or some hunks) and their context."""

    index: int  # 1-based
    files: list[FileDiff]
    diff_text: str
    context: list[ContextItem]
    context_text: str
    diff_tokens: int
    context_tokens: int
    notes: list[str] = field(default_factory=list)

    @property
    def paths(self) -> list[str]:
        return [f.path for f in self.files]


@dataclass(slots=True)
class PromptPlan:
    groups: list[PromptGroup]
    budget_tokens: int  # max_model_len - answer_tokens - fixed_overhead_tokens
    omitted_context: list[OmittedContext] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def split(self) -> bool:
        return len(self.groups) > 1

    @property
    def omitted_context_count(self) -> int:
        return len(self.omitted_context)


def render_file(file: FileDiff) -> str:
    """One file of the diff; added and context lines carry their head line number."""
    label = file.status.value
    if file.status is FileStatus.RENAMED or file.status is FileStatus.COPIED:
        label += f" from {file.old_path}"
    extra: list[str] = list(file.notes)
    if file.status is FileStatus.DELETED and file.hunks:
        removed = sum(len(h.lines) for h in file.hunks)
        extra.append(f"{removed} line(s) removed, content not shown")
    elif file.is_binary:
        extra.append("binary, content not shown")
    if file.old_mode != file.new_mode and file.old_mode and file.new_mode:
        extra.append(f"mode {file.old_mode} -> {file.new_mode}")
    header = f"## File: {file.path} ({'; '.join([label, *extra])})"
    if file.status is FileStatus.DELETED or file.is_binary:
        return header
    numbers = [ln.new_lineno for h in file.hunks for ln in h.lines if ln.new_lineno]
    width = len(str(max(numbers, default=0)))
    blank = " " * width
    out = [header]
    for hunk in file.hunks:
        out.append(f"@@ -{hunk.old_start},{hunk.old_length} +{hunk.new_start},{hunk.new_length} @@"
                   + (f" {hunk.header}" if hunk.header else ""))
        for ln in hunk.lines:
            number = blank if ln.new_lineno is None else f"{ln.new_lineno:>{width}}"
            out.append(f"{number} {ln.kind.value}{ln.text}")
    return "\n".join(out)


def render_diff(files: Sequence[FileDiff]) -> str:
    """The files of one prompt, in the given order, separated by blank lines."""
    return "\n\n".join(render_file(f) for f in files)


def render_item(item: ContextItem) -> str:
    where = (f"{item.path}" if item.kind == "convention"
             else f"{item.path} lines {item.start_line}-{item.end_line}")
    symbol = f" `{item.symbol}`" if item.symbol else ""
    header = f"## Context ({item.kind}){symbol}: {where} - {item.reason}"
    if item.kind == "convention":
        body = item.text
    else:
        width = len(str(item.end_line))
        body = "\n".join(f"{item.start_line + i:>{width}} {line}"
                         for i, line in enumerate(item.text.split("\n")))
    tail = "\n[... truncated]" if item.truncated else ""
    return f"{header}\n{body}{tail}"


def render_context(items: Sequence[ContextItem]) -> str:
    """Context items in the given order (callers pass them best first)."""
    return "\n\n".join(render_item(i) for i in items)


async def plan_prompts(diff: ReviewDiff, context: ContextPack, counter: TokenCounter, *,
                       max_model_len: int, answer_tokens: int,
                       fixed_overhead_tokens: int) -> PromptPlan:
    """Decide which files and context items go into which prompt."""
    budget = max_model_len - answer_tokens - fixed_overhead_tokens
    if budget <= 0:
        raise ConfigError(
            f"max_model_len {max_model_len} leaves no room for a prompt after the answer "
            f"budget ({answer_tokens}) and the fixed overhead ({fixed_overhead_tokens})")
    plan = PromptPlan(groups=[], budget_tokens=budget)
    files = list(diff.files)
    rendered = {id(f): render_file(f) for f in files}
    counts = await counter.count_many(list(rendered.values()))
    sizes = {id(f): c + _JOIN_SLACK for f, c in zip(files, counts, strict=True)}
    if sum(sizes.values()) <= budget:
        parts = [files] if files else []
    else:
        parts = await _split(files, sizes, counter, budget, plan)
        plan.notes.append(
            f"diff split into {len(parts)} parts: {sum(counts)} diff tokens do not fit the "
            f"{budget}-token prompt budget")
    await _fill(plan, parts, context, counter, budget, rendered)
    return plan


async def _split(files: list[FileDiff], sizes: dict[int, int], counter: TokenCounter,
                 budget: int, plan: PromptPlan) -> list[list[FileDiff]]:
    target = max(int(budget * SPLIT_FILL), 1)
    ordered = sorted(files, key=lambda f: (posixpath.dirname(f.path), f.path))
    by_dir: dict[str, list[FileDiff]] = {}
    for f in ordered:
        by_dir.setdefault(posixpath.dirname(f.path), []).append(f)
    parts: list[list[FileDiff]] = []
    current: list[FileDiff] = []
    used = 0
    for members in by_dir.values():
        size = sum(sizes[id(f)] for f in members)
        if current and used + size > target and size <= target:
            parts.append(current)  # the directory fits a part of its own: start one
            current, used = [], 0
        for f in members:
            if sizes[id(f)] > target:  # a file alone is too big: split it by hunks
                if current:
                    parts.append(current)
                    current, used = [], 0
                parts.extend(await _split_file(f, counter, budget, target, plan))
                continue
            if used + sizes[id(f)] > target:
                parts.append(current)
                current, used = [], 0
            current.append(f)
            used += sizes[id(f)]
    if current:
        parts.append(current)
    return parts


async def _split_file(file: FileDiff, counter: TokenCounter, budget: int, target: int,
                      plan: PromptPlan) -> list[list[FileDiff]]:
    hunks = list(file.hunks)
    counts = await counter.count_many([render_file(replace(file, hunks=[h])) for h in hunks])
    pieces: list[list[Hunk]] = []
    current: list[Hunk] = []
    used = 0
    for hunk, count in zip(hunks, counts, strict=True):
        if count > budget:
            hunk = await _truncate(file, hunk, counter, target)
            plan.notes.append(
                f"{file.path}: hunk at head line {hunk.new_start} alone exceeds the prompt "
                f"budget; only its first {len(hunk.lines)} lines are reviewed")
            count = target
        if current and used + count > target:
            pieces.append(current)
            current, used = [], 0
        current.append(hunk)
        used += count
    if current:
        pieces.append(current)
    if len(pieces) > 1:
        plan.notes.append(f"{file.path}: too large for one prompt, its hunks are split "
                          f"over {len(pieces)} parts")
    return [[replace(file, hunks=piece,
                     notes=[*file.notes, f"part {i} of {len(pieces)} of this file's hunks"]
                     if len(pieces) > 1 else list(file.notes))]
            for i, piece in enumerate(pieces, 1)]


async def _truncate(file: FileDiff, hunk: Hunk, counter: TokenCounter, limit: int) -> Hunk:
    """The longest prefix of `hunk` whose rendering fits `limit` tokens (at least one line)."""
    keep = len(hunk.lines)
    while keep > 1:
        cut = replace(hunk, lines=hunk.lines[:keep])
        size = await counter.count(render_file(replace(file, hunks=[cut])))
        if size <= limit:
            break
        keep = max(1, min(keep - 1, int(keep * limit / size * 0.95)))
    lines = hunk.lines[:keep]
    new_len = sum(1 for ln in lines if ln.kind is not LineKind.REMOVED)
    old_len = sum(1 for ln in lines if ln.kind is not LineKind.ADDED)
    return replace(hunk, lines=lines, new_length=new_len, old_length=old_len,
                   header=(hunk.header + " [truncated]").strip())


async def _fill(plan: PromptPlan, parts: list[list[FileDiff]], context: ContextPack,
                counter: TokenCounter, budget: int, rendered: dict[int, str]) -> None:
    """Give each part its diff, then the best context items for its files that still fit."""
    items = context.items
    item_tokens = await counter.count_many([render_item(i) for i in items])
    # same text as render_diff(part); whole files reuse their rendering from the first pass
    diff_texts = ["\n\n".join(rendered.get(id(f)) or render_file(f) for f in part)
                  for part in parts]
    diff_tokens = await counter.count_many(diff_texts)
    placed: set[int] = set()
    skipped: dict[int, str] = {}
    for index, (part, text, used) in enumerate(zip(parts, diff_texts, diff_tokens, strict=True)):
        paths = [f.path for f in part]
        chosen: list[ContextItem] = []
        room = budget - used
        for pos, item in enumerate(items):
            if not item.serves(paths):
                continue
            cost = item_tokens[pos] + _JOIN_SLACK
            if cost <= room:
                chosen.append(item)
                placed.add(pos)
                room -= cost
            else:
                skipped.setdefault(pos, f"did not fit: needs {cost} tokens, "
                                        f"{room} left in part {index + 1}")
        if used > budget:
            plan.notes.append(f"part {index + 1}: its diff alone needs {used} tokens, "
                              f"over the {budget}-token budget")
        context_text = render_context(chosen)
        plan.groups.append(PromptGroup(
            index=index + 1, files=part, diff_text=text, context=chosen,
            context_text=context_text, diff_tokens=used,
            context_tokens=budget - used - room))
    for pos, item in enumerate(items):
        if pos not in placed:
            reason = skipped.get(pos, "relevant to no file of the diff")
            plan.omitted_context.append(OmittedContext(item, reason))
    if plan.omitted_context:
        plan.notes.append(f"{len(plan.omitted_context)} of {len(items)} context items left "
                          "out (omitted_context says why for each)")
