"""Find the tests that exercise a changed source file, by naming convention or by import."""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass

from reviewers.context.files import RepoFiles, language_for, path_distance

_JS_EXTS = (".ts", ".tsx", ".js", ".jsx", ".mjs", ".cjs")


@dataclass(frozen=True, slots=True)
class RelatedTest:
    path: str
    reason: str
    by_name: bool  # matched by file-name convention (stronger than "imports the module")


def is_test_path(path: str) -> bool:
    base = path.rsplit("/", 1)[-1]
    stem = base.split(".", 1)[0]
    return (base.startswith("test_") or stem.endswith(("_test", "Test", "Tests", "IT"))
            or ".test." in base or ".spec." in base or "/__tests__/" in f"/{path}"
            or (base.startswith("Test") and base.endswith(".java")))


class TestFinder:
    """Related tests per changed file; the list of Python test files is built once, lazily."""

    def __init__(self, files: RepoFiles) -> None:
        self._files = files
        self._python_tests: list[str] | None = None

    def find(self, path: str, *, limit: int) -> list[RelatedTest]:
        language = language_for(path)
        if language is None or is_test_path(path):
            return []
        base = path.rsplit("/", 1)[-1]
        stem = base.split(".", 1)[0]
        if language == "python":
            names = [f"test_{stem}.py", f"{stem}_test.py", f"tests_{stem}.py"]
        elif language == "go":
            names = [f"{stem}_test.go"]
        elif language == "java":
            names = [f"{stem}Test.java", f"{stem}Tests.java", f"Test{stem}.java", f"{stem}IT.java"]
        else:
            names = [f"{stem}{kind}{ext}" for kind in (".test", ".spec") for ext in _JS_EXTS]
        here = posixpath.dirname(path)
        found: list[RelatedTest] = []
        for name in names:
            for candidate in self._files.by_basename(name):
                if language == "go" and posixpath.dirname(candidate) != here:
                    continue  # Go tests live in the package's own directory
                found.append(RelatedTest(candidate, f"named after {base}", by_name=True))
        # several packages may have a test_<name>.py: prefer the one mirroring the path
        folders = set(here.split("/"))
        found.sort(key=lambda t: (-len(folders & set(posixpath.dirname(t.path).split("/"))),
                                  path_distance(here, posixpath.dirname(t.path)), t.path))
        if language == "python" and len(found) < limit:
            seen = {t.path for t in found}
            found.extend(t for t in self._python_importers(path) if t.path not in seen)
        return found[:limit]

    def _python_importers(self, path: str) -> list[RelatedTest]:
        if self._python_tests is None:
            self._python_tests = [p for p in self._files.of_family("python")
                                  if is_test_path(p) or "/tests/" in f"/{p}"]
        module = self._files.python_modules.module_name(path)
        parent, _, leaf = module.rpartition(".")
        if leaf == "__init__" or not leaf:
            return []
        imports = re.compile(
            rf"^\s*(?:from\s+{re.escape(module)}\s+import|import\s+{re.escape(module)}\b"
            + (rf"|from\s+{re.escape(parent)}\s+import\s+[^\n]*\b{re.escape(leaf)}\b" if parent
               else "") + ")", re.MULTILINE)
        found = []
        for candidate in self._python_tests:
            text = self._files.text(candidate)
            if text and leaf in text and imports.search(text):
                found.append(RelatedTest(candidate, f"imports {module}", by_name=False))
        return found
