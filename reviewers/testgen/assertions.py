"""Does a test check the target's behaviour? An AST check for assertions on its results.

A test function counts when one of its `assert` statements, `self.assert*` calls or
`pytest.raises(SomeError)` blocks involves a call of the target — directly or through a
variable derived from such a call. "It does not raise" and `pytest.raises(Exception)`
do not count. Every test function of the file must qualify.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

_BROAD = frozenset({"Exception", "BaseException"})


@dataclass(frozen=True, slots=True)
class AssertionVerdict:
    ok: bool
    detail: str
    checked: list[str]  # test functions with a real assertion


def check_assertions(code: str, callable_names: set[str]) -> AssertionVerdict:
    """Judge a candidate file against the names of its targets (functions/methods/classes)."""
    try:
        tree = ast.parse(code)
    except SyntaxError as exc:
        return AssertionVerdict(False, f"syntax error: {exc}", [])
    tests = list(_test_functions(tree))
    if not tests:
        return AssertionVerdict(False, "no test functions (test_*) in the file", [])
    good: list[str] = []
    weak: list[str] = []
    for name, func in tests:
        (good if _asserts_on_target(func, callable_names) else weak).append(name)
    if weak:
        return AssertionVerdict(
            False, "no assertion on the target's result in: " + ", ".join(weak), good)
    return AssertionVerdict(True, "assertions on the target in: " + ", ".join(good), good)


def _test_functions(tree: ast.Module) -> list[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]]:
    found: list[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]] = []
    for node in tree.body:
        if (isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
                and node.name.startswith("test")):
            found.append((node.name, node))
        elif isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
            for item in node.body:
                if (isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef)
                        and item.name.startswith("test")):
                    found.append((f"{node.name}.{item.name}", item))
    return found


def _calls_target(node: ast.AST, names: set[str], tainted: set[str]) -> bool:
    """Does the expression call a target or read a variable derived from one?"""
    for sub in ast.walk(node):
        if isinstance(sub, ast.Call):
            func = sub.func
            if (isinstance(func, ast.Name) and func.id in names) or (
                    isinstance(func, ast.Attribute) and func.attr in names):
                return True
        if isinstance(sub, ast.Name) and sub.id in tainted:
            return True
    return False


def _bound_names(target: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(target) if isinstance(n, ast.Name)}


def _asserts_on_target(func: ast.FunctionDef | ast.AsyncFunctionDef, names: set[str]) -> bool:
    tainted: set[str] = set()
    statements = sorted((n for n in ast.walk(func) if isinstance(n, ast.stmt)),
                        key=lambda n: (n.lineno, n.col_offset))
    for stmt in statements:
        if isinstance(stmt, ast.Assign | ast.AnnAssign | ast.AugAssign) and stmt.value:
            if _calls_target(stmt.value, names, tainted):
                targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
                for target in targets:
                    tainted |= _bound_names(target)
        elif isinstance(stmt, ast.For | ast.AsyncFor) and _calls_target(stmt.iter, names, tainted):
            tainted |= _bound_names(stmt.target)
        elif isinstance(stmt, ast.With | ast.AsyncWith):
            if _specific_raises(stmt) and any(
                    _calls_target(s, names, tainted) for s in stmt.body):
                return True
            for item in stmt.items:
                if item.optional_vars is not None and _calls_target(
                        item.context_expr, names, tainted):
                    tainted |= _bound_names(item.optional_vars)
        elif (isinstance(stmt, ast.Assert) and _calls_target(stmt.test, names, tainted)) or (
                isinstance(stmt, ast.Expr) and _is_self_assert(stmt.value)
                and _calls_target(stmt.value, names, tainted)):
            return True
    return False


def _is_self_assert(node: ast.expr) -> bool:
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and node.func.attr.startswith("assert") and node.func.attr != "assert_called"
            and isinstance(node.func.value, ast.Name) and node.func.value.id == "self")


def _specific_raises(stmt: ast.With | ast.AsyncWith) -> bool:
    """`pytest.raises(X)` / `self.assertRaises(X)` with X narrower than Exception."""
    for item in stmt.items:
        call = item.context_expr
        if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)):
            continue
        if call.func.attr not in ("raises", "assertRaises", "assertRaisesRegex"):
            continue
        if not call.args:
            continue
        expected = call.args[0]
        names = {n.id for n in ast.walk(expected) if isinstance(n, ast.Name)}
        names |= {n.attr for n in ast.walk(expected) if isinstance(n, ast.Attribute)}
        if names and not names <= _BROAD | {"pytest", "builtins"}:
            return True
    return False
