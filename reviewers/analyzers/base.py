"""The analyzer protocol and what every analyzer shares: file selection, changed-line spans."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Protocol

from reviewers.diff import FileDiff, ReviewDiff
from reviewers.errors import ReviewbotError
from reviewers.findings import Finding
from reviewers.repoconfig import RepoConfig, matches_glob
from reviewers.secrets_mask import mask_secrets
from reviewers.source import SourceTree

log = logging.getLogger(__name__)


class AnalyzerError(ReviewbotError):
    """An analyzer tool could not run or its output could not be read."""


@dataclass(slots=True)
class AnalyzerResult:
    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # said once in the summary ("skipped: ...")
    errors: list[str] = field(default_factory=list)  # the tool crashed, timed out, bad output
    timings: dict[str, float] = field(default_factory=dict)  # analyzer name -> seconds


class Analyzer(Protocol):
    """A static analyzer run on the head version of the changed files.

    `run` never raises: a crash or a timeout becomes an entry in `AnalyzerResult.errors`.
    Findings it returns touch at least one added line and carry ``extra["quote"]`` (the
    flagged head code, secrets masked) and a fingerprint.
    """

    @property
    def name(self) -> str: ...

    def run(self, tree: SourceTree, diff: ReviewDiff, config: RepoConfig,
            workdir: Path) -> AnalyzerResult: ...


PYTHON_SUFFIXES = (".py", ".pyi")


def guarded(name: str, work: Callable[[], AnalyzerResult]) -> AnalyzerResult:
    """`work()`, with the failures an analyzer expects (tool errors, timeouts, git and file
    errors) turned into one error entry instead of an exception."""
    try:
        return work()
    except (ReviewbotError, OSError, UnicodeError) as exc:
        log.warning("analyzer failed", extra={"analyzer": name, "error": str(exc)})
        return AnalyzerResult(errors=[mask_secrets(f"{name}: {exc}")])


def selected_files(diff: ReviewDiff, config: RepoConfig, *, security: bool,
                   suffixes: tuple[str, ...] | None = None) -> list[FileDiff]:
    """Reviewable changed files with added lines, inside include/exclude (and, for security
    analyzers, outside `security_ignore_paths`), optionally only those ending in `suffixes`."""
    chosen = []
    for file in diff.files:
        if not file.reviewable or not file.added_lines() or not config.wants(file.path):
            continue
        if security and any(matches_glob(file.path, pat) for pat in config.security_ignore_paths):
            continue
        if suffixes is not None and not file.path.endswith(suffixes):
            continue
        chosen.append(file)
    return chosen


def safe_relpath(path: str) -> PurePosixPath:
    """A repository path that cannot escape the work directory."""
    rel = PurePosixPath(path)
    if rel.is_absolute() or ".." in rel.parts or not rel.parts:
        raise AnalyzerError(f"refusing unsafe path {path!r}")
    return rel


def materialise(tree: SourceTree, paths: list[str], workdir: Path) -> dict[str, Path]:
    """Write the head content of `paths` under `workdir`; returns repo path -> written file.

    Paths missing at head are skipped (the caller's diff and tree disagree), and so are
    paths that cannot be written safely (`..` components, longer than the file system
    allows): one hostile file name must not switch the analyzer off for the whole change.
    """
    written: dict[str, Path] = {}
    for path in paths:
        content = tree.read_bytes(path)
        if content is None:
            continue
        try:
            target = workdir.joinpath(*safe_relpath(path).parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
        except (AnalyzerError, OSError) as exc:
            log.warning("file not materialised", extra={"path": path[:300],
                                                        "error": str(exc)[:300]})
            continue
        written[path] = target
    return written


def changed_span(file: FileDiff, start: int, end: int) -> tuple[int, int] | None:
    """Where to anchor a finding flagged on head lines `start..end`.

    None when the span touches no added line. Otherwise the span itself when both ends are
    commentable lines (added or context) of one hunk, else the added lines it covers.
    """
    end = max(start, end)
    added = sorted(n for n in file.added_lines() if start <= n <= end)
    if not added:
        return None
    hunk = file.hunk_for(start)
    if hunk is not None and end in hunk.commentable_lines():
        return start, end
    return added[0], added[-1]


def head_lines(tree: SourceTree, path: str) -> list[str]:
    text = tree.read_text(path)
    return text.splitlines() if text is not None else []


def quote(lines: list[str], start: int, end: int, secrets: Iterable[str] = ()) -> str:
    """Head code of lines `start..end` (1-based, inclusive), secrets masked: what findings
    keep as ``extra["quote"]`` and fingerprint."""
    return mask_secrets("\n".join(lines[max(start, 1) - 1:max(start, end)]), secrets)


def tool_note(name: str, reason: str) -> str:
    return f"{name} skipped: {reason}"
