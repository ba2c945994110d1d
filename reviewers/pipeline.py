"""The review pipeline: diff -> context -> budget -> analyzers + model -> grounding -> policy.

One plain async function over collaborators passed in (repository, engine, token
counter); the CLI and the service's job both call it. Nothing here posts or stores.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from reviewers.analyzers import Analyzer, AnalyzerResult, default_analyzers, run_analyzers
from reviewers.budget import PromptGroup, PromptPlan, plan_prompts
from reviewers.context import ContextPack, build_context
from reviewers.diff import ReviewDiff
from reviewers.engine import CallRecord, Priority
from reviewers.errors import ReviewbotError
from reviewers.findings import Finding
from reviewers.gitdiff import load_diff
from reviewers.gitrepo import GitTree, LocalRepository
from reviewers.grounding import ground
from reviewers.injection import (
    LeakGuard,
    injection_findings,
    pull_request_notes,
    scan_pull_request,
)
from reviewers.modelreview import ChatEngine, ModelReviewer, ModelReviewResult
from reviewers.policy import apply_policy
from reviewers.prompts import SYSTEM_PROMPT, SharedPrefix, build_prefix
from reviewers.repoconfig import RepoConfig
from reviewers.secrets_mask import mask_secrets
from reviewers.testgen import TestGenResult, TestGenSetup, generate_tests
from reviewers.tokens import TokenCounter

log = logging.getLogger(__name__)

Progress = Callable[[str], None]

NO_ENGINE_NOTE = ("model reviewers skipped: no engine configured; set REVIEWBOT_ENGINE_URLS "
                  "(or pass --engine URL) to a vLLM server's base URL to add them")
# Tokens of the prompt scaffolding outside the diff and context (system prompt, headings,
# PR text, task instruction); checked against the real template by the budget tests.
PROMPT_OVERHEAD_TOKENS = 1500


@dataclass(frozen=True, slots=True)
class ReviewRequest:
    """What to review and how; shas are already resolved."""

    repository: str  # "owner/name" or a path; the engine's affinity key
    base: str
    head: str
    config: RepoConfig = field(default_factory=RepoConfig)
    title: str = ""
    description: str = ""
    priority: Priority = Priority.REVIEW
    max_model_len: int = 131072
    answer_tokens: int = 4096


@dataclass(slots=True)
class ReviewOutcome:
    diff: ReviewDiff
    findings: list[Finding] = field(default_factory=list)  # reported, sorted
    suppressed: list[tuple[Finding, str]] = field(default_factory=list)
    dropped: list[tuple[Finding, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    summary: str = ""
    calls: list[CallRecord] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    plan: PromptPlan | None = None
    prefixes: list[SharedPrefix] = field(default_factory=list)
    model_ran: bool = False
    tests: TestGenResult | None = None  # None: test generation was not asked for

    @property
    def empty(self) -> bool:
        return not self.diff.files


class _Stopwatch:
    def __init__(self, timings: dict[str, float], progress: Progress | None) -> None:
        self.timings, self.progress = timings, progress

    def stage(self, name: str, label: str) -> _Stage:
        if self.progress is not None:
            self.progress(label)
        return _Stage(self.timings, name)


class _Stage:
    def __init__(self, timings: dict[str, float], name: str) -> None:
        self.timings, self.name = timings, name

    def __enter__(self) -> None:
        self.started = time.perf_counter()

    def __exit__(self, *exc: object) -> None:
        elapsed = time.perf_counter() - self.started
        self.timings[self.name] = round(self.timings.get(self.name, 0.0) + elapsed, 4)


def select_files(diff: ReviewDiff, config: RepoConfig) -> ReviewDiff:
    """The diff restricted to the config's include/exclude globs, with a note on the rest."""
    kept = [f for f in diff.files if config.wants(f.path)]
    notes = list(diff.notes)
    if len(kept) < len(diff.files):
        notes.append(f"{len(diff.files) - len(kept)} changed file(s) excluded by "
                      ".reviewbot.yml include/exclude")
    return ReviewDiff(base_sha=diff.base_sha, head_sha=diff.head_sha, files=kept,
                      patch_text=diff.patch_text, notes=notes)


async def prepare(repo: LocalRepository, tree: GitTree, request: ReviewRequest,
                  counter: TokenCounter, timings: dict[str, float],
                  progress: Progress | None = None) -> tuple[ReviewDiff, ContextPack, PromptPlan]:
    """Diff, context and packing: the engine-free front half (also what the benchmark times)."""
    watch = _Stopwatch(timings, progress)
    with watch.stage("diff", "reading the diff"):
        diff = select_files(load_diff(repo, request.base, request.head), request.config)
    with watch.stage("context", "collecting repository context"):
        context = build_context(tree, _reviewable(diff))
    with watch.stage("packing", "packing prompts"):
        plan = await plan_prompts(
            _reviewable(diff), context, counter, max_model_len=request.max_model_len,
            answer_tokens=request.answer_tokens, fixed_overhead_tokens=PROMPT_OVERHEAD_TOKENS)
    return diff, context, plan


def _reviewable(diff: ReviewDiff) -> ReviewDiff:
    return ReviewDiff(base_sha=diff.base_sha, head_sha=diff.head_sha,
                      files=[f for f in diff.files if f.reviewable], notes=diff.notes)


def prefix_for(request: ReviewRequest, plan: PromptPlan, group: PromptGroup) -> SharedPrefix:
    """The shared prompt prefix of one part; the context text already holds the repository's
    conventions (ranked with the other context items)."""
    part = f"part {group.index} of {len(plan.groups)}" if plan.split else ""
    return build_prefix(
        repository=request.repository, title=request.title, description=request.description,
        conventions="", instructions=request.config.instructions,
        context=mask_secrets(group.context_text), diff=mask_secrets(group.diff_text), part=part)


async def review(repo: LocalRepository, request: ReviewRequest, *, engine: ChatEngine | None,
                 counter: TokenCounter, analyzers: list[Analyzer] | None = None,
                 scratch: Path | None = None, progress: Progress | None = None,
                 testgen: TestGenSetup | None = None) -> ReviewOutcome:
    """Review `request.base...request.head` of `repo`.

    With `testgen` (the caller wants tests: not `--no-tests`), an engine and
    `.reviewbot.yml` `tests.enabled`, unit tests are generated and validated in the sandbox
    after the review, sharing its prompt prefix; `outcome.tests` holds every candidate.
    """
    timings: dict[str, float] = {}
    watch = _Stopwatch(timings, progress)
    with repo.tree(request.head) as tree:
        diff, context, plan = await prepare(repo, tree, request, counter, timings, progress)
        outcome = ReviewOutcome(diff=diff, timings=timings, plan=plan)
        outcome.notes += diff.notes + context.notes + plan.notes
        if outcome.empty:
            return outcome
        config = request.config
        selected = analyzers if analyzers is not None else default_analyzers()
        with watch.stage("analyzers", "running static analyzers"):
            static: AnalyzerResult = await asyncio.to_thread(
                run_analyzers, selected, tree, _reviewable(diff), config, scratch=scratch)
        outcome.notes += static.notes + [f"analyzer error: {e}" for e in static.errors]
        findings: list[Finding] = list(static.findings)

        wants_model = config.reviewer_enabled("llm") or config.reviewer_enabled("security")
        if engine is None or not wants_model:
            if engine is None:
                outcome.notes.append(NO_ENGINE_NOTE)
            findings = [_untriaged(f) for f in findings]
        else:
            reviewer = ModelReviewer(engine=engine, affinity_key=request.repository,
                                     priority=request.priority,
                                     answer_tokens=request.answer_tokens,
                                     code_review=config.reviewer_enabled("llm"),
                                     security=config.reviewer_enabled("security"))
            with watch.stage("model", "asking the model"):
                model = await _run_model(reviewer, request, plan, static.findings, outcome,
                                         progress)
            outcome.model_ran = True
            guard = LeakGuard(*{p.system for p in outcome.prefixes})
            outcome.summary = guard.scrub("\n\n".join(s for s in model.summaries if s))
            findings = (_apply_triage_order(static.findings, model.triaged)
                        + _withhold_leaks(model.findings, guard, outcome))
        # Found without the model, after it: an obeying model can neither hide nor triage it.
        findings += injection_findings(_reviewable(diff))
        outcome.notes += pull_request_notes(scan_pull_request(request.title, request.description))

        with watch.stage("grounding", "grounding findings"):
            grounded = ground(findings, diff)
        outcome.dropped = grounded.dropped
        if grounded.dropped:
            outcome.notes.append(f"{len(grounded.dropped)} finding(s) dropped: not on a line "
                                 f"of the diff ({_reasons(grounded.dropped_by_reason())})")
        policy = apply_policy(grounded.kept, config)
        outcome.findings, outcome.suppressed = policy.reported, policy.suppressed
        if testgen is not None and engine is not None and config.tests.enabled:
            with watch.stage("tests", "generating and validating unit tests"):
                outcome.tests = await _generate_tests(repo, tree, request, plan, outcome,
                                                      engine, testgen)
    return outcome


async def _generate_tests(repo: LocalRepository, tree: GitTree, request: ReviewRequest,
                          plan: PromptPlan, outcome: ReviewOutcome, engine: ChatEngine,
                          setup: TestGenSetup) -> TestGenResult:
    """Tests for the changed functions; a failure is a note, never a failed review."""
    tests = request.config.tests
    options = replace(setup.options, test_directory=tests.directory, test_command=tests.command)
    prefix = _testgen_prefix(request, plan, outcome)
    try:
        result = await generate_tests(
            engine, prefix, repo, outcome.diff, tree, sandbox=setup.sandbox, options=options,
            environment=setup.environment, affinity_key=request.repository,
            priority=request.priority, records=outcome.calls)
    except ReviewbotError as exc:  # engine, repository export, venv build, sandbox start
        log.warning("test generation failed", extra={"error": str(exc)[:300]})
        result = TestGenResult(skipped_reason=f"test generation failed: {mask_secrets(str(exc))}")
    if result.skipped_reason and not result.skipped_reason.startswith("no Python"):
        outcome.notes.append(f"unit tests not generated: {result.skipped_reason}")
    return result


def _testgen_prefix(request: ReviewRequest, plan: PromptPlan, outcome: ReviewOutcome
                    ) -> SharedPrefix:
    """The review's own prefix (cached by the replica) of the part with the most Python."""
    if not plan.groups:
        return build_prefix(repository=request.repository, title=request.title,
                            description=request.description, conventions="",
                            instructions=request.config.instructions, context="",
                            diff=mask_secrets(outcome.diff.patch_text))
    ranked = max(range(len(plan.groups)),
                 key=lambda i: sum(p.endswith(".py") for p in plan.groups[i].paths))
    if ranked < len(outcome.prefixes):
        return outcome.prefixes[ranked]
    return prefix_for(request, plan, plan.groups[ranked])


async def _run_model(reviewer: ModelReviewer, request: ReviewRequest, plan: PromptPlan,
                     static: list[Finding], outcome: ReviewOutcome,
                     progress: Progress | None) -> ModelReviewResult:
    total = ModelReviewResult()
    for group in plan.groups:
        if progress is not None and plan.split:
            progress(f"asking the model about part {group.index} of {len(plan.groups)}")
        prefix = prefix_for(request, plan, group)
        outcome.prefixes.append(prefix)
        paths = set(group.paths)
        part = await reviewer.review_part(prefix, [f for f in static if f.path in paths])
        total.findings += part.findings
        total.triaged += part.triaged
        total.summaries += part.summaries
        total.records += part.records
    outcome.calls = total.records
    return total


def _withhold_leaks(findings: list[Finding], guard: LeakGuard, outcome: ReviewOutcome
                    ) -> list[Finding]:
    """Model findings whose text repeats the system prompt lose that text (noted once)."""
    kept = []
    for finding in findings:
        suggestion = finding.suggestion
        if guard.leaks(finding.message) or (suggestion and guard.leaks(suggestion)):
            finding = replace(finding, message=guard.scrub(finding.message),
                              suggestion=None)
            if not any("repeated its own instructions" in n for n in outcome.notes):
                outcome.notes.append("model text that repeated its own instructions was "
                                     "withheld (possible prompt injection)")
        kept.append(finding)
    return kept


def _apply_triage_order(static: list[Finding], triaged: list[Finding]) -> list[Finding]:
    """Analyzer findings with the triage verdict where the model gave one."""
    by_key = {(f.path, f.line, f.rule, f.fingerprint): f for f in triaged}
    return [by_key.get((f.path, f.line, f.rule, f.fingerprint), _untriaged(f)) for f in static]


def _untriaged(finding: Finding) -> Finding:
    if finding.category != "security" or "triage" in finding.extra:
        return finding
    extra = {**finding.extra, "triage": {"verdict": "untriaged",
                                          "reason": "no model engine reviewed this finding"}}
    return replace(finding, extra=extra)


def _reasons(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {reason}" for reason, n in sorted(counts.items()))


__all__ = ["NO_ENGINE_NOTE", "SYSTEM_PROMPT", "Progress", "ReviewOutcome", "ReviewRequest",
           "prepare",
           "review"]
