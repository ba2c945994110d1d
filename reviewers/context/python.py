"""Python outlines with the stdlib `ast`: definitions, imports, and module-name resolution."""

from __future__ import annotations

import ast
from collections.abc import Iterable

from reviewers.context.outline import ImportRef, Outline, Symbol

_BLOCK_FIELDS = ("body", "orelse", "handlers", "finalbody", "cases")


def outline_python(text: str) -> Outline:
    """Parse `text` once; a syntax error gives an empty outline with `error` set."""
    outline = Outline(language="python")
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError) as exc:  # ValueError: null bytes in the source
        outline.error = f"not parsed as Python: {exc}"
        return outline
    _walk(tree.body, outline, prefix="", top_level=True, in_class=False)
    outline.symbols.sort(key=lambda s: (s.start_line, -s.end_line))
    return outline


_DEFS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
# statements that hold other statements; simple ones (assignments, calls...) are skipped fast
_COMPOUND = (ast.If, ast.For, ast.AsyncFor, ast.While, ast.With, ast.AsyncWith, ast.Try,
             ast.TryStar, ast.Match)


def _walk(stmts: Iterable[ast.stmt], outline: Outline, *, prefix: str,
          top_level: bool, in_class: bool) -> None:
    for node in stmts:
        if isinstance(node, _DEFS):
            start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            end = node.end_lineno or node.lineno
            is_class = isinstance(node, ast.ClassDef)
            kind = "class" if is_class else ("method" if in_class else "function")
            qual = f"{prefix}{node.name}"
            outline.symbols.append(Symbol(node.name, kind, start, end, qual, top_level))
            _walk(node.body, outline, prefix=f"{qual}.", top_level=False, in_class=is_class)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                outline.imports.append(ImportRef(alias.asname or alias.name, alias.name, None))
        elif isinstance(node, ast.ImportFrom):
            for alias in node.names:
                if alias.name != "*":
                    outline.imports.append(ImportRef(
                        alias.asname or alias.name, node.module or "", alias.name, node.level))
        elif top_level and isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            end = node.end_lineno or node.lineno
            for target in targets:
                if isinstance(target, ast.Name):
                    outline.symbols.append(Symbol(
                        target.id, "variable", node.lineno, end, target.id, True))
        elif isinstance(node, _COMPOUND):
            _walk(_inner_statements(node), outline, prefix=prefix, top_level=top_level,
                  in_class=in_class)


def _inner_statements(node: ast.stmt) -> list[ast.stmt]:
    inner: list[ast.stmt] = []
    for name in _BLOCK_FIELDS:
        for child in getattr(node, name, ()):
            # except handlers and match cases wrap their own statement lists
            if isinstance(child, ast.ExceptHandler | ast.match_case):
                inner.extend(child.body)
            else:
                inner.append(child)
    return inner


class PythonModules:
    """Maps dotted module names to repository files, given the set of files."""

    def __init__(self, files: set[str]) -> None:
        self._files = files
        roots = {"", "src/"}
        for path in files:
            base = path.rsplit("/", 1)[-1]
            if base in ("pyproject.toml", "setup.py", "setup.cfg") and "/" in path:
                root = path.rsplit("/", 1)[0] + "/"
                roots.update((root, root + "src/"))
        self._roots = sorted(roots, key=lambda r: (len(r), r))

    def resolve(self, module: str, *, importer: str, level: int = 0) -> str | None:
        """The file for `module` as imported from `importer`, or None if not in the repo."""
        if level:
            parts = importer.split("/")[:-1]
            if level - 1 > len(parts):
                return None
            base = parts[: len(parts) - (level - 1)]
            rel = "/".join([*base, *module.split(".")]) if module else "/".join(base)
            return self._module_file(rel) if rel else self._module_file("__init__")
        rel = module.replace(".", "/")
        here = importer.rsplit("/", 1)[0] + "/" if "/" in importer else ""
        for root in [*self._roots, here]:
            found = self._module_file(root + rel)
            if found is not None:
                return found
        return None

    def is_package_member(self, package_file: str, name: str) -> str | None:
        """The submodule file `name` of the package whose `__init__.py` is `package_file`."""
        if not package_file.endswith("__init__.py"):
            return None
        return self._module_file(package_file[: -len("__init__.py")] + name)

    def _module_file(self, rel: str) -> str | None:
        rel = rel.rstrip("/")
        for candidate in (f"{rel}.py", f"{rel}/__init__.py", f"{rel}.pyi"):
            if candidate in self._files:
                return candidate
        return None

    def module_name(self, path: str) -> str:
        """The dotted name of a repository file, relative to its longest matching root."""
        stem = path[:-3] if path.endswith(".py") else path
        for root in sorted(self._roots, key=len, reverse=True):
            if root and stem.startswith(root):
                stem = stem[len(root):]
                break
        if stem.endswith("/__init__"):
            stem = stem[: -len("/__init__")]
        return stem.replace("/", ".")
