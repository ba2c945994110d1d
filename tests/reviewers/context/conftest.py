"""Build a real two-commit repository and hand back its head tree, diff and context."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from reviewers.context import ContextItem, ContextLimits, ContextPack, build_context
from reviewers.diff import ReviewDiff
from reviewers.gitdiff import load_diff
from reviewers.gitrepo import GitTree, LocalRepository, open_repository
from tests.gitbuilder import GitRepo


@dataclass
class Change:
    tree: GitTree
    diff: ReviewDiff
    pack: ContextPack

    def items(self, kind: str) -> list[ContextItem]:
        return [i for i in self.pack.items if i.kind == kind]

    def item(self, kind: str, path: str, symbol: str | None = None) -> ContextItem:
        found = [i for i in self.items(kind)
                 if i.path == path and (symbol is None or i.symbol == symbol)]
        assert found, f"no {kind} item for {path} {symbol}: {self.pack.items}"
        return found[0]

    def paths(self, kind: str) -> set[str]:
        return {i.path for i in self.items(kind)}


MakeChange = Callable[..., Change]


@pytest.fixture
def make_change(git_repo: GitRepo) -> Iterator[MakeChange]:
    """`make_change(before, after, remove=(), limits=None)`: commit both, build the context."""
    opened: list[LocalRepository | GitTree] = []

    def make(before: dict[str, str], after: dict[str, str], *,
             limits: ContextLimits | None = None) -> Change:
        base = git_repo.commit("base", {**before})
        head = git_repo.commit("head", {**after})
        repository = open_repository(git_repo.root)
        tree = repository.tree(head)
        opened.extend((repository, tree))
        diff = load_diff(repository, base, head)
        return Change(tree, diff, build_context(tree, diff, limits=limits))

    yield make
    for thing in reversed(opened):
        thing.close()
