"""A per-build cache over a `SourceTree`: each file is read, split and parsed at most once."""

from __future__ import annotations

import logging

from reviewers.context.outline import Outline
from reviewers.context.python import PythonModules, outline_python
from reviewers.context.treesitter import outline_treesitter, supports
from reviewers.source import SourceTree

log = logging.getLogger(__name__)

_LANGUAGE_BY_SUFFIX = {
    ".py": "python", ".pyi": "python",
    ".js": "javascript", ".jsx": "javascript", ".mjs": "javascript", ".cjs": "javascript",
    ".ts": "typescript", ".mts": "typescript", ".cts": "typescript", ".tsx": "tsx",
    ".go": "go", ".java": "java",
}
# Languages whose files may define each other's names.
_FAMILY = {"javascript": "js", "typescript": "js", "tsx": "js"}


def language_for(path: str) -> str | None:
    """The language of a path from its suffix, or None for languages we do not outline."""
    base = path.rsplit("/", 1)[-1]
    dot = base.rfind(".")
    return _LANGUAGE_BY_SUFFIX.get(base[dot:].lower()) if dot > 0 else None


def family(language: str) -> str:
    return _FAMILY.get(language, language)


def path_distance(a: str, b: str) -> int:
    """Steps between two directories through their common ancestor."""
    pa, pb = a.split("/") if a else [], b.split("/") if b else []
    common = 0
    for x, y in zip(pa, pb, strict=False):
        if x != y:
            break
        common += 1
    return len(pa) + len(pb) - 2 * common


class RepoFiles:
    """Lazy, memoised view of the head revision for one `build_context` call."""

    def __init__(self, tree: SourceTree, *, max_file_bytes: int = 1_000_000) -> None:
        self._tree = tree
        self._max_file_bytes = max_file_bytes
        self._paths: list[str] | None = None
        self._path_set: set[str] | None = None
        self._by_basename: dict[str, list[str]] | None = None
        self._by_family: dict[str, list[str]] | None = None
        self._text: dict[str, str | None] = {}
        self._lines: dict[str, list[str]] = {}
        self._outline: dict[str, Outline | None] = {}
        self._python_modules: PythonModules | None = None
        self.notes: list[str] = []

    @property
    def paths(self) -> list[str]:
        if self._paths is None:
            self._paths = sorted(self._tree.list_files())
        return self._paths

    @property
    def path_set(self) -> set[str]:
        if self._path_set is None:
            self._path_set = set(self.paths)
        return self._path_set

    def by_basename(self, name: str) -> list[str]:
        if self._by_basename is None:
            index: dict[str, list[str]] = {}
            for path in self.paths:
                index.setdefault(path.rsplit("/", 1)[-1], []).append(path)
            self._by_basename = index
        return self._by_basename.get(name, [])

    def of_family(self, fam: str) -> list[str]:
        if self._by_family is None:
            index: dict[str, list[str]] = {}
            for path in self.paths:
                language = language_for(path)
                if language is not None:
                    index.setdefault(family(language), []).append(path)
            self._by_family = index
        return self._by_family.get(fam, [])

    @property
    def python_modules(self) -> PythonModules:
        if self._python_modules is None:
            self._python_modules = PythonModules(self.path_set)
        return self._python_modules

    def text(self, path: str) -> str | None:
        if path not in self._text:
            text = self._tree.read_text(path)
            if text is not None and len(text) > self._max_file_bytes:
                self.notes.append(f"{path}: larger than {self._max_file_bytes} bytes, not parsed")
                text = None
            self._text[path] = text
        return self._text[path]

    def lines(self, path: str) -> list[str]:
        if path not in self._lines:
            text = self.text(path)
            self._lines[path] = text.splitlines() if text is not None else []
        return self._lines[path]

    def outline(self, path: str) -> Outline | None:
        """The parsed outline, or None for unsupported languages and unreadable files."""
        if path in self._outline:
            return self._outline[path]
        result: Outline | None = None
        language = language_for(path)
        text = self.text(path) if language is not None else None
        if language is not None and text is not None:
            if language == "python":
                result = outline_python(text)
            elif supports(language):
                result = outline_treesitter(text, language)
            if result is not None and result.error and language == "python":
                self.notes.append(f"{path}: {result.error}")
                log.info("context.parse_failed", extra={"path": path, "error": result.error})
        self._outline[path] = result
        return result

    def snippet(self, path: str, start: int, end: int) -> str:
        return "\n".join(self.lines(path)[start - 1:end])
