"""JavaScript, TypeScript, Go and Java outlines with tree-sitter and its grammar wheels.

Only declaration-bearing nodes are visited (never whole expression trees), so a file
costs a parse plus a walk over its declarations.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import tree_sitter

from reviewers.context.outline import ImportRef, Outline, Symbol


@dataclass(frozen=True, slots=True)
class _Grammar:
    symbols: dict[str, str]  # node type -> symbol kind
    containers: frozenset[str]  # node types whose named children may hold declarations


_JS_SYMBOLS = {
    "function_declaration": "function", "generator_function_declaration": "function",
    "class_declaration": "class", "abstract_class_declaration": "class", "class": "class",
    "method_definition": "method", "interface_declaration": "type",
    "type_alias_declaration": "type", "enum_declaration": "type",
    "variable_declarator": "variable",
}
_JS_CONTAINERS = frozenset({
    "program", "export_statement", "class_body", "statement_block", "lexical_declaration",
    "variable_declaration", "internal_module", "module", "ambient_declaration",
})
_GRAMMARS: dict[str, _Grammar] = {
    "javascript": _Grammar(_JS_SYMBOLS, _JS_CONTAINERS),
    "typescript": _Grammar(_JS_SYMBOLS, _JS_CONTAINERS),
    "tsx": _Grammar(_JS_SYMBOLS, _JS_CONTAINERS),
    "go": _Grammar(
        {"function_declaration": "function", "method_declaration": "method",
         "type_spec": "type"},
        frozenset({"source_file", "type_declaration"})),
    "java": _Grammar(
        {"class_declaration": "class", "interface_declaration": "type",
         "enum_declaration": "type", "record_declaration": "class",
         "annotation_type_declaration": "type", "method_declaration": "method",
         "constructor_declaration": "method"},
        frozenset({"program", "class_body", "interface_body", "enum_body",
                   "enum_body_declarations"})),
}
_FUNCTION_VALUES = frozenset({"arrow_function", "function_expression", "function", "class",
                              "generator_function"})


@cache
def _parser(language: str) -> tree_sitter.Parser:
    """One parser per language, built on first use (never at import time)."""
    if language == "javascript":
        import tree_sitter_javascript as grammar

        return tree_sitter.Parser(tree_sitter.Language(grammar.language()))
    if language in ("typescript", "tsx"):
        import tree_sitter_typescript as ts_grammar

        capsule = (ts_grammar.language_tsx() if language == "tsx"
                   else ts_grammar.language_typescript())
        return tree_sitter.Parser(tree_sitter.Language(capsule))
    if language == "go":
        import tree_sitter_go as go_grammar

        return tree_sitter.Parser(tree_sitter.Language(go_grammar.language()))
    if language == "java":
        import tree_sitter_java as java_grammar

        return tree_sitter.Parser(tree_sitter.Language(java_grammar.language()))
    raise ValueError(f"no tree-sitter grammar for {language}")


def supports(language: str) -> bool:
    return language in _GRAMMARS


def outline_treesitter(text: str, language: str) -> Outline:
    """Parse `text` once and collect its declarations and imports."""
    outline = Outline(language=language)
    tree = _parser(language).parse(text.encode("utf-8", "surrogatepass"))
    root = tree.root_node
    if root.has_error:
        outline.error = "parsed with syntax errors"
    grammar = _GRAMMARS[language]
    _walk(root, grammar, outline, prefix="", depth=0)
    outline.symbols.sort(key=lambda s: (s.start_line, -s.end_line))
    for child in root.named_children:
        _collect_import(child, language, outline)
    return outline


def _name(node: tree_sitter.Node) -> str | None:
    field = node.child_by_field_name("name")
    if field is None or field.text is None:
        return None
    return field.text.decode("utf-8", "replace")


def _walk(node: tree_sitter.Node, grammar: _Grammar, outline: Outline, *,
          prefix: str, depth: int) -> None:
    for child in node.named_children:
        kind = grammar.symbols.get(child.type)
        if kind == "variable":
            value = child.child_by_field_name("value")
            if depth > 0 and (value is None or value.type not in _FUNCTION_VALUES):
                continue  # local variables are not definitions worth indexing
            if value is not None and value.type in _FUNCTION_VALUES:
                kind = "function"
        name = _name(child) if kind else None
        if kind and name:
            qual = f"{prefix}{name}"
            outline.symbols.append(Symbol(
                name, kind, child.start_point.row + 1, child.end_point.row + 1, qual, depth == 0))
            body = child.child_by_field_name("body")
            if body is None and kind == "function":
                value = child.child_by_field_name("value")
                body = value.child_by_field_name("body") if value is not None else None
            if body is not None:
                _walk(body, grammar, outline, prefix=f"{qual}.", depth=depth + 1)
        elif child.type in grammar.containers:
            _walk(child, grammar, outline, prefix=prefix, depth=depth)


def _text(node: tree_sitter.Node | None) -> str:
    if node is None or node.text is None:
        return ""
    return node.text.decode("utf-8", "replace")


def _collect_import(node: tree_sitter.Node, language: str, outline: Outline) -> None:
    if language in ("javascript", "typescript", "tsx"):
        _js_import(node, outline)
    elif language == "go":
        if node.type == "package_clause":
            outline.package = _text(node.named_children[0]) if node.named_children else None
        elif node.type == "import_declaration":
            for spec in _descendants(node, "import_spec"):
                path = _text(spec.child_by_field_name("path")).strip('"`')
                alias = _text(spec.child_by_field_name("name")) or path.rsplit("/", 1)[-1]
                outline.imports.append(ImportRef(alias, path, None))
    elif language == "java":
        if node.type == "package_declaration" and node.named_children:
            outline.package = _text(node.named_children[0])
        elif node.type == "import_declaration":
            dotted = _text(node).removeprefix("import").strip().rstrip(";").strip()
            dotted = dotted.removeprefix("static").strip()
            if not dotted.endswith(".*"):
                package, _, member = dotted.rpartition(".")
                outline.imports.append(ImportRef(member, package, member))


def _js_import(node: tree_sitter.Node, outline: Outline) -> None:
    target = node.child_by_field_name("declaration") if node.type == "export_statement" else None
    if node.type != "import_statement" or target is not None:
        return
    source = _text(node.child_by_field_name("source")).strip("'\"`")
    for clause in node.named_children:
        if clause.type != "import_clause":
            continue
        for part in clause.named_children:
            if part.type == "identifier":
                outline.imports.append(ImportRef(_text(part), source, "default"))
            elif part.type == "namespace_import" and part.named_children:
                outline.imports.append(ImportRef(_text(part.named_children[0]), source, None))
            elif part.type == "named_imports":
                for spec in part.named_children:
                    name = _text(spec.child_by_field_name("name"))
                    alias = _text(spec.child_by_field_name("alias")) or name
                    if name:
                        outline.imports.append(ImportRef(alias, source, name))


def _descendants(node: tree_sitter.Node, node_type: str) -> list[tree_sitter.Node]:
    found: list[tree_sitter.Node] = []
    stack = [node]
    while stack:
        current = stack.pop()
        if current.type == node_type:
            found.append(current)
        else:
            stack.extend(current.named_children)
    return found
