"""The one entry point: targets -> engine candidates -> sandboxed validation -> one repair round."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import posixpath
import shutil
import time
from collections.abc import Sequence
from pathlib import Path

from reviewers.diff import ReviewDiff
from reviewers.engine import CallRecord, Priority
from reviewers.gitrepo import LocalRepository
from reviewers.prompts import SharedPrefix
from reviewers.source import SourceTree
from reviewers.testgen.checkout import export_revision
from reviewers.testgen.environment import EnvironmentProvider, SharedEnvironment
from reviewers.testgen.generate import (
    REPAIR_SCHEMA,
    TESTGEN_SCHEMA,
    ChatEngine,
    ask,
    parse_candidates,
    repair_task,
    testgen_task,
)
from reviewers.testgen.model import (
    Candidate,
    CandidateResult,
    KeptTest,
    TestFate,
    TestGenOptions,
    TestGenResult,
)
from reviewers.testgen.sandbox import Sandbox
from reviewers.testgen.targets import find_targets
from reviewers.testgen.validate import PYTEST_QUIET, ValidationContext, validate_candidate

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True, slots=True)
class TestGenSetup:
    """What the composition root hands the review pipeline to generate tests with.

    Built from the operator's settings (sandbox limits, unsandboxed escape hatch, where
    venvs are cached); the repository's `.reviewbot.yml` `tests` section adjusts `options`.
    """

    __test__ = False

    sandbox: Sandbox
    options: TestGenOptions = dataclasses.field(default_factory=TestGenOptions)
    environment: EnvironmentProvider | None = None


async def generate_tests(
    engine: ChatEngine,
    prefix: SharedPrefix,
    repo: LocalRepository,
    diff: ReviewDiff,
    head: SourceTree,
    *,
    sandbox: Sandbox,
    options: TestGenOptions | None = None,
    environment: EnvironmentProvider | None = None,
    affinity_key: str,
    priority: Priority = Priority.REVIEW,
    records: list[CallRecord] | None = None,
) -> TestGenResult:
    """Generate, validate (sandboxed) and repair-once tests for the diff's changed functions.

    Returns every candidate with its fate and evidence, and the kept test files. When the
    sandbox is unavailable (and unsandboxed runs are not allowed) nothing is generated or
    run and `skipped_reason` says "sandbox unavailable: ...". Raises EngineError subclasses
    from the engine and RepositoryError when the checkout cannot be exported.
    """
    options = options or TestGenOptions()
    started = time.monotonic()
    calls = records if records is not None else []
    result = TestGenResult()
    target_set = find_targets(diff, head, options)
    result.targets, result.command = target_set.targets, target_set.command
    command = target_set.command
    if not command.runs_pytest:
        shown = " ".join(command.argv)
        result.notes.append(f"the repository runs its tests with `{shown}` ({command.source});"
                            " generated tests are validated with pytest in the sandbox")
    if not target_set.targets:
        result.skipped_reason = "no Python function or method changed"
        return result
    reason = sandbox.probe()
    if reason is not None and not sandbox.config.allow_unsandboxed:
        result.skipped_reason = f"sandbox unavailable: {reason}"
        log.warning("test generation skipped", extra={"reason": result.skipped_reason})
        return result
    known = {t.name for t in target_set.targets}
    answer = await ask(engine, prefix, testgen_task(target_set, options.candidates_per_target),
                       TESTGEN_SCHEMA, "testgen", affinity_key=affinity_key, priority=priority,
                       max_tokens=options.answer_tokens, records=calls)
    existing = set(head.list_files())
    candidates = _unique_paths([c for _, c in parse_candidates(answer, known)]
                               [: options.max_candidates], existing)
    if not candidates:
        result.skipped_reason = "the model proposed no usable test"
        return result
    scratch = Path(sandbox.make_workdir("rb-pristine-"))
    try:
        head_dir = export_revision(repo, diff.head_sha, scratch / "head")
        base_dir = (export_revision(repo, diff.base_sha, scratch / "base")
                    if options.check_base else None)
        provider = environment or SharedEnvironment()
        python_env = await provider.prepare(affinity_key, head_dir, sandbox)
        ctx = ValidationContext(
            sandbox, python_env, head_dir, base_dir,
            {t.name: t for t in target_set.targets}, target_set.command, options,
            changed=frozenset((t.path, n) for t in target_set.targets
                              for n in t.measured_lines))
        baseline = await ctx.compute_baseline(options.run_timeout_s * 10)
        result.baseline_covered = (len(ctx.baseline), len(ctx.changed))
        result.notes.append(baseline.detail)
        result.results = await _validate_all(ctx, list(enumerate(candidates)), options)
        if options.repair:
            await _repair_round(engine, prefix, ctx, result, existing, affinity_key, priority,
                                calls)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    result.kept = [_kept(r) for r in result.results
                   if r.fate is TestFate.KEPT]
    result.seconds = time.monotonic() - started
    log.info("test generation finished", extra={
        "candidates": len(result.results), "kept": len(result.kept),
        "seconds": round(result.seconds, 2)})
    return result


async def _validate_all(ctx: ValidationContext, items: Sequence[tuple[int, Candidate]],
                        options: TestGenOptions) -> list[CandidateResult]:
    gate = asyncio.Semaphore(max(1, options.parallel))

    async def one(index: int, candidate: Candidate) -> CandidateResult:
        async with gate:
            return await validate_candidate(ctx, index, candidate)

    return list(await asyncio.gather(*(one(i, c) for i, c in items)))


async def _repair_round(engine: ChatEngine, prefix: SharedPrefix, ctx: ValidationContext,
                        result: TestGenResult, existing: set[str], affinity_key: str,
                        priority: Priority, calls: list[CallRecord]) -> None:
    """Send every rejected candidate back once; validate what comes back."""
    rejected = {r.index: r for r in result.results if r.fate is not TestFate.KEPT}
    if not rejected:
        return
    answer = await ask(engine, prefix, repair_task(list(rejected.values())), REPAIR_SCHEMA,
                       "testgen_repair", affinity_key=affinity_key, priority=priority,
                       max_tokens=ctx.options.answer_tokens, records=calls)
    repaired: list[Candidate] = []
    for ident, cand in parse_candidates(answer, set(ctx.targets), key="repairs"):
        if ident in rejected and all(c.repair_of != ident for c in repaired):
            original = rejected[ident].candidate
            repaired.append(dataclasses.replace(cand, target=original.target, repair_of=ident))
    kept_paths = {r.candidate.path for r in result.results if r.fate is TestFate.KEPT}
    repaired = _unique_paths(repaired, existing | kept_paths)
    start = max((r.index for r in result.results), default=-1) + 1
    result.results += await _validate_all(ctx, list(enumerate(repaired, start)), ctx.options)


def _unique_paths(candidates: Sequence[Candidate], taken: set[str]) -> list[Candidate]:
    """Give every candidate its own new file: never overwrite a repository file or a sibling."""
    used = set(taken)
    out: list[Candidate] = []
    for cand in candidates:
        path = posixpath.normpath(cand.path) if cand.path else cand.path
        stem, ext = posixpath.splitext(path)
        number = 2
        while path in used:
            path = f"{stem}_{number}{ext}"
            number += 1
        used.add(path)
        out.append(dataclasses.replace(cand, path=path))
    return out


def _kept(result: CandidateResult) -> KeptTest:
    cand = result.candidate
    return KeptTest(
        path=cand.path, content=cand.code, targets=[cand.target], behaviours=[cand.behaviour],
        passes=result.passes, runs=result.runs, coverage_before=result.coverage_before,
        coverage_after=result.coverage_after, seconds=result.seconds,
        behaviour_change=result.behaviour_change,
        command=" ".join(["python", "-m", "pytest", *PYTEST_QUIET, cand.path]),
        newly_covered=list(result.newly_covered))
