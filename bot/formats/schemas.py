"""The JSON schemas shipped with the outputs: the finding contract and the review document."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource

_HERE = Path(__file__).parent
FINDING_SCHEMA = _HERE / "finding.schema.json"
REVIEW_SCHEMA = _HERE / "review.schema.json"


def load_schema(path: Path) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return schema


@lru_cache(maxsize=1)
def _registry() -> Registry[Any]:
    finding = load_schema(FINDING_SCHEMA)
    registry: Registry[Any] = Registry().with_resource(finding["$id"],
                                                       Resource.from_contents(finding))
    return registry


def finding_validator() -> Draft202012Validator:
    """Validates one finding dict (`Finding.to_contract()`)."""
    return Draft202012Validator(load_schema(FINDING_SCHEMA))


def review_validator() -> Draft202012Validator:
    """Validates the whole `--format json` document."""
    return Draft202012Validator(load_schema(REVIEW_SCHEMA), registry=_registry())
