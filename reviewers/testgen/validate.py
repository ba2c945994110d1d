"""Validate one candidate test in a throwaway checkout; record every step and give its fate.

Order (cheapest first, each step's evidence kept): path and syntax, assertions on the
target (AST), collection and the first run (one pytest process under coverage),
changed-line coverage gain over the existing suite's baseline, the remaining runs (any
failure: flaky), and optionally one run on the base revision (fails there: the test
documents a behaviour change).
"""

from __future__ import annotations

import ast
import logging
import posixpath
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from reviewers.testgen.assertions import check_assertions
from reviewers.testgen.changecov import ChangedLines, coverage_command, ratio, read_covered
from reviewers.testgen.checkout import Workspace, new_workspace
from reviewers.testgen.environment import PythonEnvironment
from reviewers.testgen.model import (
    Candidate,
    CandidateResult,
    Step,
    Target,
    TestCommand,
    TestFate,
    TestGenOptions,
)
from reviewers.testgen.sandbox import Sandbox, SandboxResult

log = logging.getLogger(__name__)

PYTEST_QUIET = ("-p", "no:cacheprovider", "-q")
_SAFE_PATH = re.compile(r"[A-Za-z0-9_./-]{1,200}")
NOT_COLLECTED = frozenset({2, 3, 4, 5})  # collection errors, internal, usage, no tests


@dataclass(slots=True)
class ValidationContext:
    """What every candidate of one run shares; the baseline is computed once."""

    sandbox: Sandbox
    environment: PythonEnvironment
    head: Path  # pristine export of the head revision
    base: Path | None  # pristine export of the base revision (behaviour-change check)
    targets: dict[str, Target]
    command: TestCommand
    options: TestGenOptions
    changed: ChangedLines = frozenset()
    baseline: set[tuple[str, int]] = field(default_factory=set)

    @property
    def changed_paths(self) -> list[str]:
        return sorted({path for path, _ in self.changed})

    def workspace(self, pristine: Path) -> Workspace:
        return new_workspace(pristine, Path(self.sandbox.make_workdir("rb-testgen-")))

    def run_env(self, space: Workspace) -> dict[str, str]:
        """The environment of a run: the checkout (and its src/) importable, the venv's extras."""
        path = ":".join(str(p) for p in (space.repo, space.repo / "src") if p.is_dir())
        return {**self.environment.env, "PYTHONPATH": path}

    async def run(self, space: Workspace, argv: Sequence[str],
                  timeout_s: float | None = None) -> SandboxResult:
        return await self.sandbox.run(argv, writable=space.root, cwd=space.repo,
                                      env=self.run_env(space),
                                      readonly=self.environment.readonly,
                                      timeout_s=timeout_s or self.options.run_timeout_s)

    async def compute_baseline(self, timeout_s: float) -> Step:
        """Coverage of the changed lines by the existing suite (once per run)."""
        space = self.workspace(self.head)
        started = time.monotonic()
        try:
            cov = coverage_command(self.environment.python, space.out, space.repo,
                                   self.changed_paths, [*PYTEST_QUIET,
                                                        *self.command.pytest_args], "baseline")
            done = await self.run(space, cov.argv, timeout_s)
            self.baseline = read_covered(cov.report, space.repo) & set(self.changed)
        finally:
            space.remove()
        covered, total = ratio(self.baseline, self.changed)
        return Step("baseline", True, f"existing suite covers {covered}/{total} changed lines "
                    f"(pytest exit {done.returncode})", _tail(done.output),
                    time.monotonic() - started)


async def validate_candidate(ctx: ValidationContext, index: int, candidate: Candidate
                             ) -> CandidateResult:
    """Run every step for one candidate and return its fate with the evidence."""
    started = time.monotonic()
    result = CandidateResult(index, candidate, TestFate.FAILED)
    result.coverage_before = ratio(ctx.baseline, ctx.changed)
    result.coverage_after = result.coverage_before
    try:
        result.fate = await _steps(ctx, candidate, result)
    finally:
        result.seconds = time.monotonic() - started
    log.info("generated test validated", extra={"target": candidate.target,
                                                "path": candidate.path,
                                                "fate": result.fate.value})
    return result


async def _steps(ctx: ValidationContext, cand: Candidate, result: CandidateResult) -> TestFate:
    steps = result.steps
    problem = path_problem(cand.path)
    if problem:
        steps.append(Step("syntax", False, problem))
        return TestFate.FAILED_TO_COLLECT
    try:
        ast.parse(cand.code)
    except SyntaxError as exc:
        steps.append(Step("syntax", False, f"line {exc.lineno}: {exc.msg}"))
        return TestFate.FAILED_TO_COLLECT
    steps.append(Step("syntax", True, "parses"))
    target = ctx.targets.get(cand.target)
    names = {target.callable_name} if target else {t.callable_name for t in ctx.targets.values()}
    verdict = check_assertions(cand.code, names)
    steps.append(Step("assertions", verdict.ok, verdict.detail))
    if not verdict.ok:
        return TestFate.NO_ASSERTIONS
    space = ctx.workspace(ctx.head)
    try:
        space.place(cand.path, cand.code)
        py = ctx.environment.python
        # One process both collects and runs the file under coverage: collection problems
        # have their own pytest exit codes, so no separate --collect-only run is needed.
        cov = coverage_command(py, space.out, space.repo, ctx.changed_paths,
                               [*PYTEST_QUIET, *ctx.command.pytest_args, cand.path], "cand")
        first = await ctx.run(space, cov.argv)
        collected = first.timed_out or first.returncode not in NOT_COLLECTED
        steps.append(Step("collect", collected, "imports and collects" if collected
                          else _exit_detail(first), "" if collected else _tail(first.output),
                          0.0 if collected else first.seconds))
        if not collected:
            return TestFate.FAILED_TO_COLLECT
        result.runs, result.passes = 1, int(first.ok)
        steps.append(Step("run", first.ok, f"run 1/{ctx.options.runs}: {_exit_detail(first)}",
                          _tail(first.output), first.seconds))
        if not first.ok:
            return TestFate.FAILED
        covered = read_covered(cov.report, space.repo) & set(ctx.changed)
        gained = covered - ctx.baseline
        result.coverage_after = ratio(ctx.baseline | covered, ctx.changed)
        result.newly_covered = [f"{p}:{n}" for p, n in sorted(gained)]
        before, after = result.coverage_before, result.coverage_after
        steps.append(Step("coverage", bool(gained), f"changed lines covered {before[0]}/"
                          f"{before[1]} -> {after[0]}/{after[1]}"))
        if not gained:
            return TestFate.NO_COVERAGE_GAIN
        repeat_seconds = 0.0
        for attempt in range(2, ctx.options.runs + 1):
            again = await ctx.run(space, [py, "-m", "pytest", *PYTEST_QUIET,
                                          *ctx.command.pytest_args, cand.path])
            result.runs += 1
            result.passes += int(again.ok)
            repeat_seconds += again.seconds
            if not again.ok:
                steps.append(Step("repeat", False, f"run {attempt}/{ctx.options.runs}: "
                                  f"{_exit_detail(again)} after {attempt - 1} passes",
                                  _tail(again.output), again.seconds))
                return TestFate.FLAKY
        steps.append(Step("repeat", True, f"{result.passes}/{ctx.options.runs} runs passed",
                          seconds=repeat_seconds))
    finally:
        space.remove()
    if ctx.base is not None:
        result.behaviour_change = await _fails_on_base(ctx, cand, steps)
    return TestFate.KEPT


async def _fails_on_base(ctx: ValidationContext, cand: Candidate, steps: list[Step]) -> bool:
    assert ctx.base is not None
    space = ctx.workspace(ctx.base)
    try:
        space.place(cand.path, cand.code)
        done = await ctx.run(space, [ctx.environment.python, "-m", "pytest", *PYTEST_QUIET,
                                     *ctx.command.pytest_args, cand.path])
    finally:
        space.remove()
    changed = not done.ok
    steps.append(Step("base", True, ("fails on the base revision: documents a behaviour change"
                                     if changed else "passes on the base revision too"),
                      _tail(done.output), done.seconds))
    return changed


def path_problem(path: str) -> str | None:
    """Why a proposed test path is unacceptable, or None."""
    norm = posixpath.normpath(path)
    base = posixpath.basename(norm)
    if path.startswith("/") or norm.startswith("..") or "\\" in path or "\0" in path:
        return f"test path {path!r} leaves the repository"
    if not _SAFE_PATH.fullmatch(path):  # it also names a comment marker and a commit file
        return f"test path {path!r} may only hold letters, digits, '_', '-', '.' and '/'"
    if not base.endswith(".py") or not (base.startswith("test_") or base.endswith("_test.py")):
        return f"test path {path!r} is not a pytest test file (test_*.py or *_test.py)"
    if norm.split("/")[0] in (".git", ".github"):
        return f"test path {path!r} is inside {norm.split('/')[0]}"
    return None


def _exit_detail(done: SandboxResult) -> str:
    if done.timed_out:
        return "timed out"
    meaning = {0: "passed", 1: "tests failed", 2: "interrupted (collection errors)",
               3: "internal error", 4: "usage error", 5: "no tests collected"}
    return f"pytest exit {done.returncode} ({meaning.get(done.returncode, 'killed or crashed')})"


def _tail(text: str, limit: int = 4000) -> str:
    return text[-limit:]
