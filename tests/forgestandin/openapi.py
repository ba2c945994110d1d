"""Checks requests against GitHub's official OpenAPI description (parsed once per process)."""

from __future__ import annotations

import gzip
import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from jsonschema import Draft4Validator

from tests.forgestandin.server import Request

_METHODS = {"get", "post", "put", "patch", "delete"}


@dataclass(frozen=True)
class Operation:
    template: str
    method: str
    spec: dict[str, Any]

    @property
    def statuses(self) -> set[int]:
        return {int(code) for code in self.spec.get("responses", {}) if code.isdigit()}


class OpenAPISpec:
    """Operation lookup by method and concrete path, and request-body validation."""

    def __init__(self, document: dict[str, Any]) -> None:
        self._doc = _nullable_to_anyof(document)
        self._components = self._doc.get("components", {})
        entries = []
        for template, item in self._doc["paths"].items():
            literal = sum(1 for part in template.split("/") if part and "{" not in part)
            # `path` and git `ref` values hold slashes ("heads/reviewbot/tests/1")
            regex = re.sub(r"\{(\w+)\}",
                           lambda m: "(.+)" if m.group(1) in ("path", "ref") else "([^/]+)",
                           template)
            entries.append((-literal, template, re.compile(f"^{regex}$"), item))
        entries.sort(key=lambda e: (e[0], e[1]))
        self._paths = [(template, regex, item) for _, template, regex, item in entries]
        self._validators: dict[tuple[str, str], Draft4Validator | None] = {}

    def operation(self, method: str, path: str) -> Operation | None:
        for template, regex, item in self._paths:
            if regex.match(path) and method.lower() in item:
                return Operation(template, method.lower(), item[method.lower()])
        return None

    def violations(self, request: Request) -> tuple[Operation | None, list[str]]:
        """The documented operation for the request, and what about the request breaks it."""
        op = self.operation(request.method, request.path)
        if op is None:
            return None, [f"{request.method} {request.path}: no such operation in the description"]
        problems = [f"{request.method} {op.template}: query {p}" for p in self._query(op, request)]
        problems += [f"{request.method} {op.template}: body {p}" for p in self._body(op, request)]
        return op, problems

    def _query(self, op: Operation, request: Request) -> list[str]:
        problems = []
        for param in self._parameters(op):
            if param.get("in") != "query" or param["name"] not in request.query:
                continue
            enum = param.get("schema", {}).get("enum")
            value = request.query[param["name"]][-1]
            if enum and value not in [str(v) for v in enum]:
                problems.append(f"{param['name']}={value!r} not in {enum}")
        return problems

    def _parameters(self, op: Operation) -> list[dict[str, Any]]:
        params = []
        for param in op.spec.get("parameters", []):
            if "$ref" in param:
                param = self._components["parameters"][param["$ref"].rsplit("/", 1)[-1]]
            params.append(param)
        return params

    def _body(self, op: Operation, request: Request) -> list[str]:
        body_spec = op.spec.get("requestBody")
        if not request.raw:
            return ["required but missing"] if body_spec and body_spec.get("required") else []
        if body_spec is None:
            return []  # GitHub ignores bodies on operations without one
        try:
            body = json.loads(request.raw)
        except ValueError:
            return ["is not JSON"]
        validator = self._validator(op, body_spec)
        if validator is None:
            return []
        return [f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
                for e in validator.iter_errors(body)]

    def _validator(self, op: Operation, body_spec: dict[str, Any]) -> Draft4Validator | None:
        key = (op.method, op.template)
        if key not in self._validators:
            schema = body_spec.get("content", {}).get("application/json", {}).get("schema")
            self._validators[key] = (
                Draft4Validator({**schema, "components": self._components}) if schema else None
            )
        return self._validators[key]


def _nullable_to_anyof(node: Any) -> Any:
    """OpenAPI 3.0 `nullable: true` as JSON Schema: anyOf [schema, null]."""
    if isinstance(node, list):
        return [_nullable_to_anyof(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {key: _nullable_to_anyof(value) for key, value in node.items()}
    if converted.pop("nullable", False) is True:
        return {"anyOf": [converted, {"type": "null"}]}
    return converted


@lru_cache(maxsize=2)
def load_spec(path: Path) -> OpenAPISpec:
    """Parse the gzipped description once per process (it is about 1 MB compressed)."""
    with gzip.open(path, "rb") as handle:
        return OpenAPISpec(json.load(handle))
