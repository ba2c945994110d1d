"""The repository's own conventions: lint configuration, editor settings, contributing notes."""

from __future__ import annotations

import re
from dataclasses import dataclass

from reviewers.context.files import RepoFiles

# (path, languages it applies to or None for every language, weight within the kind)
_CANDIDATES: tuple[tuple[str, frozenset[str] | None, float], ...] = (
    ("ruff.toml", frozenset({"python"}), 0.5),
    (".ruff.toml", frozenset({"python"}), 0.5),
    ("pyproject.toml", frozenset({"python"}), 0.5),
    (".flake8", frozenset({"python"}), 0.45),
    ("setup.cfg", frozenset({"python"}), 0.4),
    ("tox.ini", frozenset({"python"}), 0.35),
    ("eslint.config.js", frozenset({"javascript", "typescript", "tsx"}), 0.5),
    ("eslint.config.mjs", frozenset({"javascript", "typescript", "tsx"}), 0.5),
    ("eslint.config.cjs", frozenset({"javascript", "typescript", "tsx"}), 0.5),
    ("eslint.config.ts", frozenset({"javascript", "typescript", "tsx"}), 0.5),
    (".eslintrc", frozenset({"javascript", "typescript", "tsx"}), 0.5),
    (".eslintrc.json", frozenset({"javascript", "typescript", "tsx"}), 0.5),
    (".eslintrc.js", frozenset({"javascript", "typescript", "tsx"}), 0.5),
    (".eslintrc.cjs", frozenset({"javascript", "typescript", "tsx"}), 0.5),
    (".eslintrc.yml", frozenset({"javascript", "typescript", "tsx"}), 0.5),
    (".eslintrc.yaml", frozenset({"javascript", "typescript", "tsx"}), 0.5),
    (".prettierrc", frozenset({"javascript", "typescript", "tsx"}), 0.3),
    (".prettierrc.json", frozenset({"javascript", "typescript", "tsx"}), 0.3),
    (".golangci.yml", frozenset({"go"}), 0.5),
    (".golangci.yaml", frozenset({"go"}), 0.5),
    ("checkstyle.xml", frozenset({"java"}), 0.4),
    ("CONTRIBUTING.md", None, 0.4),
    (".github/CONTRIBUTING.md", None, 0.4),
    ("docs/CONTRIBUTING.md", None, 0.4),
    ("CONTRIBUTING.rst", None, 0.4),
    (".editorconfig", None, 0.2),
)
# Sections of shared config files that carry lint/format/type-check settings.
_PYPROJECT_SECTION = re.compile(
    r"^\[tool\.(ruff|black|isort|mypy|flake8|pylint|pyright|pytest|pydocstyle|bandit)\b")
_INI_SECTION = re.compile(r"^\[(flake8|pycodestyle|pydocstyle|isort|mypy|pylint|tool:pytest)\b")


@dataclass(frozen=True, slots=True)
class Convention:
    path: str
    text: str
    start_line: int
    end_line: int
    languages: frozenset[str] | None
    weight: float
    truncated: bool


def find_conventions(files: RepoFiles, languages: set[str], *,
                     max_chars: int) -> list[Convention]:
    """Convention files relevant to the changed languages, each cut to `max_chars`."""
    found: list[Convention] = []
    for path, applies, weight in _CANDIDATES:
        if applies is not None and not applies & languages:
            continue
        if path not in files.path_set:
            continue
        text = files.text(path)
        if not text:
            continue
        lines = text.splitlines()
        if path == "pyproject.toml":
            lines = _sections(lines, _PYPROJECT_SECTION)
        elif path in ("setup.cfg", "tox.ini"):
            lines = _sections(lines, _INI_SECTION)
        if not any(line.strip() for line in lines):
            continue
        kept, truncated = _cut(lines, max_chars)
        found.append(Convention(path, "\n".join(kept), 1, len(kept), applies, weight, truncated))
    return found


def _sections(lines: list[str], wanted: re.Pattern[str]) -> list[str]:
    kept: list[str] = []
    keep = False
    for line in lines:
        if line.startswith("["):
            keep = bool(wanted.match(line))
        if keep:
            kept.append(line)
    return kept


def _cut(lines: list[str], max_chars: int) -> tuple[list[str], bool]:
    kept: list[str] = []
    size = 0
    for line in lines:
        size += len(line) + 1
        if size > max_chars:
            return kept, True
        kept.append(line)
    return kept, False
