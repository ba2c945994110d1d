"""The security corpus: small vulnerable changes and safe look-alikes, with expectations.

Cases live in the YAML files beside this module, one file per language. Each case is one
change (a base and a head version of one file) and the findings a security reviewer expects
on the head: path, line and CWE. A case expecting nothing is a safe look-alike that must not
be flagged. The loader checks each expectation's `at` text is on its line, so a shifted
example cannot silently expect the wrong line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

CORPUS_DIR = Path(__file__).parent
LANGUAGES = ("python", "javascript", "go", "java", "config")


class CorpusError(ValueError):
    """A case in the corpus is malformed or its expectation does not fit its code."""


@dataclass(frozen=True, slots=True)
class Expected:
    path: str
    line: int
    cwe: str


@dataclass(frozen=True, slots=True)
class Case:
    id: str
    language: str
    path: str
    base: str
    head: str
    expect: tuple[Expected, ...] = ()
    analyzer_gap: str | None = None  # a vulnerability static analyzers are not expected to see
    analyzer_false_positive: str | None = None  # a safe case an analyzer is known to flag
    cwes: frozenset[str] = field(default_factory=frozenset)

    @property
    def vulnerable(self) -> bool:
        return bool(self.expect)


def cwe_number(cwe: str | None) -> str:
    """"CWE-0089" and "cwe-89" -> "89": how findings and expectations are compared."""
    return (re.sub(r"\D", "", cwe or "").lstrip("0")) or ""


def _case(language: str, raw: dict[str, Any]) -> Case:
    try:
        case_id, path, head = str(raw["id"]), str(raw["path"]), str(raw["head"])
    except KeyError as exc:
        raise CorpusError(f"{language}: a case lacks {exc}") from exc
    lines = head.splitlines()
    expected = []
    for item in raw.get("expect") or []:
        line, cwe, at = int(item["line"]), str(item["cwe"]), str(item["at"])
        if not 1 <= line <= len(lines) or at not in lines[line - 1]:
            raise CorpusError(f"{case_id}: line {line} of {path} does not contain {at!r}")
        if not re.fullmatch(r"CWE-\d+", cwe):
            raise CorpusError(f"{case_id}: {cwe!r} is not a CWE id")
        expected.append(Expected(path=path, line=line, cwe=cwe))
    return Case(id=case_id, language=language, path=path, base=str(raw.get("base") or ""),
                head=head, expect=tuple(expected), analyzer_gap=raw.get("analyzer_gap"),
                analyzer_false_positive=raw.get("analyzer_false_positive"),
                cwes=frozenset(e.cwe for e in expected))


@lru_cache(maxsize=1)
def load_cases() -> tuple[Case, ...]:
    """Every case of every language file, checked; ids are unique."""
    cases: list[Case] = []
    for language in LANGUAGES:
        document = yaml.safe_load((CORPUS_DIR / f"{language}.yml").read_text(encoding="utf-8"))
        cases += [_case(language, raw) for raw in document["cases"]]
    ids = [case.id for case in cases]
    if len(set(ids)) != len(ids):
        raise CorpusError("duplicate case ids in the corpus")
    return tuple(cases)


def batches(cases: tuple[Case, ...] | list[Case]) -> list[list[Case]]:
    """Cases grouped so that no two in a group touch the same path: each group can be one
    change of one repository (vulnerable and safe variants of a file share its path)."""
    groups: list[list[Case]] = []
    for case in cases:
        for group in groups:
            if all(other.path != case.path for other in group):
                group.append(case)
                break
        else:
            groups.append([case])
    return groups
