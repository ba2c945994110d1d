"""The `Finding` contract shared by the CLI output, the database and SARIF.

A finding always points at a line of the head version that lies inside a hunk of the
diff (an added or context line). Its fingerprint is stable across pushes and rebases:
it hashes the rule (or category), the path and the normalised flagged code, never the
line number.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import asdict, dataclass, field, replace
from enum import StrEnum
from typing import Any


class Severity(StrEnum):
    INFO = "info"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return _SEVERITY_RANK[self]

    def at_least(self, other: Severity) -> bool:
        return self.rank >= other.rank


_SEVERITY_RANK = {
    Severity.INFO: 0,
    Severity.LOW: 1,
    Severity.MEDIUM: 2,
    Severity.HIGH: 3,
    Severity.CRITICAL: 4,
}


class Category(StrEnum):
    BUG = "bug"
    SECURITY = "security"
    PERFORMANCE = "performance"
    MAINTAINABILITY = "maintainability"
    STYLE = "style"
    TEST = "test"


_WS = re.compile(r"\s+")


def normalise_code(text: str) -> str:
    """Whitespace-insensitive form of flagged code, so re-indentation keeps fingerprints."""
    return _WS.sub(" ", text).strip()


def fingerprint(rule: str, path: str, flagged_code: str) -> str:
    """Stable identity of a finding: rule + path + normalised code, never the line."""
    digest = hashlib.sha256()
    for part in (rule, path, normalise_code(flagged_code)):
        digest.update(part.encode("utf-8", "surrogateescape"))
        digest.update(b"\x00")
    return digest.hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class Finding:
    path: str
    line: int
    end_line: int
    severity: Severity
    category: Category
    rule: str
    message: str
    source: str
    fingerprint: str = ""
    cwe: str | None = None
    suggestion: str | None = None
    confidence: float = 0.5
    side: str = "RIGHT"
    # Not part of the JSON contract: extra evidence kept for history and triage.
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def with_fingerprint(self, flagged_code: str) -> Finding:
        return replace(self, fingerprint=fingerprint(self.rule or self.category, self.path,
                                                     flagged_code))

    def to_contract(self) -> dict[str, Any]:
        """The JSON shape of DESIGN.md's finding contract (no extra keys)."""
        data = asdict(self)
        data.pop("extra")
        data["severity"] = str(self.severity)
        data["category"] = str(self.category)
        return {key: data[key] for key in CONTRACT_KEYS}


CONTRACT_KEYS = (
    "path", "line", "end_line", "side", "severity", "category", "rule", "cwe",
    "message", "suggestion", "source", "fingerprint", "confidence",
)
