"""Related tests and repository conventions, and the ranking of the whole pack."""

from __future__ import annotations

from reviewers.context import ContextLimits
from tests.reviewers.context.conftest import MakeChange

CALC = "def add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n    return a - b\n"


def test_python_tests_by_name_and_by_import(make_change: MakeChange) -> None:
    files = {
        "calc/__init__.py": "",
        "calc/ops.py": CALC,
        "tests/test_ops.py": "from calc.ops import add\n\n\ndef test_add():\n    assert add(1)\n",
        "tests/integration/test_flow.py": (
            "import os\n\nfrom calc.ops import sub\n\n\ndef test_env():\n    assert os.sep\n\n\n"
            "def test_sub():\n    assert sub(3, 2) == 1\n"),
        "tests/test_other.py": "def test_nothing():\n    assert True\n",
    }
    change = make_change(files, {"calc/ops.py": CALC.replace("a - b", "b - a")},
                         limits=ContextLimits(max_tests_per_file=3))

    assert change.paths("test") == {"tests/test_ops.py", "tests/integration/test_flow.py"}
    by_name = change.item("test", "tests/test_ops.py")
    by_import = change.item("test", "tests/integration/test_flow.py")
    assert by_name.score > by_import.score
    # the importing test module contributes only the test that calls the changed function
    assert (by_import.symbol, by_import.start_line) == ("test_sub", 10)
    assert "imports calc.ops" in by_import.reason


def test_tests_for_go_typescript_and_java(make_change: MakeChange) -> None:
    files = {
        "pkg/sum.go": "package pkg\n\nfunc Sum(a, b int) int {\n\treturn a + b\n}\n",
        "pkg/sum_test.go": ('package pkg\n\nimport "testing"\n\nfunc TestSum(t *testing.T) {\n'
                            "\tif Sum(1, 2) != 3 {\n\t\tt.Fail()\n\t}\n}\n"),
        "other/sum_test.go": "package other\n",
        "web/format.ts": "export function fmt(x: number): string {\n  return `${x}`;\n}\n",
        "web/format.test.ts": "import { fmt } from './format';\ntest('fmt', () => fmt(1));\n",
        "src/Parser.java": "class Parser {\n    int parse() {\n        return 1;\n    }\n}\n",
        "test/ParserTest.java": "class ParserTest {\n    void testParse() { new Parser(); }\n}\n",
    }
    change = make_change(files, {
        "pkg/sum.go": files["pkg/sum.go"].replace("a + b", "b + a"),
        "web/format.ts": files["web/format.ts"].replace("`${x}`", "String(x)"),
        "src/Parser.java": files["src/Parser.java"].replace("return 1", "return 2"),
    })
    assert change.paths("test") == {"pkg/sum_test.go", "web/format.test.ts",
                                    "test/ParserTest.java"}
    assert change.item("test", "pkg/sum_test.go").symbol == "TestSum"


PYPROJECT = """\
[project]
name = "demo"
dependencies = ["requests"]

[tool.ruff]
line-length = 88

[tool.ruff.lint]
select = ["E", "F"]

[tool.setuptools]
packages = ["demo"]
"""


def test_conventions_for_the_changed_languages(make_change: MakeChange) -> None:
    files = {
        "pyproject.toml": PYPROJECT,
        ".editorconfig": "root = true\n[*]\nindent_style = space\n",
        "CONTRIBUTING.md": "# Contributing\n\nUse type hints everywhere.\n",
        ".eslintrc.json": '{"rules": {"semi": "error"}}\n',
        "setup.cfg": "[metadata]\nname = demo\n\n[flake8]\nmax-line-length = 88\n",
        "demo.py": "X = 1\n",
    }
    change = make_change(files, {"demo.py": "X = 2\n"})

    assert change.paths("convention") == {"pyproject.toml", ".editorconfig", "CONTRIBUTING.md",
                                          "setup.cfg"}  # no eslint config for a Python change
    pyproject = change.item("convention", "pyproject.toml")
    assert "line-length = 88" in pyproject.text
    assert 'select = ["E", "F"]' in pyproject.text
    assert "[project]" not in pyproject.text
    assert "setuptools" not in pyproject.text
    assert change.item("convention", "setup.cfg").text == "[flake8]\nmax-line-length = 88"
    assert pyproject.origins == ("demo.py",)
    assert change.item("convention", "CONTRIBUTING.md").origins == ()  # every file


def test_long_conventions_are_truncated_and_say_so(make_change: MakeChange) -> None:
    guide = "# Contributing\n" + "".join(f"Rule {i}: be nice.\n" for i in range(500))
    change = make_change({"CONTRIBUTING.md": guide, "a.py": "A = 1\n"}, {"a.py": "A = 2\n"},
                         limits=ContextLimits(max_convention_chars=200))
    item = change.item("convention", "CONTRIBUTING.md")
    assert item.truncated
    assert len(item.text) <= 200
    assert "truncated" in item.reason


def test_pack_is_ranked_enclosing_definition_test_convention(make_change: MakeChange) -> None:
    lib = "def helper(x):\n    return x\n"
    ops = ("from lib import helper\n\n\ndef add(a, b):\n" + "".join(
        f"    a{i} = {i}\n" for i in range(10)) + "    return a + b\n")
    files = {"lib.py": lib, "ops.py": ops, "CONTRIBUTING.md": "Be kind.\n",
             "tests/test_ops.py": "from ops import add\n\n\ndef test_add():\n    assert add(1)\n"}
    change = make_change(files, {"ops.py": ops.replace("    a5 = 5\n", "    a5 = helper(5)\n")})

    kinds = [item.kind for item in change.pack.items]
    assert kinds == ["enclosing", "definition", "test", "convention"]
    scores = [item.score for item in change.pack.items]
    assert scores == sorted(scores, reverse=True)


def test_deleted_and_binary_files_get_no_context(make_change: MakeChange) -> None:
    change = make_change({"gone.py": CALC, "keep.py": "A = 1\n"},
                         {"keep.py": "A = 1\n", "logo.png": "\x00\x01binary"})
    assert change.pack.items == []


def test_same_named_tests_prefer_the_mirrored_package(make_change: MakeChange) -> None:
    files = {f"app/{pkg}/util.py": "def f():\n    return 1\n" for pkg in ("alpha", "beta", "gamma")}
    files |= {f"tests/{pkg}/test_util.py": "def test_f():\n    assert True\n"
              for pkg in ("alpha", "beta", "gamma")}
    change = make_change(files, {"app/gamma/util.py": "def f():\n    return 2\n"},
                         limits=ContextLimits(max_tests_per_file=1))
    assert change.paths("test") == {"tests/gamma/test_util.py"}
