"""What to test and how the repository runs its tests: targets from a real diff, the test
command from `.reviewbot.yml`, pytest config, tox or a Makefile, and the answer parsing."""

from __future__ import annotations

from pathlib import Path

import pytest

from reviewers.testgen import generate
from reviewers.testgen.assertions import check_assertions
from reviewers.testgen.model import TestCommand, TestGenOptions
from reviewers.testgen.targets import detect_test_command, find_targets
from reviewers.testgen.validate import path_problem
from tests.gitbuilder import GitRepo
from tests.testgen import shop


class FileTree:
    """A revision held in a dict: enough SourceTree for command detection."""

    revision = "tree"

    def __init__(self, files: dict[str, str]) -> None:
        self.files = files

    def read_bytes(self, path: str) -> bytes | None:
        text = self.files.get(path)
        return None if text is None else text.encode()

    def read_text(self, path: str) -> str | None:
        return self.files.get(path)

    def list_files(self) -> list[str]:
        return sorted(self.files)


CART_BASE = '''\
class Cart:
    def __init__(self):
        self.items = []

    def add(self, price):
        self.items.append(price)

    def count(self):
        return len(self.items)
'''

CART_HEAD = '''\
class Cart:
    def __init__(self):
        self.items = []

    def add(self, price, quantity=1):
        """Add `quantity` items at `price`."""
        if quantity < 1:
            raise ValueError("quantity must be positive")
        self.items.extend([price] * quantity)

    def count(self):
        return len(self.items)
'''


def test_targets_are_the_changed_functions_with_their_tests_and_command(tmp_path: Path) -> None:
    repo = GitRepo(tmp_path / "shop")
    base = repo.commit("shop", {"pyproject.toml": shop.PYPROJECT, "shop/__init__.py": "",
                                "shop/pricing.py": shop.PRICING_BASE, "shop/cart.py": CART_BASE,
                                "tests/test_pricing.py": shop.EXISTING_TEST,
                                "tests/conftest.py": "import pytest\n\n\n@pytest.fixture\n"
                                                     "def cart():\n    return []\n"})
    head = repo.commit("head", {"shop/pricing.py": shop.PRICING_HEAD, "shop/cart.py": CART_HEAD,
                                "tests/test_pricing.py": shop.EXISTING_TEST + "\n# more\n"})
    local, diff = shop.load(repo.root, base, head)
    try:
        found = find_targets(diff, local.tree(head), TestGenOptions())
    finally:
        local.close()
    by_name = {t.name: t for t in found.targets}
    # changed and added functions and the changed method; not count(), not the test file
    assert set(by_name) == {"shop.pricing:total", "shop.pricing:apply_discount",
                            "shop.cart:Cart.add"}
    add = by_name["shop.cart:Cart.add"]
    assert (add.start_line, add.end_line) == (5, 9)
    assert add.callable_name == "add"
    assert add.changed_lines == frozenset({5, 6, 7, 8, 9})
    assert add.measured_lines == frozenset({7, 8, 9})  # body statements, not the docstring
    # the module's tests and the conftest.py that gives them their fixtures
    assert found.existing_tests["shop/pricing.py"] == ["tests/test_pricing.py",
                                                       "tests/conftest.py"]
    assert "def cart():" in found.test_texts["tests/conftest.py"]
    assert "def test_total_adds_prices" in found.test_texts["tests/test_pricing.py"]
    assert found.command == TestCommand(("python", "-m", "pytest"), "pyproject.toml")
    task = generate.testgen_task(found, 3)
    assert "Write 3 candidate test files per target" in task
    assert "### Target shop.cart:Cart.add" in task
    assert "### Existing tests of shop/pricing.py: tests/test_pricing.py" in task


@pytest.mark.parametrize(("files", "configured", "argv", "source"), [
    ({"pyproject.toml": "[tool.pytest.ini_options]\naddopts = '-q'\n"}, "pytest -x --cov=app",
     ("pytest", "-x", "--cov=app"), ".reviewbot.yml"),
    ({"pyproject.toml": "[tool.pytest.ini_options]\naddopts = '-q'\n"}, None,
     ("python", "-m", "pytest"), "pyproject.toml"),
    ({"pytest.ini": "[pytest]\n"}, None, ("python", "-m", "pytest"), "pytest.ini"),
    ({"setup.cfg": "[metadata]\nname = x\n[tool:pytest]\ntestpaths = t\n"}, None,
     ("python", "-m", "pytest"), "setup.cfg"),
    ({"tox.ini": "[tox]\nenvlist = py311\n[testenv]\ndeps = pytest\ncommands =\n"
                 "    pytest --strict-markers {posargs}\n"}, None,
     ("python", "-m", "pytest", "--strict-markers"), "tox.ini"),
    ({"tox.ini": "[tox]\nenvlist = py311\n[testenv]\ncommands = nose2\n"}, None,
     ("tox",), "tox.ini"),
    ({"Makefile": "lint:\n\truff check .\n\ntest: deps\n\t@echo running\n"
                  "\tpython -m pytest -W error::DeprecationWarning tests/\n"}, None,
     ("python", "-m", "pytest", "-W", "error::DeprecationWarning", "tests/"), "Makefile"),
    ({"Makefile": "check:\n\t./run-checks.sh\n"}, None, ("make", "check"), "Makefile"),
    ({"setup.py": "from setuptools import setup\nsetup()\n"}, None,
     ("python", "-m", "pytest"), "default"),
])
def test_the_test_command_is_configured_or_detected(
        files: dict[str, str], configured: str | None, argv: tuple[str, ...],
        source: str) -> None:
    command = detect_test_command(FileTree(files), configured)
    assert command == TestCommand(argv, source)


def test_only_options_that_keep_one_file_runnable_are_reused() -> None:
    command = TestCommand(("pytest", "-x", "--cov=app", "-n", "4", "-m", "not slow",
                           "-W", "error", "--import-mode=importlib", "tests/"), "Makefile")
    assert command.pytest_args == ("-x", "-W", "error", "--import-mode=importlib")
    assert TestCommand(("make", "test"), "Makefile").pytest_args == ()
    assert command.runs_pytest
    assert TestCommand(("python3", "-m", "pytest"), "tox.ini").runs_pytest
    assert not TestCommand(("make", "test"), "Makefile").runs_pytest
    assert not TestCommand(("tox",), "tox.ini").runs_pytest


@pytest.mark.parametrize(("code", "ok"), [
    (shop.GOOD, True),
    (shop.NO_ASSERTIONS, False),
    ("from shop.pricing import apply_discount\n\ndef test_x():\n"
     "    result = apply_discount(10.0, 50)\n    assert result == 5.0\n", True),
    ("import pytest\nfrom shop.pricing import apply_discount\n\ndef test_x():\n"
     "    with pytest.raises(Exception):\n        apply_discount(1.0, 500)\n", False),
    ("from shop.pricing import apply_discount\n\ndef test_x():\n    assert True\n", False),
    ("def helper():\n    pass\n", False),
])
def test_a_candidate_needs_an_assertion_on_the_target(code: str, ok: bool) -> None:
    assert check_assertions(code, {"apply_discount"}).ok is ok


def test_candidates_for_unknown_targets_or_without_code_are_dropped() -> None:
    answer = {"candidates": [
        shop.candidate(shop.GOOD, "./tests/test_discount.py"),
        shop.candidate(shop.GOOD, "tests/test_other.py", target="shop.pricing:nope"),
        shop.candidate("   ", "tests/test_empty.py"),
        "not an object",
    ]}
    found = generate.parse_candidates(answer, {shop.TARGET})
    assert [(ident, c.path) for ident, c in found] == [(None, "tests/test_discount.py")]


@pytest.mark.parametrize(("path", "problem"), [
    ("tests/test_discount.py", None),
    ("pkg/discount_test.py", None),
    ("../outside/test_x.py", "leaves the repository"),
    ("/etc/test_x.py", "leaves the repository"),
    ("tests/helper.py", "not a pytest test file"),
    (".github/test_x.py", "inside .github"),
    ("tests/test_x -->\n<!-- y.py", "may only hold"),
])
def test_a_proposed_test_path_must_be_a_new_test_file_inside_the_repository(
        path: str, problem: str | None) -> None:
    found = path_problem(path)
    assert (found is None) if problem is None else (found is not None and problem in found)
