"""Python context: enclosing definitions and definitions reached through imports."""

from __future__ import annotations

from tests.reviewers.context.conftest import MakeChange

SHAPES = '''\
"""Shapes."""


class Square:
    def __init__(self, side):
        self.side = side

    def area(self):
        """The area."""
        side = self.side
        result = side * side
        if result < 0:
            raise ValueError(side)
        result = int(result)
        assert result >= 0
        return result

    def perimeter(self):
        return 4 * self.side


LIMIT = 10
'''


def test_enclosing_method_of_a_changed_line(make_change: MakeChange) -> None:
    after = SHAPES.replace("result = side * side", "result = side ** 2")
    change = make_change({"shapes.py": SHAPES}, {"shapes.py": after})

    enclosing = change.items("enclosing")
    assert [(i.symbol, i.start_line, i.end_line) for i in enclosing] == [
        ("Square.area", 8, 16)]
    assert enclosing[0].text.splitlines()[0] == "    def area(self):"
    assert "        result = side ** 2" in enclosing[0].text.splitlines()
    assert enclosing[0].origins == ("shapes.py",)


def test_fully_visible_function_gives_its_class_instead(make_change: MakeChange) -> None:
    after = SHAPES.replace("return 4 * self.side", "return 4.0 * self.side")
    change = make_change({"shapes.py": SHAPES}, {"shapes.py": after})

    # `perimeter` is entirely inside the hunk; the class around it is what the diff lacks
    assert [(i.symbol, i.start_line, i.end_line) for i in change.items("enclosing")] == [
        ("Square", 4, 19)]


def test_top_level_change_has_no_enclosing_definition(make_change: MakeChange) -> None:
    change = make_change({"shapes.py": SHAPES},
                         {"shapes.py": SHAPES.replace("LIMIT = 10", "LIMIT = 11")})
    assert change.items("enclosing") == []


def test_long_function_keeps_a_window_around_the_change(make_change: MakeChange) -> None:
    body = "".join(f"    x{i} = {i}\n" for i in range(400))
    before = f"def big():\n{body}    return x0\n"
    after = before.replace("    x300 = 300\n", "    x300 = -300\n")
    from reviewers.context import ContextLimits

    change = make_change({"big.py": before}, {"big.py": after},
                         limits=ContextLimits(max_item_lines=50))
    item = change.item("enclosing", "big.py", "big")
    assert item.truncated
    assert item.end_line - item.start_line + 1 <= 50
    assert item.start_line <= 302 <= item.end_line  # the changed line is in the window
    assert "x300 = -300" in item.text


UTIL = '''\
def helper(value):
    return value.strip()


def unused():
    return None
'''
PKG_MAIN = '''\
import os

from pkg.util import helper, unused


def run(text):
    return text
'''


def test_absolute_import_leads_to_the_definition(make_change: MakeChange) -> None:
    after = PKG_MAIN.replace("    return text", "    return helper(os.path.basename(text))")
    change = make_change(
        {"pkg/__init__.py": "", "pkg/util.py": UTIL, "pkg/main.py": PKG_MAIN},
        {"pkg/main.py": after})

    definitions = change.items("definition")
    assert [(d.path, d.symbol, d.start_line, d.end_line) for d in definitions] == [
        ("pkg/util.py", "helper", 1, 2)]  # not `unused`, not the stdlib `os`
    assert definitions[0].text.startswith("def helper(value):")
    assert "pkg/main.py" in definitions[0].reason


def test_relative_imports_module_aliases_and_reexports(make_change: MakeChange) -> None:
    files = {
        "src/app/__init__.py": "",
        "src/app/config.py": "TIMEOUT = 30\n\n\ndef load():\n    return {}\n",
        "src/app/models/__init__.py": "from .user import User\n",
        "src/app/models/user.py": "class User:\n    def save(self):\n        return True\n",
        "src/app/services/__init__.py": "",
        "src/app/services/text.py": "def slug(s):\n    return s.lower()\n",
        "src/app/services/signup.py": (
            "from .. import config\nfrom ..models import User\n"
            "import app.services.text as t\n\n\ndef signup(name):\n    return name\n"),
    }
    after = files["src/app/services/signup.py"].replace(
        "    return name",
        "    user = User()\n    user.save()\n    return t.slug(name), config.TIMEOUT, User.save")
    change = make_change(files, {"src/app/services/signup.py": after})

    found = {(d.path, d.symbol) for d in change.items("definition")}
    assert found == {
        ("src/app/config.py", "TIMEOUT"),           # from .. import module; module.attr
        ("src/app/models/user.py", "User"),         # from ..models import (re-exported)
        ("src/app/services/text.py", "slug"),       # import a.b.c as alias; alias.attr
    }
    # `User.save` narrowed to the method, which lies inside `User`: one merged region
    user = change.item("definition", "src/app/models/user.py")
    assert (user.start_line, user.end_line) == (1, 3)
    assert user.text.startswith("class User:")
    assert "`User.save`" in user.reason
    assert "`User`" in user.reason


def test_definitions_are_ranked_by_reference_count(make_change: MakeChange) -> None:
    lib = "def often():\n    return 1\n\n\ndef once():\n    return 2\n"
    main = "from lib import often, once\n\n\ndef f():\n    return 0\n"
    after = main.replace("    return 0", "    return often() + often() + often() + once()")
    change = make_change({"lib.py": lib, "main.py": main}, {"main.py": after})

    definitions = change.items("definition")
    assert [d.symbol for d in definitions] == ["often", "once"]
    assert definitions[0].score > definitions[1].score
    assert "3x" in definitions[0].reason


def test_unparsable_python_is_noted_not_fatal(make_change: MakeChange) -> None:
    change = make_change({"bad.py": "def f(:\n    pass\n"},
                         {"bad.py": "def f(:\n    return 1\n"})
    assert change.items("enclosing") == []
    assert any("bad.py" in note for note in change.pack.notes)
