"""JavaScript, TypeScript, Go and Java context through tree-sitter."""

from __future__ import annotations

from tests.reviewers.context.conftest import MakeChange


def pad(n: int, indent: str, stmt: str) -> str:
    return "".join(f"{indent}{stmt.format(i=i)}\n" for i in range(n))


def test_javascript_enclosing_method(make_change: MakeChange) -> None:
    before = ("export class Cart {\n  total(items) {\n"
              + pad(8, "    ", "let a{i} = {i};") + "    return items.length;\n  }\n}\n")
    after = before.replace("let a4 = 4;", "let a4 = 40;")
    change = make_change({"web/cart.js": before}, {"web/cart.js": after})

    item = change.item("enclosing", "web/cart.js")
    assert (item.symbol, item.start_line, item.end_line) == ("Cart.total", 2, 12)


def test_typescript_enclosing_arrow_function(make_change: MakeChange) -> None:
    before = ("import { z } from 'zod';\n\nexport const price = (n: number): number => {\n"
              + pad(8, "  ", "const v{i}: number = n * {i};") + "  return n;\n};\n")
    after = before.replace("n * 5;", "n * 50;")
    change = make_change({"src/price.ts": before}, {"src/price.ts": after})

    item = change.item("enclosing", "src/price.ts")
    assert (item.symbol, item.start_line, item.end_line) == ("price", 3, 13)


def test_go_enclosing_method(make_change: MakeChange) -> None:
    before = ("package store\n\ntype Store struct{ n int }\n\nfunc (s *Store) Add(x int) int {\n"
              + pad(8, "\t", "s.n += {i}") + "\treturn s.n\n}\n")
    after = before.replace("s.n += 4", "s.n -= 4")
    change = make_change({"store/store.go": before}, {"store/store.go": after})

    item = change.item("enclosing", "store/store.go")
    assert (item.symbol, item.start_line, item.end_line) == ("Add", 5, 15)


def test_java_enclosing_method(make_change: MakeChange) -> None:
    before = ("package com.acme;\n\npublic class Billing {\n    int charge(int c) {\n"
              + pad(8, "        ", "c += {i};") + "        return c;\n    }\n}\n")
    after = before.replace("c += 4;", "c -= 4;")
    change = make_change({"src/com/acme/Billing.java": before},
                         {"src/com/acme/Billing.java": after})

    item = change.item("enclosing", "src/com/acme/Billing.java")
    assert (item.symbol, item.start_line, item.end_line) == ("Billing.charge", 4, 14)


def test_typescript_definition_through_relative_import(make_change: MakeChange) -> None:
    parser = ("export interface Token { kind: string }\n\n"
              "export function tokenize(src: string): Token[] {\n  return [];\n}\n")
    app = ("import { tokenize as lex } from './lib/parser';\n\n"
           "export function run(src: string) {\n  return src;\n}\n")
    after = app.replace("  return src;", "  return lex(src);")
    change = make_change({"src/lib/parser.ts": parser, "src/app.ts": app},
                         {"src/app.ts": after})

    item = change.item("definition", "src/lib/parser.ts")
    assert (item.symbol, item.start_line, item.end_line) == ("tokenize", 3, 5)
    assert "`lex`" in item.reason


def test_javascript_default_import_with_js_extension(make_change: MakeChange) -> None:
    util = "export default function clamp(x) {\n  return Math.max(0, x);\n}\n"
    main = "import clamp from './util.js';\n\nexport const f = (x) => x;\n"
    after = main.replace("=> x;", "=> clamp(x);")
    change = make_change({"util.js": util, "main.js": main}, {"main.js": after})

    assert change.item("definition", "util.js").symbol == "clamp"


def test_go_definitions_through_module_import_and_same_package(make_change: MakeChange) -> None:
    files = {
        "go.mod": "module example.com/shop\n\ngo 1.22\n",
        "internal/money/money.go": (
            "package money\n\nfunc Round(c int) int {\n\treturn c\n}\n\n"
            "func Unused() {}\n"),
        "cart/helpers.go": "package cart\n\nfunc discountFor(n int) int {\n\treturn n / 10\n}\n",
        "cart/cart.go": ('package cart\n\nimport "example.com/shop/internal/money"\n\n'
                         "func Total(n int) int {\n\treturn n\n}\n"),
    }
    after = files["cart/cart.go"].replace(
        "\treturn n\n", "\treturn money.Round(n - discountFor(n))\n")
    change = make_change(files, {"cart/cart.go": after})

    found = {(d.path, d.symbol) for d in change.items("definition")}
    assert found == {("internal/money/money.go", "Round"), ("cart/helpers.go", "discountFor")}
    via_index = change.item("definition", "cart/helpers.go")
    assert "symbol index" in via_index.reason


def test_java_definition_through_import(make_change: MakeChange) -> None:
    files = {
        "src/main/java/com/acme/util/Strings.java": (
            "package com.acme.util;\n\npublic class Strings {\n"
            "    public static String trim(String s) { return s.strip(); }\n}\n"),
        "src/main/java/com/acme/App.java": (
            "package com.acme;\n\nimport com.acme.util.Strings;\n\npublic class App {\n"
            "    String name(String s) {\n        return s;\n    }\n}\n"),
    }
    after = files["src/main/java/com/acme/App.java"].replace(
        "        return s;", "        return Strings.trim(s);")
    change = make_change(files, {"src/main/java/com/acme/App.java": after})

    item = change.item("definition", "src/main/java/com/acme/util/Strings.java")
    # `Strings.trim` narrows the imported class to the method used
    assert (item.symbol, item.start_line, item.end_line) == ("Strings.trim", 4, 4)
    assert "public static String trim" in item.text
