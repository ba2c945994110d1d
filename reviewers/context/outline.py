"""What a parsed source file offers the context builder: its symbols and its imports."""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Symbol:
    """A named definition: function, method, class, type or module-level variable."""

    name: str
    kind: str  # "function", "method", "class", "type", "variable"
    start_line: int
    end_line: int
    qualname: str
    top_level: bool

    @property
    def span(self) -> int:
        return self.end_line - self.start_line


@dataclass(frozen=True, slots=True)
class ImportRef:
    """One imported name as the importing file sees it.

    `local` is the name used in code (may be dotted for `import a.b`), `module` the
    module path as written (Python dotted name, JS/TS specifier, Go import path, Java
    package), `name` the imported member or None when the module itself is bound, and
    `level` the number of leading dots of a Python relative import.
    """

    local: str
    module: str
    name: str | None
    level: int = 0


@dataclass(slots=True)
class Outline:
    """Symbols (sorted by start line) and imports of one file; `error` if it did not parse."""

    language: str
    symbols: list[Symbol] = field(default_factory=list)
    imports: list[ImportRef] = field(default_factory=list)
    package: str | None = None  # Go package clause / Java package declaration
    error: str | None = None
    _top: dict[str, list[Symbol]] | None = None

    def top_level(self, name: str) -> list[Symbol]:
        """Top-level definitions called `name` (a file may define one twice)."""
        if self._top is None:
            top: dict[str, list[Symbol]] = {}
            for sym in self.symbols:
                if sym.top_level:
                    top.setdefault(sym.name, []).append(sym)
            self._top = top
        return self._top.get(name, [])

    def member(self, owner: Symbol, name: str) -> Symbol | None:
        """A definition called `name` nested directly inside `owner` (a method of a class)."""
        best: Symbol | None = None
        for sym in self.symbols:
            if (sym.name == name and sym is not owner and owner.start_line <= sym.start_line
                    and sym.end_line <= owner.end_line and (best is None or sym.span > best.span)):
                best = sym
        return best

    def parent(self, child: Symbol) -> Symbol | None:
        """The innermost function/class strictly around `child`."""
        best: Symbol | None = None
        for sym in self.symbols:
            if (sym is not child and sym.kind != "variable" and sym.span > child.span
                    and sym.start_line <= child.start_line and child.end_line <= sym.end_line
                    and (best is None or sym.span < best.span)):
                best = sym
        return best

    def enclosing(self, lines: list[int]) -> dict[Symbol, list[int]]:
        """The innermost function/class around each of the sorted `lines`.

        Lines outside every definition are left out; module-level variables never enclose.
        """
        claimed: dict[int, Symbol] = {}
        scopes = [s for s in self.symbols if s.kind != "variable"]
        for sym in sorted(scopes, key=lambda s: (s.span, s.start_line)):
            lo = bisect.bisect_left(lines, sym.start_line)
            hi = bisect.bisect_right(lines, sym.end_line)
            for line in lines[lo:hi]:
                claimed.setdefault(line, sym)
        grouped: dict[Symbol, list[int]] = {}
        for line in lines:
            owner = claimed.get(line)
            if owner is not None:
                grouped.setdefault(owner, []).append(line)
        return grouped
