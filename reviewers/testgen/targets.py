"""Find what to test: functions and methods the diff adds or changes, their tests, the command."""

from __future__ import annotations

import ast
import configparser
import logging
import re
import shlex
import tomllib

from reviewers.context.files import RepoFiles
from reviewers.context.tests_finder import TestFinder, is_test_path
from reviewers.diff import ReviewDiff
from reviewers.source import SourceTree
from reviewers.testgen.model import Target, TargetSet, TestCommand, TestGenOptions

log = logging.getLogger(__name__)

_MAKE_TEST = re.compile(r"^(test|tests|check)\s*:", re.MULTILINE)


def find_targets(diff: ReviewDiff, head: SourceTree, options: TestGenOptions) -> TargetSet:
    """Targets in changed Python modules (not tests), their existing tests, the test command."""
    files = RepoFiles(head)
    finder = TestFinder(files)
    targets: list[Target] = []
    existing: dict[str, list[str]] = {}
    texts: dict[str, str] = {}
    for file_diff in diff.files:
        path = file_diff.path
        if (not file_diff.reviewable or not path.endswith(".py") or is_test_path(path)
                or path.rsplit("/", 1)[-1] in ("conftest.py", "setup.py")):
            continue
        source = head.read_text(path)
        added = file_diff.added_lines()
        if source is None or not added:
            continue
        module = files.python_modules.module_name(path)
        found = definitions_touching(source, added, path=path, module=module)
        if not found:
            continue
        targets.extend(found)
        related = [t.path for t in finder.find(path, limit=3)]
        related += [c for c in _conftests(related, head) if c not in related]
        existing[path] = related
        for test_path in related:
            if test_path not in texts:
                text = head.read_text(test_path) or ""
                texts[test_path] = text[: options.max_existing_test_chars]
    return TargetSet(targets=targets[: options.max_targets], existing_tests=existing,
                     test_texts=texts, command=detect_test_command(head, options.test_command),
                     test_directory=options.test_directory)


def _conftests(test_paths: list[str], head: SourceTree) -> list[str]:
    """The conftest.py files that give the related tests their fixtures (root first)."""
    found: list[str] = []
    for test_path in test_paths:
        parts = test_path.split("/")[:-1]
        for depth in range(len(parts) + 1):
            candidate = "/".join([*parts[:depth], "conftest.py"])
            if candidate not in found and head.read_text(candidate) is not None:
                found.append(candidate)
    return found


def definitions_touching(source: str, added: set[int], *, path: str, module: str
                         ) -> list[Target]:
    """The innermost functions/methods whose line range holds an added line."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        log.info("changed module does not parse; no test targets", extra={"path": path})
        return []
    lines = source.splitlines()
    found: list[Target] = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ClassDef):
                visit(child, f"{prefix}{child.name}.")
            elif isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                start = min([child.lineno, *(d.lineno for d in child.decorator_list)])
                end = child.end_lineno or child.lineno
                touched = frozenset(n for n in added if start <= n <= end)
                if touched:  # nested functions are tested through their outer one
                    body = body_statement_lines(child)
                    found.append(Target(path=path, module=module,
                                        qualname=f"{prefix}{child.name}", start_line=start,
                                        end_line=end, changed_lines=touched,
                                        source="\n".join(lines[start - 1:end]),
                                        measured_lines=frozenset(body & touched) or body))

    visit(tree, "")
    return found


def body_statement_lines(func: ast.FunctionDef | ast.AsyncFunctionDef) -> frozenset[int]:
    """Lines where coverage.py records the function's body statements (no docstring)."""
    body = list(func.body)
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
            and isinstance(body[0].value.value, str):
        body = body[1:]
    lines: set[int] = set()
    for stmt in body:
        lines |= {n.lineno for n in ast.walk(stmt) if isinstance(n, ast.stmt)}
    return frozenset(lines)


def detect_test_command(head: SourceTree, configured: str | None) -> TestCommand:
    """`.reviewbot.yml` tests.command, else pytest config, tox or a Makefile test target.

    A tox env or Makefile target that calls pytest yields that pytest command (its options
    are kept for validation runs); one that does not is named as found, and validation
    then runs plain pytest.
    """
    if configured:
        return TestCommand(tuple(shlex.split(configured)), ".reviewbot.yml")
    pyproject = head.read_text("pyproject.toml")
    if pyproject:
        try:
            data = tomllib.loads(pyproject)
        except tomllib.TOMLDecodeError:
            data = {}
        pytest_conf = data.get("tool", {}).get("pytest", {})
        if isinstance(pytest_conf, dict) and "ini_options" in pytest_conf:
            return TestCommand(PYTEST, "pyproject.toml")
    if head.read_text("pytest.ini") is not None:
        return TestCommand(PYTEST, "pytest.ini")
    for name, section in (("setup.cfg", "tool:pytest"), ("tox.ini", "pytest")):
        text = head.read_text(name)
        if text and _config(text).has_section(section):
            return TestCommand(PYTEST, name)
    tox = head.read_text("tox.ini")
    if tox and _config(tox).has_section("tox"):
        commands = _config(tox).get("testenv", "commands", fallback="")
        return TestCommand(_pytest_line(commands.splitlines()) or ("tox",), "tox.ini")
    makefile = head.read_text("Makefile")
    if makefile:
        match = _MAKE_TEST.search(makefile)
        if match:
            recipe = _make_recipe(makefile, match.end())
            return TestCommand(_pytest_line(recipe) or ("make", match.group(1)), "Makefile")
    return TestCommand(PYTEST, "default")


PYTEST = ("python", "-m", "pytest")


def _pytest_line(lines: list[str]) -> tuple[str, ...] | None:
    """The first command line that runs pytest, without tox/make placeholders."""
    for line in lines:
        text = line.strip().lstrip("@-").strip()
        try:
            argv = [a for a in shlex.split(text) if "{" not in a and "$" not in a]
        except ValueError:
            continue
        if not argv:
            continue
        if argv[0] in ("pytest", "py.test") or argv[0].endswith("/pytest"):
            return (*PYTEST, *argv[1:])
        if len(argv) > 2 and argv[1:3] == ["-m", "pytest"]:
            return (*PYTEST, *argv[3:])
    return None


def _make_recipe(makefile: str, after: int) -> list[str]:
    """The tab-indented recipe lines following a target's rule line."""
    lines = makefile[after:].splitlines()[1:]
    recipe = []
    for line in lines:
        if not line.startswith("\t"):
            break
        recipe.append(line[1:])
    return recipe


def _config(text: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        parser.read_string(text)
    except configparser.Error:
        return configparser.ConfigParser(interpolation=None)
    return parser
