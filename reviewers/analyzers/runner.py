"""Runs the enabled analyzers, each in its own throwaway work directory, and merges results."""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from reviewers.analyzers.bandit import BanditAnalyzer
from reviewers.analyzers.base import Analyzer, AnalyzerResult
from reviewers.analyzers.ruff import RuffAnalyzer
from reviewers.analyzers.secrets import SecretsAnalyzer
from reviewers.analyzers.semgrep import SemgrepAnalyzer
from reviewers.diff import ReviewDiff
from reviewers.repoconfig import RepoConfig
from reviewers.secrets_mask import mask_secrets
from reviewers.source import SourceTree

log = logging.getLogger(__name__)


def default_analyzers(timeout: float = 60.0) -> list[Analyzer]:
    """ruff, bandit, secrets and semgrep (semgrep only acts when the program is installed)."""
    return [RuffAnalyzer(timeout=timeout), BanditAnalyzer(timeout=timeout), SecretsAnalyzer(),
            SemgrepAnalyzer(timeout=2 * timeout)]


def run_analyzers(analyzers: Sequence[Analyzer], tree: SourceTree, diff: ReviewDiff,
                  config: RepoConfig, *, scratch: Path | None = None) -> AnalyzerResult:
    """Every analyzer the repository config enables, in order; one result for all.

    An analyzer that raises despite its contract is reported as an error, never re-raised;
    notes and errors are passed through `mask_secrets` (tools echo file content).
    """
    merged = AnalyzerResult()
    for analyzer in analyzers:
        if not config.reviewer_enabled(analyzer.name):
            continue
        started = time.monotonic()
        with tempfile.TemporaryDirectory(prefix=f"reviewbot-{analyzer.name}-",
                                         dir=scratch) as tmp:
            try:
                result = analyzer.run(tree, diff, config, Path(tmp))
            except Exception as exc:  # noqa: BLE001 - the edge around pluggable analyzers
                # no traceback in the log: exception text can quote file content (secrets)
                error = f"{analyzer.name} crashed: {type(exc).__name__}: {exc}"
                log.error("analyzer crashed", extra={"analyzer": analyzer.name,
                                                     "error": mask_secrets(error)})
                result = AnalyzerResult(errors=[error])
        merged.findings += result.findings
        merged.notes += [mask_secrets(note) for note in result.notes]
        merged.errors += [mask_secrets(error) for error in result.errors]
        merged.timings[analyzer.name] = round(time.monotonic() - started, 3)
    return merged
