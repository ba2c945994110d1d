"""`.reviewbot.yml`: the per-repository configuration, validated strictly.

Unknown keys and wrong types are errors (`ConfigError`) whose message names the key, so
the check output can show it; callers then fall back to `RepoConfig()` defaults.
"""

from __future__ import annotations

import fnmatch
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from reviewers.errors import ConfigError
from reviewers.findings import Severity

CONFIG_FILE = ".reviewbot.yml"
MAX_CONFIG_BYTES = 64 * 1024
MAX_CONFIG_DEPTH = 16  # the schema needs 3 levels; more is a parser bomb, not a config

ReviewerName = Literal["llm", "security", "ruff", "bandit", "secrets", "semgrep"]
ALL_REVIEWERS: tuple[ReviewerName, ...] = (
    "llm", "security", "ruff", "bandit", "secrets", "semgrep")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TestGenConfig(_Strict):
    enabled: bool = True
    directory: str = "tests"
    command: str | None = None
    delivery: Literal["comment", "branch"] = "comment"


class RuleOverride(_Strict):
    severity: Severity | None = None
    ignore: bool = False
    paths_ignore: list[str] = Field(default_factory=list)


class RepoConfig(_Strict):
    include: list[str] = Field(default_factory=lambda: ["**"])
    exclude: list[str] = Field(default_factory=list)
    min_severity: Severity = Severity.LOW
    fail_on: Severity | Literal["never"] = Severity.HIGH
    reviewers: list[ReviewerName] = Field(default_factory=lambda: list(ALL_REVIEWERS))
    tests: TestGenConfig = Field(default_factory=TestGenConfig)
    instructions: str = Field(default="", max_length=4000)
    languages: list[str] = Field(default_factory=list)
    rules: dict[str, RuleOverride] = Field(default_factory=dict)
    security_ignore_paths: list[str] = Field(
        default_factory=lambda: ["tests/**", "test/**", "**/fixtures/**", "vendor/**",
                                 "third_party/**", "node_modules/**"])
    post_false_positives: bool = False

    def wants(self, path: str) -> bool:
        """Is `path` inside the include globs and outside the exclude globs?"""
        included = any(matches_glob(path, pat) for pat in self.include)
        return included and not any(matches_glob(path, pat) for pat in self.exclude)

    def reviewer_enabled(self, name: str) -> bool:
        return name in self.reviewers


def matches_glob(path: str, pattern: str) -> bool:
    """fnmatch with the `dir/**` and `**/name` forms users expect from gitignore."""
    if fnmatch.fnmatchcase(path, pattern):
        return True
    # "dir/**" also matches "dir" itself and "**/x" matches "x" at the root
    if pattern.endswith("/**") and (path == pattern[:-3] or path.startswith(pattern[:-2])):
        return True
    return pattern.startswith("**/") and fnmatch.fnmatchcase(path, pattern[3:])


def repo_config_or_defaults(text: str | bytes | None) -> tuple[RepoConfig, str | None]:
    """The parsed config, or the defaults and a note saying why (shown to the user in the
    CLI report and the check output): a broken file never stops a review."""
    try:
        return parse_repo_config(text), None
    except ConfigError as exc:
        return RepoConfig(), f"{exc} — using the default configuration"


def parse_repo_config(text: str | bytes | None) -> RepoConfig:
    """Parse `.reviewbot.yml` content; None or empty means defaults.

    Raises `ConfigError` with a one-line, key-naming message for anything invalid.
    """
    if text is None:
        return RepoConfig()
    if len(text) > MAX_CONFIG_BYTES:
        raise ConfigError(f"{CONFIG_FILE} is larger than {MAX_CONFIG_BYTES} bytes")
    _check_structure(text)
    try:
        raw = yaml.safe_load(text)  # safe_load never builds arbitrary objects
    except yaml.YAMLError as exc:
        raise ConfigError(f"{CONFIG_FILE} is not valid YAML: {_first_line(str(exc))}") from exc
    if raw is None:
        return RepoConfig()
    if not isinstance(raw, dict):
        raise ConfigError(f"{CONFIG_FILE} must be a mapping of settings, not {type(raw).__name__}")
    try:
        return RepoConfig.model_validate(raw)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"]) or "(top level)"
            what = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
            problems.append(f"{where}: {what}")
        raise ConfigError(f"{CONFIG_FILE}: " + "; ".join(problems)) from exc


def _check_structure(text: str | bytes) -> None:
    """Refuse aliases (the billion-laughs bomb) and deep nesting before building anything.

    The event stream is read iteratively and abandoned at the first problem, so a hostile
    file costs a bounded parse; building it would recurse once per level and crash.
    """
    data = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    depth = 0
    try:
        for event in yaml.parse(data, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.AliasEvent):
                raise ConfigError(f"{CONFIG_FILE} uses YAML anchors/aliases, which are not "
                                  "allowed")
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_CONFIG_DEPTH:
                    raise ConfigError(f"{CONFIG_FILE} nests deeper than {MAX_CONFIG_DEPTH} "
                                      "levels")
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
    except yaml.YAMLError:
        return  # let safe_load report the syntax error


def _first_line(text: str) -> str:
    return " ".join(text.split())[:200]
