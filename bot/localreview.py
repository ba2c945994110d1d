"""`reviewbot review`: run the review pipeline on a local checkout, print, record, exit.

The pre-merge CI mode: no queue, no forge; history goes to REVIEWBOT_DATABASE_URL
(an SQLite file by default).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from pathlib import Path

from bot.enginefactory import engine_config, open_pool
from bot.errors import HistoryError
from bot.formats import EngineInfo, ReportInput, render
from bot.history.recording import record_outcome
from bot.settings import Settings, get_settings
from bot.testgenfactory import testgen_setup
from reviewers.engine import EnginePool
from reviewers.findings import Severity
from reviewers.gitrepo import LocalRepository, open_repository
from reviewers.pipeline import Progress, ReviewOutcome, ReviewRequest, review
from reviewers.policy import blocking
from reviewers.repoconfig import CONFIG_FILE, RepoConfig, repo_config_or_defaults
from reviewers.testgen import TestGenSetup
from reviewers.tokens import EstimatingCounter, TokenCounter

log = logging.getLogger(__name__)


def run_local_review(args: argparse.Namespace) -> int:
    settings = get_settings()
    interactive = sys.stderr.isatty() and not os.environ.get("CI")

    def progress(label: str) -> None:
        if interactive:
            print(f"reviewbot: {label}…", file=sys.stderr, flush=True)

    with open_repository(args.repo) as repo:
        head = repo.resolve(args.head)
        base = _base(repo, args.base, head)
        config, config_note = _repo_config(repo, base)
        if config_note:
            print(f"reviewbot: {config_note}", file=sys.stderr)
        fail_on: Severity | str = args.fail_on or config.fail_on
        urls = _engine_urls(args.engine)
        testgen = None if args.no_tests else testgen_setup(settings)
        outcome, engine_info = asyncio.run(
            _review(repo, settings, urls, config, base, head, progress, testgen))
    if config_note:
        outcome.notes.insert(0, config_note)
    if not args.no_history:
        _record(settings, repo.root, outcome, base, head)
    report = ReportInput(
        repository=str(repo.root), base_sha=outcome.diff.base_sha or base, head_sha=head,
        findings=outcome.findings, notes=_notes(outcome), stats=_stats(outcome),
        fail_on=Severity(fail_on) if fail_on != "never" else "never", engine=engine_info,
        repository_uri=Path(repo.root).as_uri(), tests=outcome.tests)
    text = render(report, args.output_format, color=interactive and args.output is None
                  and sys.stdout.isatty())
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        progress(f"report written to {args.output}")
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    return 1 if blocking(outcome.findings, fail_on) else 0


def _base(repo: LocalRepository, base: str | None, head: str) -> str:
    if base:
        return repo.resolve(base)
    return repo.merge_base(repo.default_branch(), head)


def _repo_config(repo: LocalRepository, base: str) -> tuple[RepoConfig, str | None]:
    """`.reviewbot.yml` as the base revision has it (the change under review cannot
    loosen its own review); a broken file falls back to defaults with a note."""
    with repo.tree(base) as tree:
        raw = tree.read_bytes(CONFIG_FILE)
    return repo_config_or_defaults(raw)


def _engine_urls(option: str | None) -> list[str] | None:
    if option is None:
        return None
    if option.strip().lower() == "none":
        return []
    return [u.strip() for u in option.split(",") if u.strip()]


async def _review(repo: LocalRepository, settings: Settings, urls: list[str] | None,
                  config: RepoConfig, base: str, head: str, progress: Progress,
                  testgen: TestGenSetup | None = None) -> tuple[ReviewOutcome, EngineInfo]:
    cfg = engine_config(settings, urls)
    pool: EnginePool | None = None
    counter: TokenCounter = EstimatingCounter()
    max_model_len = settings.max_model_len
    name = repo.root.name
    if cfg is not None:
        pool, max_model_len = await open_pool(cfg, settings.max_model_len)
        counter = pool.token_counter(affinity_key=name)
    try:
        request = ReviewRequest(
            repository=name, base=base, head=head, config=config,
            max_model_len=max_model_len,
            answer_tokens=min(settings.answer_tokens, max_model_len // 4))
        outcome = await review(repo, request, engine=pool, counter=counter,
                               progress=progress, testgen=testgen)
    finally:
        if pool is not None:
            await pool.aclose()
    info = EngineInfo(endpoint=",".join(cfg.urls) if cfg else None,
                      model=cfg.model if cfg else None)
    return outcome, info


def _notes(outcome: ReviewOutcome) -> list[str]:
    notes = list(outcome.notes)
    for f in outcome.diff.files:
        notes += [f"{f.path}: {note}" for note in f.notes]
    if outcome.suppressed:
        notes.append(f"{len(outcome.suppressed)} finding(s) not reported by policy "
                     "(min_severity, rule overrides, ignored paths or triaged false positives)")
    return notes


def _stats(outcome: ReviewOutcome) -> dict[str, object]:
    calls = outcome.calls
    return {
        "files": len(outcome.diff.files),
        "changed_lines": outcome.diff.changed_line_count,
        "dropped_findings": len(outcome.dropped),
        "suppressed_findings": len(outcome.suppressed),
        "engine_calls": len(calls),
        "prompt_tokens": sum(c.prompt_tokens or 0 for c in calls),
        "cached_tokens": sum(c.cached_tokens or 0 for c in calls),
        "completion_tokens": sum(c.completion_tokens or 0 for c in calls),
        "prompt_parts": len(outcome.plan.groups) if outcome.plan else 0,
        "durations": outcome.timings,
    }


def _record(settings: Settings, root: Path, outcome: ReviewOutcome, base: str,
            head: str) -> None:
    try:
        record_outcome(settings.database_url, str(root), outcome, base=base, head=head)
    except HistoryError as exc:
        print(f"reviewbot: warning: the run was not recorded in the history database: {exc}",
              file=sys.stderr)
