"""`build_context`: enclosing code, referenced definitions, related tests, conventions of a diff."""

from __future__ import annotations

import logging
import posixpath
from collections import Counter

from reviewers.context.conventions import find_conventions
from reviewers.context.definitions import Definition, DefinitionFinder, referenced_chains
from reviewers.context.files import RepoFiles, language_for
from reviewers.context.model import ContextItem, ContextLimits, ContextPack
from reviewers.context.outline import Outline, Symbol
from reviewers.context.ranking import merge_and_cap, reference_boost, score
from reviewers.context.tests_finder import TestFinder
from reviewers.diff import FileDiff, FileStatus, LineKind, ReviewDiff
from reviewers.source import SourceTree

log = logging.getLogger(__name__)


def build_context(tree: SourceTree, diff: ReviewDiff, *,
                  limits: ContextLimits | None = None) -> ContextPack:
    """Context for every reviewable file of `diff`, read from `tree` (the head revision)."""
    limits = limits or ContextLimits()
    files = RepoFiles(tree)
    finder = DefinitionFinder(files)
    tests = TestFinder(files)
    items: list[ContextItem] = []
    languages: dict[str, list[str]] = {}
    pending: list[tuple[FileDiff, Outline, Counter[str], list[Definition]]] = []
    for file in diff.files:
        language = language_for(file.path)
        if not file.reviewable or language is None:
            continue
        languages.setdefault(language, []).append(file.path)
        outline = files.outline(file.path)
        if outline is None:
            continue
        items.extend(_enclosing(file, outline, files, limits))
        added = [ln.text for h in file.hunks for ln in h.lines if ln.kind is LineKind.ADDED]
        chains = referenced_chains(added)
        pending.append((file, outline, chains, finder.find(file.path, outline, chains)))
    near = {posixpath.dirname(f.path) for f, *_ in pending}
    for file, outline, chains, found in pending:
        unresolved = finder.unresolved(outline, chains)
        if unresolved:
            found = found + finder.find_indexed(file.path, outline.language, unresolved, near)
        items.extend(_definitions(file.path, found, files, limits))
        items.extend(_tests(file, outline, tests, files, limits))
    items.extend(_conventions(files, languages, limits))
    ranked = merge_and_cap(items, files, limits)
    notes = list(files.notes)
    if limits.max_items is not None and len(ranked) > limits.max_items:
        notes.append(f"{len(ranked) - limits.max_items} lowest-ranked context items dropped "
                     f"(more than the limit of {limits.max_items})")
        ranked = ranked[: limits.max_items]
    pack = ContextPack(items=ranked, notes=notes)
    log.debug("context.built", extra={"items": len(pack.items), "files": len(diff.files)})
    return pack


def _enclosing(file: FileDiff, outline: Outline, files: RepoFiles,
               limits: ContextLimits) -> list[ContextItem]:
    if file.status is FileStatus.ADDED:
        return []  # the diff already shows the whole file
    changed: set[int] = set()
    for hunk in file.hunks:
        added = hunk.added_lines()
        # a pure deletion is anchored at the head line that now follows it
        changed |= added or {max(hunk.new_start, 1)}
    shown = file.commentable_lines()
    items = []
    seen: set[Symbol] = set()
    for innermost, lines in outline.enclosing(sorted(changed)).items():
        symbol: Symbol | None = innermost
        # when the diff already shows all of it, the next definition out is the context
        while symbol is not None and all(n in shown for n in range(symbol.start_line,
                                                                    symbol.end_line + 1)):
            symbol = outline.parent(symbol)
        if symbol is None or symbol in seen:
            continue
        seen.add(symbol)
        start, end = symbol.start_line, symbol.end_line
        if end - start + 1 > limits.max_item_lines:  # keep a window around the change
            start = max(symbol.start_line, lines[0] - limits.max_item_lines // 4)
            end = min(symbol.end_line, start + limits.max_item_lines - 1)
        items.append(ContextItem(
            kind="enclosing", path=file.path, start_line=start, end_line=end,
            text=files.snippet(file.path, start, end),
            score=score("enclosing", reference_boost(len(lines)) / 2),
            reason=f"{symbol.kind} `{symbol.qualname}` encloses {len(lines)} changed line(s)",
            symbol=symbol.qualname, origins=(file.path,),
            truncated=(start, end) != (symbol.start_line, symbol.end_line)))
    return items


def _definitions(origin: str, found: list[Definition], files: RepoFiles,
                 limits: ContextLimits) -> list[ContextItem]:
    items = []
    for definition in found[: limits.max_definitions_per_file]:
        sym = definition.symbol
        how = "imported" if definition.via == "import" else "found in the symbol index"
        boost = reference_boost(definition.count) * (1.0 if definition.via == "import" else 0.8)
        items.append(ContextItem(
            kind="definition", path=definition.path, start_line=sym.start_line,
            end_line=sym.end_line, text=files.snippet(definition.path, sym.start_line,
                                                      sym.end_line),
            score=score("definition", boost),
            reason=(f"`{definition.name}` ({how}) is used {definition.count}x "
                    f"in the changed lines of {origin}"),
            symbol=sym.qualname, origins=(origin,)))
    return items


def _tests(file: FileDiff, outline: Outline, tests: TestFinder, files: RepoFiles,
           limits: ContextLimits) -> list[ContextItem]:
    names = {s.name for s in outline.enclosing(sorted(file.added_lines()))}
    items = []
    for related in tests.find(file.path, limit=limits.max_tests_per_file):
        text = files.text(related.path) or ""
        # parse the test file only when it names a changed definition
        test_outline = files.outline(related.path) if any(n in text for n in names) else None
        picked = []
        for sym in test_outline.symbols if test_outline else []:
            body = files.snippet(related.path, sym.start_line, sym.end_line)
            if sym.kind in ("function", "method") and any(n in body for n in names):
                picked.append(sym)
        base = 0.5 if related.by_name else 0.2
        if not picked:
            end = min(len(files.lines(related.path)), limits.max_item_lines)
            if end == 0:
                continue
            items.append(ContextItem(
                kind="test", path=related.path, start_line=1, end_line=end,
                text=files.snippet(related.path, 1, end), score=score("test", base),
                reason=f"test of {file.path} ({related.reason})", origins=(file.path,)))
            continue
        for sym in picked[:3]:
            items.append(ContextItem(
                kind="test", path=related.path, start_line=sym.start_line,
                end_line=sym.end_line,
                text=files.snippet(related.path, sym.start_line, sym.end_line),
                score=score("test", base + 0.25),
                reason=f"test of {file.path} ({related.reason}) using a changed definition",
                symbol=sym.qualname, origins=(file.path,)))
    return items


def _conventions(files: RepoFiles, languages: dict[str, list[str]],
                 limits: ContextLimits) -> list[ContextItem]:
    items = []
    for conv in find_conventions(files, set(languages), max_chars=limits.max_convention_chars):
        origins: tuple[str, ...] = ()
        if conv.languages is not None:
            origins = tuple(sorted(p for lang in conv.languages for p in languages.get(lang, [])))
        items.append(ContextItem(
            kind="convention", path=conv.path, start_line=conv.start_line,
            end_line=conv.end_line, text=conv.text, score=score("convention", conv.weight),
            reason="repository convention" + (" (truncated)" if conv.truncated else ""),
            origins=origins, truncated=conv.truncated))
    return items
