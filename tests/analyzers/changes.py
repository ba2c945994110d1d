"""Reviews a real branch of a test repository: the head `GitTree` and the `ReviewDiff`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from reviewers.analyzers import Analyzer, AnalyzerResult, run_analyzers
from reviewers.diff import ReviewDiff
from reviewers.gitdiff import load_diff
from reviewers.gitrepo import GitTree, open_repository
from reviewers.repoconfig import RepoConfig
from tests.gitbuilder import GitRepo


def branch_change(repo: GitRepo, base_files: dict[str, str | bytes],
                  head_files: dict[str, str | bytes]) -> GitRepo:
    """Commit `base_files` on main, then `head_files` on branch `feature` (checked out)."""
    repo.commit("base", base_files)
    repo.branch("feature")
    repo.commit("change", head_files)
    return repo


@contextmanager
def reviewed(repo: GitRepo, base: str = "main", head: str = "feature"
             ) -> Iterator[tuple[GitTree, ReviewDiff]]:
    """The head tree and the `base...head` diff, loaded by the real git readers."""
    with open_repository(repo.root) as local:
        diff = load_diff(local, base, head)
        with local.tree(diff.head_sha) as tree:
            yield tree, diff


def analyze(repo: GitRepo, analyzer: Analyzer, workdir: Path,
            config: RepoConfig | None = None) -> AnalyzerResult:
    """Run one analyzer directly on the `feature` branch change."""
    workdir.mkdir(parents=True, exist_ok=True)
    with reviewed(repo) as (tree, diff):
        return analyzer.run(tree, diff, config or RepoConfig(), workdir)


def analyze_all(repo: GitRepo, analyzers: list[Analyzer],
                config: RepoConfig | None = None) -> AnalyzerResult:
    with reviewed(repo) as (tree, diff):
        return run_analyzers(analyzers, tree, diff, config or RepoConfig())
