"""Turn the choices of a completion into texts and schema-validated objects."""

from __future__ import annotations

import json
from typing import Any

import jsonschema

from reviewers.errors import EngineOutputError


def parse_structured(
    texts: list[str], finish_reasons: list[str], schema: dict[str, Any], schema_name: str
) -> list[Any]:
    """Parse and validate every choice; truncated, unparsable or invalid -> EngineOutputError."""
    validator_cls = jsonschema.validators.validator_for(schema)
    validator = validator_cls(schema)
    parsed: list[Any] = []
    for index, (text, reason) in enumerate(zip(texts, finish_reasons, strict=True)):
        if reason == "length":
            raise EngineOutputError(
                f"answer {index} for {schema_name!r} was cut at the token limit"
            )
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise EngineOutputError(
                f"answer {index} for {schema_name!r} is not JSON: {exc.msg} at {exc.pos}"
            ) from exc
        error = jsonschema.exceptions.best_match(validator.iter_errors(value))
        if error is not None:
            where = "/".join(str(part) for part in error.absolute_path) or "(root)"
            raise EngineOutputError(
                f"answer {index} for {schema_name!r} violates its schema at {where}: "
                f"{error.message}"
            )
        parsed.append(value)
    return parsed


def response_format(schema: dict[str, Any], schema_name: str) -> dict[str, Any]:
    """The `response_format` body field vLLM turns into constrained decoding."""
    return {
        "type": "json_schema",
        "json_schema": {"name": schema_name, "schema": schema, "strict": True},
    }
