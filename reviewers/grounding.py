"""Ground findings on the diff: keep, move or drop each one, fingerprint it, merge duplicates.

Every kept finding points at head lines of one hunk (added or context lines). A finding whose
quoted code (`finding.extra["quote"]`) is in a hunk of its file but not at the claimed lines
moves to the match closest to the claimed line; a finding off every hunk without such a quote
is dropped with a reason. The fingerprint hashes the rule (or category), the path and the
flagged head lines, never the line number; a fingerprint the source already set (analyzers
fingerprint masked code) is kept while the finding stays where it was reported.
"""

from __future__ import annotations

import difflib
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from reviewers.diff import FileDiff, Hunk, ReviewDiff
from reviewers.findings import Finding, normalise_code

MIN_SUBSTRING_QUOTE = 8  # shorter quotes ("}", "x = 1") must equal a whole line
SIMILAR_MESSAGE_RATIO = 0.6
LLM_SOURCE = "llm"


class DropReason(StrEnum):
    FILE_NOT_IN_DIFF = "file is not in the diff"
    FILE_NOT_REVIEWABLE = "file has no reviewable lines (deleted, binary or submodule)"
    LINE_NOT_IN_HUNK = "line is outside every hunk and no quoted code locates it"
    QUOTE_NOT_FOUND = "line is outside every hunk and its quoted code is not in the diff"


@dataclass(slots=True)
class GroundingResult:
    kept: list[Finding] = field(default_factory=list)
    dropped: list[tuple[Finding, str]] = field(default_factory=list)
    moved: int = 0  # findings re-anchored on their quoted code
    merged: int = 0  # findings folded into another one

    def dropped_by_reason(self) -> dict[str, int]:
        return dict(Counter(reason for _, reason in self.dropped))


@dataclass(slots=True)
class _FileIndex:
    """Head lines of one file's hunks: text by line number, and non-blank runs per hunk."""

    hunk_of: dict[int, Hunk]
    text_of: dict[int, str]
    runs: list[list[tuple[int, str]]]  # per hunk: (line, normalised text), blank lines left out

    @classmethod
    def build(cls, file_diff: FileDiff) -> _FileIndex:
        hunk_of: dict[int, Hunk] = {}
        text_of: dict[int, str] = {}
        runs: list[list[tuple[int, str]]] = []
        for hunk in file_diff.hunks:
            run: list[tuple[int, str]] = []
            for line in hunk.lines:
                if line.new_lineno is None:
                    continue
                hunk_of[line.new_lineno] = hunk
                text_of[line.new_lineno] = line.text
                normalised = normalise_code(line.text)
                if normalised:
                    run.append((line.new_lineno, normalised))
            runs.append(run)
        return cls(hunk_of, text_of, runs)

    def find_quote(self, quote: str) -> list[tuple[bool, int, int]]:
        """(exact, first line, last line) of every run of head lines holding the quote."""
        wanted = [norm for norm in map(normalise_code, quote.splitlines()) if norm]
        if not wanted:
            return []
        joined = " ".join(wanted)
        substring_ok = len(joined) >= MIN_SUBSTRING_QUOTE
        size = len(wanted)
        matches: list[tuple[bool, int, int]] = []
        if size == 1:
            for run in self.runs:
                matches += [(norm == joined, number, number) for number, norm in run
                            if norm == joined or (substring_ok and joined in norm)]
            return matches
        for run in self.runs:
            for start in range(len(run) - size + 1):
                window = run[start:start + size]
                text = " ".join(norm for _, norm in window)
                exact = text == joined
                if exact or (substring_ok and joined in text):
                    matches.append((exact, window[0][0], window[-1][0]))
        return matches


def ground(findings: Iterable[Finding], diff: ReviewDiff) -> GroundingResult:
    """Keep findings on head lines of hunks (moving ones whose quote locates them), drop
    the rest with a reason, fingerprint the kept ones and merge duplicates."""
    result = GroundingResult()
    indexes: dict[str, _FileIndex] = {}
    grounded: list[Finding] = []
    for finding in findings:
        file_diff = diff.file(finding.path)
        if file_diff is None:
            result.dropped.append((finding, DropReason.FILE_NOT_IN_DIFF))
            continue
        if not file_diff.reviewable:
            result.dropped.append((finding, DropReason.FILE_NOT_REVIEWABLE))
            continue
        index = indexes.get(finding.path)
        if index is None:
            index = indexes[finding.path] = _FileIndex.build(file_diff)
        placed = _place(finding, index)
        if isinstance(placed, DropReason):
            result.dropped.append((finding, placed))
            continue
        if placed.line != finding.line:
            result.moved += 1
        grounded.append(placed)
    result.kept = _merge_duplicates(grounded, result)
    return result


def _place(finding: Finding, index: _FileIndex) -> Finding | DropReason:
    quote = finding.extra.get("quote")
    has_quote = isinstance(quote, str) and bool(quote.strip())
    matches = index.find_quote(quote) if isinstance(quote, str) and has_quote else []
    line, end_line = finding.line, max(finding.end_line, finding.line)
    extra: dict[str, Any] = dict(finding.extra)
    in_hunk = line in index.hunk_of
    if matches and not (in_hunk and any(first <= end_line and last >= line
                                        for _, first, last in matches)):
        _, first, last = min(matches, key=lambda m: (not m[0], abs(m[1] - line), m[1]))
        extra["grounding"] = f"moved from line {line} to its quoted code"
        extra["claimed_line"] = line
        line, end_line = first, max(last, first + (end_line - finding.line))
    elif not in_hunk:
        return DropReason.QUOTE_NOT_FOUND if has_quote else DropReason.LINE_NOT_IN_HUNK
    elif has_quote and not matches:
        extra["quote_found"] = False  # kept on its line; a masked or paraphrased quote
    end_line = min(end_line, index.hunk_of[line].new_end)  # GitHub: start and end in one hunk
    placed = replace(finding, line=line, end_line=end_line, extra=extra)
    if finding.fingerprint and (line, end_line) == (finding.line, finding.end_line):
        return placed  # the analyzer's own fingerprint (e.g. over masked secrets) stands
    flagged = "\n".join(index.text_of[number] for number in range(line, end_line + 1))
    return placed.with_fingerprint(flagged)


def _sources(finding: Finding) -> list[str]:
    listed = finding.extra.get("sources")
    if isinstance(listed, list) and listed:
        return [str(source) for source in listed]
    return [part for part in finding.source.split("+") if part]


# CWEs that name the same weakness at two levels of detail; tools pick either (bandit says
# CWE-259 where the secrets detector says CWE-798, a model may say CWE-77 for CWE-78).
# Each maps to the member findings are compared by, so both reports become one finding.
CWE_FAMILIES = {
    "77": "78",  # command injection / OS command injection
    "94": "95",  # code injection / eval injection
    "259": "798", "321": "798",  # hard-coded password / cryptographic key -> credentials
    "328": "327",  # weak hash / broken cryptographic algorithm
    "338": "330",  # weak PRNG for cryptography / insufficiently random values
    "23": "22", "36": "22", "73": "22",  # relative/absolute path traversal, external path
    "80": "79",  # basic XSS / XSS
    "297": "295",  # host mismatch / improper certificate validation
}


def _cwe_number(cwe: str) -> str:
    digits = re.sub(r"\D", "", cwe).lstrip("0")
    if not digits:
        return cwe.strip().lower()
    return CWE_FAMILIES.get(digits, digits)


def _similar(a: str, b: str) -> bool:
    matcher = difflib.SequenceMatcher(None, a.lower(), b.lower())
    return matcher.quick_ratio() >= SIMILAR_MESSAGE_RATIO and (
        matcher.ratio() >= SIMILAR_MESSAGE_RATIO)


def same_problem(a: Finding, b: Finding) -> bool:
    """Same path, overlapping lines, and the same CWE (when both have one) or the same
    category with the same rule or a similar message."""
    if a.path != b.path or a.line > b.end_line or b.line > a.end_line:
        return False
    if a.cwe and b.cwe:
        return _cwe_number(a.cwe) == _cwe_number(b.cwe)
    return a.category == b.category and (a.rule == b.rule or _similar(a.message, b.message))


def _merge_duplicates(findings: list[Finding], result: GroundingResult) -> list[Finding]:
    parent = list(range(len(findings)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    by_path: dict[str, list[int]] = {}
    for i, finding in enumerate(findings):
        by_path.setdefault(finding.path, []).append(i)
    for members in by_path.values():
        for pos, i in enumerate(members):
            for j in members[pos + 1:]:
                if same_problem(findings[i], findings[j]):
                    parent[root(j)] = root(i)
    groups: dict[int, list[Finding]] = {}
    for i, finding in enumerate(findings):
        groups.setdefault(root(i), []).append(finding)
    merged = [merge_findings(group) for group in groups.values()]
    result.merged = len(findings) - len(merged)
    return sorted(merged, key=lambda f: (f.path, f.line, f.end_line, -f.severity.rank, f.rule))


def merge_findings(group: list[Finding]) -> Finding:
    """One finding for several reports of the same problem.

    Identity (line, rule, category, fingerprint) comes from a static analyzer when one took
    part, since it reports the same way on every push; severity and confidence are the
    highest; the suggestion and the lead message prefer the model's.
    """
    sources = sorted({source for finding in group for source in _sources(finding)})
    if len(group) == 1:
        return replace(group[0], extra={**group[0].extra, "sources": sources})

    def is_llm(finding: Finding) -> bool:
        return LLM_SOURCE in _sources(finding)

    anchor = min(group, key=lambda f: (is_llm(f), -f.severity.rank, -f.confidence, f.line, f.rule))
    voices = sorted(group, key=lambda f: (not is_llm(f), -f.severity.rank, -f.confidence))
    parts: list[str] = []
    seen: set[str] = set()
    for finding in voices:
        key = normalise_code(finding.message).lower()
        if key in seen:
            continue
        seen.add(key)
        label = "+".join(_sources(finding)) + (f" {finding.rule}" if finding.rule else "")
        parts.append(finding.message if not parts else f"Also reported by {label}: "
                     f"{finding.message}")
    suggestion = next((f.suggestion for f in voices if f.suggestion), None)
    extra = {**anchor.extra, "sources": sources,
             "merged": [{"source": f.source, "rule": f.rule, "line": f.line,
                         "end_line": f.end_line, "message": f.message} for f in group]}
    return replace(
        anchor,
        severity=max((f.severity for f in group), key=lambda s: s.rank),
        confidence=max(f.confidence for f in group),
        source="+".join(sources),
        cwe=anchor.cwe or next((f.cwe for f in group if f.cwe), None),
        message="\n\n".join(parts),
        suggestion=suggestion,
        extra=extra,
    )
