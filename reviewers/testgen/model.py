"""The data of test generation: targets, candidates, validation steps, fates and results."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class TestFate(StrEnum):
    """What became of one candidate; the values equal `bot.history.enums.TestFate`."""

    __test__ = False  # not a pytest test class

    KEPT = "kept"
    FAILED_TO_COLLECT = "failed_to_collect"
    FAILED = "failed"
    FLAKY = "flaky"
    NO_ASSERTIONS = "no_assertions"
    NO_COVERAGE_GAIN = "no_coverage_gain"


@dataclass(frozen=True, slots=True)
class Target:
    """A function or method added or changed by the diff (head version)."""

    path: str  # repository path of the module
    module: str  # dotted import name, e.g. "shop.pricing"
    qualname: str  # "apply_discount" or "Cart.total"
    start_line: int
    end_line: int
    changed_lines: frozenset[int]  # added head lines inside the definition
    source: str  # the definition's text
    measured_lines: frozenset[int] = frozenset()  # executable lines whose coverage counts

    @property
    def name(self) -> str:
        """`module:qualname`, the id the model and the history use."""
        return f"{self.module}:{self.qualname}"

    @property
    def callable_name(self) -> str:
        """The name a test calls: the function, the method, or the class for `__init__`."""
        parts = self.qualname.split(".")
        if parts[-1] == "__init__" and len(parts) > 1:
            return parts[-2]
        return parts[-1]


@dataclass(frozen=True, slots=True)
class TestCommand:
    """How the repository runs its tests, and where that was found."""

    __test__ = False

    argv: tuple[str, ...]
    source: str  # ".reviewbot.yml", "pyproject.toml", "Makefile", "default"...

    @property
    def runs_pytest(self) -> bool:
        argv = list(self.argv)
        return argv[:1] in (["pytest"], ["py.test"]) or argv[1:3] == ["-m", "pytest"]

    @property
    def pytest_args(self) -> tuple[str, ...]:
        """The repository's pytest options that change what a test means, when it runs pytest.

        Only options that are safe with one test file and no third-party plugins are kept
        (strictness, import mode, warning filters, ini overrides): selection (`-m`, `-k`),
        plugin options (`--cov`, `-n`) and paths would break or empty a validation run.
        """
        argv = list(self.argv)
        if argv[:3] in (["python", "-m", "pytest"], ["python3", "-m", "pytest"]):
            argv = argv[3:]
        elif argv[:1] in (["pytest"], ["py.test"]):
            argv = argv[1:]
        else:
            return ()
        kept: list[str] = []
        pending = False
        for arg in argv:
            if pending:
                kept.append(arg)
                pending = False
            elif arg in _PYTEST_WITH_VALUE:
                kept.append(arg)
                pending = True
            elif arg in _PYTEST_FLAGS or arg.startswith(_PYTEST_JOINED):
                kept.append(arg)
        return tuple(kept[:-1] if pending else kept)


_PYTEST_FLAGS = frozenset({"--strict-markers", "--strict-config", "--strict", "-x",
                           "--exitfirst"})
_PYTEST_WITH_VALUE = frozenset({"-W", "-o", "--import-mode", "--pythonwarnings",
                                "--override-ini"})
_PYTEST_JOINED = ("--import-mode=", "-W", "--pythonwarnings=", "-o", "--override-ini=")


@dataclass(frozen=True, slots=True)
class TargetSet:
    """Everything generation needs: targets, their existing tests, the test command."""

    targets: list[Target]
    existing_tests: dict[str, list[str]]  # target module path -> existing test file paths
    test_texts: dict[str, str]  # existing test path -> (clipped) content
    command: TestCommand
    test_directory: str


@dataclass(frozen=True, slots=True)
class Candidate:
    """One test file the model proposed."""

    target: str  # Target.name
    behaviour: str
    path: str  # repository path where the test file goes
    code: str
    repair_of: int | None = None  # index of the candidate this one repairs


@dataclass(frozen=True, slots=True)
class Step:
    """One validation step and its evidence."""

    name: str  # "syntax", "assertions", "collect", "run", "coverage", "repeat", "base"
    ok: bool
    detail: str = ""
    output: str = ""  # trimmed runner output
    seconds: float = 0.0


@dataclass(slots=True)
class CandidateResult:
    """A candidate, the steps it went through and its fate."""

    index: int
    candidate: Candidate
    fate: TestFate
    steps: list[Step] = field(default_factory=list)
    passes: int = 0
    runs: int = 0
    coverage_before: tuple[int, int] = (0, 0)  # (covered changed lines, changed lines)
    coverage_after: tuple[int, int] = (0, 0)
    newly_covered: list[str] = field(default_factory=list)  # "path:line"
    behaviour_change: bool = False
    seconds: float = 0.0

    def failure_output(self, limit: int = 3000) -> str:
        for step in reversed(self.steps):
            if not step.ok:
                text = f"{step.name}: {step.detail}\n{step.output}".strip()
                return text[-limit:]
        return ""

    def evidence(self) -> dict[str, Any]:
        """JSON-able evidence for the history store."""
        return {
            "behaviour": self.candidate.behaviour,
            "repair_of": self.candidate.repair_of,
            "passes": self.passes,
            "runs": self.runs,
            "coverage_before": list(self.coverage_before),
            "coverage_after": list(self.coverage_after),
            "newly_covered": self.newly_covered,
            "seconds": round(self.seconds, 3),
            "steps": [{"name": s.name, "ok": s.ok, "detail": s.detail,
                       "output": s.output[-2000:], "seconds": round(s.seconds, 3)}
                      for s in self.steps],
        }


@dataclass(frozen=True, slots=True)
class KeptTest:
    """A validated test file ready for delivery (comment or branch commit)."""

    path: str
    content: str
    targets: list[str]
    behaviours: list[str]
    passes: int
    runs: int
    coverage_before: tuple[int, int]
    coverage_after: tuple[int, int]
    seconds: float
    behaviour_change: bool
    command: str  # how to run it
    newly_covered: list[str] = field(default_factory=list)  # "path:line" first covered by it


@dataclass(frozen=True, slots=True)
class TestGenOptions:
    """Knobs of one test-generation run (built by the caller from settings and RepoConfig)."""

    __test__ = False

    candidates_per_target: int = 3
    max_targets: int = 8
    max_candidates: int = 24
    runs: int = 5
    repair: bool = True
    check_base: bool = True
    answer_tokens: int = 8192
    test_directory: str = "tests"
    test_command: str | None = None  # RepoConfig.tests.command
    run_timeout_s: float = 60.0
    parallel: int = 2  # candidates validated at once
    max_existing_test_chars: int = 6000


@dataclass(slots=True)
class TestGenResult:
    """All candidates with their fates, the kept test files, and why nothing ran if so."""

    __test__ = False

    targets: list[Target] = field(default_factory=list)
    results: list[CandidateResult] = field(default_factory=list)
    kept: list[KeptTest] = field(default_factory=list)
    command: TestCommand | None = None
    baseline_covered: tuple[int, int] = (0, 0)
    skipped_reason: str | None = None  # "sandbox unavailable: ...", "no targets"...
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def history_records(self) -> list[dict[str, Any]]:
        """Keyword arguments for `bot.history.store.GeneratedTestRecord`, one per candidate."""
        return [{"target": r.candidate.target, "path": r.candidate.path,
                 "code": r.candidate.code, "fate": r.fate.value, "evidence": r.evidence(),
                 "behaviour_change": r.behaviour_change} for r in self.results]
