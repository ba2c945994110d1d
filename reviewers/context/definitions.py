"""Find where the names used in changed lines are defined elsewhere in the repository.

Python follows `import` / `from ... import` (relative too) into repository modules.
JavaScript/TypeScript follow relative imports, Go follows imports under the module path
of `go.mod`, Java follows single-type imports; names still unresolved are looked up in a
symbol index of that language's files, built lazily for the referenced names only.
"""

from __future__ import annotations

import posixpath
import re
from collections import Counter
from dataclasses import dataclass

from reviewers.context.files import RepoFiles, family, language_for, path_distance
from reviewers.context.outline import ImportRef, Outline, Symbol

_CHAIN = re.compile(r"[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)*")
_JS_SUFFIXES = ("", ".ts", ".tsx", ".js", ".jsx", ".mjs", ".cjs", ".d.ts",
                "/index.ts", "/index.tsx", "/index.js", "/index.jsx")
_COMMON = frozenset({
    "and", "as", "assert", "async", "await", "break", "case", "catch", "class", "const",
    "continue", "def", "default", "defer", "del", "delete", "do", "elif", "else", "enum",
    "except", "export", "extends", "false", "final", "finally", "for", "from", "func", "function",
    "go", "goto", "if", "implements", "import", "in", "instanceof", "interface", "is", "lambda",
    "let", "map", "new", "nil", "none", "not", "null", "or", "package", "pass", "private",
    "protected", "public", "raise", "range", "return", "self", "select", "static", "struct",
    "super", "switch", "this", "throw", "throws", "true", "try", "type", "typeof", "var", "void",
    "while", "with", "yield", "int", "str", "bool", "float", "len", "print", "string", "error",
    "byte", "rune", "list", "dict", "set", "tuple", "object", "any", "number", "boolean",
    "undefined", "console", "require", "module", "exports", "err", "ok", "fmt", "args", "kwargs",
    "cls",
})


@dataclass(frozen=True, slots=True)
class Definition:
    """A definition in `path` that a changed file refers to `count` times."""

    path: str
    symbol: Symbol
    name: str  # the name as written in the changed lines
    count: int
    via: str  # "import" or "index"


def referenced_chains(lines: list[str]) -> Counter[str]:
    """Dotted identifier chains in `lines`, with how often each appears."""
    found: Counter[str] = Counter()
    for line in lines:
        for chain in _CHAIN.findall(line):
            if chain.split(".", 1)[0].lower() not in _COMMON:
                found[chain] += 1
    return found


class DefinitionFinder:
    """Resolves referenced names to definitions; caches every outline through `RepoFiles`."""

    def __init__(self, files: RepoFiles, *, max_index_files: int = 3_000,
                 max_per_name: int = 2) -> None:
        self._files = files
        self._max_per_name = max_per_name
        self._go_modules: list[tuple[str, str]] | None = None
        self._index = SymbolIndex(files, max_files=max_index_files)

    def find(self, path: str, outline: Outline, chains: Counter[str]) -> list[Definition]:
        """Definitions reached through the file's imports (no repository-wide search)."""
        locals_ = {ref.local: ref for ref in outline.imports}
        found: dict[tuple[str, int, str], Definition] = {}
        for chain, count in chains.items():
            parts = chain.split(".")
            for cut in range(len(parts), 0, -1):
                ref = locals_.get(".".join(parts[:cut]))
                if ref is not None:
                    hit = self._resolve_import(path, outline.language, ref, parts[cut:])
                    if hit is not None:
                        _add(found, Definition(hit[0], hit[1], chain, count, "import"))
                    break
        return _ordered(found)

    def unresolved(self, outline: Outline, chains: Counter[str]) -> Counter[str]:
        """Names worth a symbol-index search: not imported, not defined in the file itself."""
        if outline.language == "python":
            return Counter()  # Python names come from imports; the import graph is complete
        bound = {ref.local.split(".", 1)[0] for ref in outline.imports}
        bound |= {s.name for s in outline.symbols}
        names: Counter[str] = Counter()
        for chain, count in chains.items():
            head = chain.split(".", 1)[0]
            if head not in bound and len(head) > 2:
                names[head] += count
        return names

    def find_indexed(self, path: str, language: str, names: Counter[str],
                     near: set[str]) -> list[Definition]:
        """Definitions of `names` from the symbol index, nearest directory first."""
        table = self._index.lookup(family(language), set(names), near)
        here = posixpath.dirname(path)
        found: dict[tuple[str, int, str], Definition] = {}
        for name, count in names.items():
            places = [hit for hit in table.get(name, []) if hit[0] != path]
            places.sort(key=lambda hit: (path_distance(here, posixpath.dirname(hit[0])), hit[0]))
            for target, symbol in places[: self._max_per_name]:
                _add(found, Definition(target, symbol, name, count, "index"))
        return _ordered(found)

    # -- imports -----------------------------------------------------------------------

    def _resolve_import(self, path: str, language: str, ref: ImportRef,
                        rest: list[str]) -> tuple[str, Symbol] | None:
        if language == "python":
            return self._python(path, ref, rest)
        if family(language) == "js":
            target = self._js_module(path, ref.module)
            name = rest[0] if ref.name is None and rest else ref.name
            if ref.name == "default":
                name = ref.local
            return self._symbol_in(target, name, rest if ref.name else rest[1:])
        if language == "go":
            return self._go(ref, rest)
        if language == "java":
            suffix = "/".join([*ref.module.split("."), f"{ref.name}.java"])
            for candidate in self._files.by_basename(f"{ref.name}.java"):
                if candidate.endswith(suffix) or candidate == suffix:
                    return self._symbol_in(candidate, ref.name, rest)
        return None

    def _python(self, path: str, ref: ImportRef, rest: list[str],
                depth: int = 0) -> tuple[str, Symbol] | None:
        modules = self._files.python_modules
        if ref.name is None:  # import a.b [as m]; usage m.attr
            target = modules.resolve(ref.module, importer=path)
            return self._python_member(target, rest[0], rest[1:], depth) if rest else None
        base = modules.resolve(ref.module, importer=path, level=ref.level)
        if base is None:
            return None
        submodule = modules.is_package_member(base, ref.name)
        if submodule is not None:
            return self._python_member(submodule, rest[0], rest[1:], depth) if rest else None
        return self._python_member(base, ref.name, rest, depth)

    def _python_member(self, target: str | None, name: str, rest: list[str],
                       depth: int) -> tuple[str, Symbol] | None:
        if target is None:
            return None
        found = self._symbol_in(target, name, rest)
        if found is not None or depth >= 3:
            return found
        outline = self._files.outline(target)
        for ref in outline.imports if outline else []:
            if ref.local == name:  # re-exported, e.g. by a package's __init__.py
                return self._python(target, ref, rest, depth + 1)
        return None

    def _symbol_in(self, target: str | None, name: str | None,
                   rest: list[str]) -> tuple[str, Symbol] | None:
        if target is None or not name:
            return None
        outline = self._files.outline(target)
        symbols = outline.top_level(name) if outline else []
        if not symbols or outline is None:
            return None
        symbol = symbols[0]
        if rest:
            symbol = outline.member(symbol, rest[0]) or symbol
        return target, symbol

    def _js_module(self, importer: str, specifier: str) -> str | None:
        if not specifier.startswith("."):
            return None
        joined = posixpath.normpath(posixpath.join(posixpath.dirname(importer), specifier))
        stems = [joined]
        if joined.endswith((".js", ".jsx", ".mjs")):  # TS sources imported as their output
            stems.append(joined.rsplit(".", 1)[0])
        for stem in stems:
            for suffix in _JS_SUFFIXES:
                if stem + suffix in self._files.path_set and language_for(stem + suffix):
                    return stem + suffix
        return None

    def _go(self, ref: ImportRef, rest: list[str]) -> tuple[str, Symbol] | None:
        if not rest:
            return None
        for module_path, root in self._go_module_roots():
            if ref.module == module_path or ref.module.startswith(module_path + "/"):
                directory = posixpath.join(root, ref.module[len(module_path):].lstrip("/"))
                directory = directory.rstrip("/")
                for candidate in self._files.of_family("go"):
                    if (posixpath.dirname(candidate) == directory
                            and not candidate.endswith("_test.go")):
                        hit = self._symbol_in(candidate, rest[0], rest[1:])
                        if hit is not None:
                            return hit
        return None

    def _go_module_roots(self) -> list[tuple[str, str]]:
        if self._go_modules is None:
            roots: list[tuple[str, str]] = []
            for gomod in self._files.by_basename("go.mod"):
                text = self._files.text(gomod) or ""
                match = re.search(r"^module\s+(\S+)", text, re.MULTILINE)
                if match:
                    roots.append((match.group(1), posixpath.dirname(gomod)))
            self._go_modules = roots
        return self._go_modules

class SymbolIndex:
    """Top-level definitions by name, per language family, filled only for names asked for.

    A lookup scans each file's text once for the batch of new names with one regular
    expression and parses only the files that mention one of them.
    """

    def __init__(self, files: RepoFiles, *, max_files: int) -> None:
        self._files = files
        self._max_files = max_files
        self._known: dict[str, dict[str, list[tuple[str, Symbol]]]] = {}

    def lookup(self, fam: str, names: set[str],
               near: set[str]) -> dict[str, list[tuple[str, Symbol]]]:
        known = self._known.setdefault(fam, {})
        new = sorted(n for n in names if n not in known)
        if new:
            for name in new:
                known[name] = []
            candidates = self._files.of_family(fam)
            if len(candidates) > self._max_files:  # too big to scan: only the changed packages
                candidates = [p for p in candidates if posixpath.dirname(p) in near]
            pattern = re.compile(r"\b(?:" + "|".join(map(re.escape, new)) + r")\b")
            for candidate in candidates:
                text = self._files.text(candidate)
                present = set(pattern.findall(text)) if text else set()
                outline = self._files.outline(candidate) if present else None
                for name in sorted(present):
                    for symbol in outline.top_level(name)[:1] if outline else []:
                        known[name].append((candidate, symbol))
        return {n: known[n] for n in names}


def _ordered(found: dict[tuple[str, int, str], Definition]) -> list[Definition]:
    return sorted(found.values(), key=lambda d: (-d.count, d.path, d.symbol.start_line))


def _add(found: dict[tuple[str, int, str], Definition], definition: Definition) -> None:
    key = (definition.path, definition.symbol.start_line, definition.symbol.name)
    previous = found.get(key)
    if previous is None:
        found[key] = definition
    else:
        found[key] = Definition(previous.path, previous.symbol, previous.name,
                                previous.count + definition.count, previous.via)
