"""Runs corpus cases through the review pipeline on real git repositories and scores them.

A case becomes a repository whose `main` holds the base file and whose `feature` branch
changes it to the head file; the pipeline reviews `main...feature` exactly as
`reviewbot review` does. Scoring compares reported security findings with the cases'
expectations: a finding matches an expectation on the same path whose line it covers and
whose CWE it names; every reported security finding that matches none is a false positive.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from reviewers.analyzers import Analyzer
from reviewers.findings import Category, Finding
from reviewers.gitrepo import open_repository
from reviewers.modelreview import ChatEngine
from reviewers.pipeline import ReviewOutcome, ReviewRequest, review
from reviewers.repoconfig import RepoConfig
from reviewers.tokens import EstimatingCounter
from tests.gitbuilder import GitRepo
from tests.security_corpus import Case, Expected, cwe_number


def build_change(root: Path, cases: Sequence[Case]) -> GitRepo:
    """One repository: the cases' base files on `main`, their head files on `feature`."""
    repo = GitRepo(root)
    repo.commit("base", {"README.md": "corpus\n", **{c.path: c.base for c in cases}})
    repo.branch("feature")
    repo.commit("change", {c.path: c.head for c in cases})
    return repo


async def review_change(root: Path, *, config: RepoConfig | None = None,
                        engine: ChatEngine | None = None,
                        analyzers: list[Analyzer] | None = None) -> ReviewOutcome:
    """The pipeline's review of `main...feature` of the repository at `root`."""
    with open_repository(root) as repo:
        request = ReviewRequest(repository=root.name, base=repo.resolve("main"),
                                head=repo.resolve("feature"), config=config or RepoConfig())
        return await review(repo, request, engine=engine, counter=EstimatingCounter(),
                            analyzers=analyzers)


@dataclass(slots=True)
class CaseScore:
    case: Case
    matched: list[Expected] = field(default_factory=list)
    missed: list[Expected] = field(default_factory=list)
    true_positives: list[Finding] = field(default_factory=list)
    false_positives: list[Finding] = field(default_factory=list)


@dataclass(slots=True)
class Score:
    cases: list[CaseScore] = field(default_factory=list)

    @property
    def tp(self) -> int:
        return sum(len(c.matched) for c in self.cases)

    @property
    def fn(self) -> int:
        return sum(len(c.missed) for c in self.cases)

    @property
    def fp(self) -> int:
        return sum(len(c.false_positives) for c in self.cases)

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def precision(self) -> float:
        reported = sum(len(c.true_positives) for c in self.cases) + self.fp
        return sum(len(c.true_positives) for c in self.cases) / reported if reported else 1.0


def matches(finding: Finding, expected: Expected) -> bool:
    return (finding.path == expected.path and finding.line <= expected.line <= finding.end_line
            and cwe_number(finding.cwe) == cwe_number(expected.cwe))


def score_case(case: Case, reported: Iterable[Finding]) -> CaseScore:
    """How the security findings reported on `case.path` compare with its expectations."""
    result = CaseScore(case=case)
    findings = [f for f in reported if f.path == case.path and f.category is Category.SECURITY]
    for expected in case.expect:
        (result.matched if any(matches(f, expected) for f in findings)
         else result.missed).append(expected)
    for finding in findings:
        hit = any(matches(finding, expected) for expected in case.expect)
        (result.true_positives if hit else result.false_positives).append(finding)
    return result


def run_batched(cases: Sequence[Case], workdir: Path, *, config: RepoConfig | None = None,
                engine: ChatEngine | None = None, analyzers: list[Analyzer] | None = None,
                ) -> tuple[Score, list[ReviewOutcome]]:
    """All cases in as few changes as their paths allow (fast: one review per batch)."""
    from tests.security_corpus import batches

    score, outcomes = Score(), []
    for number, group in enumerate(batches(list(cases))):
        repo = build_change(workdir / f"batch{number}", group)
        outcome = asyncio.run(review_change(repo.root, config=config, engine=engine,
                                            analyzers=analyzers))
        outcomes.append(outcome)
        score.cases += [score_case(case, outcome.findings) for case in group]
    return score, outcomes


def run_each(cases: Sequence[Case], workdir: Path, *, config: RepoConfig | None = None,
             analyzers: list[Analyzer] | None = None) -> Score:
    """Every case as its own change of its own repository (what a pull request sees)."""
    score = Score()
    for case in cases:
        repo = build_change(workdir / case.id, [case])
        outcome = asyncio.run(review_change(repo.root, config=config, analyzers=analyzers))
        score.cases.append(score_case(case, outcome.findings))
    return score
