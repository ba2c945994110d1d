"""The diff model: files, hunks and lines of `base...head`, with line numbers on both sides.

`load_diff` (in `reviewers.gitdiff`) fills it from a real git repository through unidiff;
everything downstream (context, budget, grounding, posting) reads only these types.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class LineKind(StrEnum):
    ADDED = "+"
    REMOVED = "-"
    CONTEXT = " "


class FileStatus(StrEnum):
    ADDED = "added"
    MODIFIED = "modified"
    DELETED = "deleted"
    RENAMED = "renamed"
    COPIED = "copied"


@dataclass(frozen=True, slots=True)
class HunkLine:
    kind: LineKind
    text: str  # without the trailing newline
    old_lineno: int | None  # None for added lines
    new_lineno: int | None  # None for removed lines


@dataclass(slots=True)
class Hunk:
    old_start: int
    old_length: int
    new_start: int
    new_length: int
    header: str  # the section heading after the second @@, may be empty
    lines: list[HunkLine] = field(default_factory=list)

    @property
    def new_end(self) -> int:
        return self.new_start + max(self.new_length, 1) - 1

    def commentable_lines(self) -> set[int]:
        """Head-side line numbers of added and context lines."""
        return {ln.new_lineno for ln in self.lines if ln.new_lineno is not None}

    def added_lines(self) -> set[int]:
        return {ln.new_lineno for ln in self.lines
                if ln.kind is LineKind.ADDED and ln.new_lineno is not None}


@dataclass(slots=True)
class FileDiff:
    path: str  # head path (the old path for a deleted file)
    old_path: str | None  # base path; None for an added file
    status: FileStatus
    hunks: list[Hunk] = field(default_factory=list)
    is_binary: bool = False
    is_submodule: bool = False
    old_mode: str | None = None
    new_mode: str | None = None
    language: str | None = None  # "python", "javascript", ... from the file name
    notes: list[str] = field(default_factory=list)  # "binary file", "no final newline", ...

    @property
    def mode_only(self) -> bool:
        return (not self.hunks and self.old_mode is not None and self.new_mode is not None
                and self.old_mode != self.new_mode and not self.is_binary)

    def commentable_lines(self) -> set[int]:
        lines: set[int] = set()
        for hunk in self.hunks:
            lines |= hunk.commentable_lines()
        return lines

    def added_lines(self) -> set[int]:
        lines: set[int] = set()
        for hunk in self.hunks:
            lines |= hunk.added_lines()
        return lines

    def hunk_for(self, line: int) -> Hunk | None:
        for hunk in self.hunks:
            if line in hunk.commentable_lines():
                return hunk
        return None

    @property
    def reviewable(self) -> bool:
        """Text changes with head-side lines: what reviewers and analyzers look at."""
        return (self.status is not FileStatus.DELETED and not self.is_binary
                and not self.is_submodule and bool(self.hunks))


@dataclass(slots=True)
class ReviewDiff:
    base_sha: str
    head_sha: str
    files: list[FileDiff] = field(default_factory=list)
    patch_text: str = ""  # the unified diff as git produced it (decoded, lossless)
    notes: list[str] = field(default_factory=list)

    def file(self, path: str) -> FileDiff | None:
        for f in self.files:
            if f.path == path:
                return f
        return None

    @property
    def changed_line_count(self) -> int:
        return sum(1 for f in self.files for h in f.hunks for ln in h.lines
                   if ln.kind is not LineKind.CONTEXT)
