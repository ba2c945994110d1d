"""The context pack: ranked snippets of the repository that help a reviewer read a diff."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

ContextKind = Literal["enclosing", "definition", "test", "convention"]

# Lower rank sorts first when scores tie; also the relevance order of the kinds.
KIND_RANK: dict[str, int] = {"enclosing": 0, "definition": 1, "test": 2, "convention": 3}


@dataclass(frozen=True, slots=True)
class ContextItem:
    """One snippet of the head revision, with why it is relevant and how much.

    `origins` names the changed files this item helps to review; empty means it helps
    every file (conventions). Line numbers are 1-based, inclusive, in the head version.
    """

    kind: ContextKind
    path: str
    start_line: int
    end_line: int
    text: str
    score: float
    reason: str
    symbol: str | None = None
    origins: tuple[str, ...] = ()
    truncated: bool = False

    def serves(self, paths: Iterable[str]) -> bool:
        """True when the item is relevant to at least one of `paths` (or to every file)."""
        if not self.origins:
            return True
        wanted = set(paths)
        return any(origin in wanted for origin in self.origins)

    def sort_key(self) -> tuple[float, int, str, int, int]:
        return (-self.score, KIND_RANK[self.kind], self.path, self.start_line, self.end_line)


@dataclass(frozen=True, slots=True)
class ContextLimits:
    """Size caps applied while building context; all of them are per item or per diff."""

    max_item_lines: int = 120
    max_item_chars: int = 6_000
    max_definitions_per_file: int = 12
    max_tests_per_file: int = 2
    max_convention_chars: int = 3_000
    max_items: int | None = None  # None: no cap (the budget decides what is left out)


@dataclass(slots=True)
class ContextPack:
    """Context items best first, plus notes about anything that could not be read."""

    items: list[ContextItem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def for_paths(self, paths: Iterable[str]) -> list[ContextItem]:
        """Items relevant to the given changed files, best first."""
        wanted = list(paths)
        return [item for item in self.items if item.serves(wanted)]

    def by_kind(self, kind: ContextKind) -> list[ContextItem]:
        return [item for item in self.items if item.kind == kind]
