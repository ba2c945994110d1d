"""Severity policy: repository rule overrides, ignored paths, thresholds and the verdict."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from reviewers.findings import Category, Finding, Severity
from reviewers.repoconfig import RepoConfig, RuleOverride, matches_glob


@dataclass(slots=True)
class PolicyResult:
    reported: list[Finding] = field(default_factory=list)
    suppressed: list[tuple[Finding, str]] = field(default_factory=list)


def apply_policy(findings: Iterable[Finding], config: RepoConfig) -> PolicyResult:
    """Apply `.reviewbot.yml`: rule (or CWE) overrides, security path ignores, minimum
    severity.

    Nothing disappears silently: every finding not reported lands in `suppressed` with
    the reason, so history and the summary can count it.
    """
    result = PolicyResult()
    for finding in findings:
        key, override = _override(finding, config)
        if override is not None:
            if override.ignore:
                result.suppressed.append((finding, f"rule {key} ignored by config"))
                continue
            if any(matches_glob(finding.path, pat) for pat in override.paths_ignore):
                result.suppressed.append((finding, f"rule {key} ignored for this path"))
                continue
            if override.severity is not None:
                finding = replace(finding, severity=override.severity)
        if finding.category is Category.SECURITY and any(
                matches_glob(finding.path, pat) for pat in config.security_ignore_paths):
            result.suppressed.append((finding, "security finding in an ignored path"))
            continue
        triage = finding.extra.get("triage")
        if (isinstance(triage, dict) and triage.get("verdict") == "false_positive"
                and not config.post_false_positives):
            result.suppressed.append((finding, "triaged as a false positive: "
                                      + str(triage.get("reason", ""))))
            continue
        if not finding.severity.at_least(config.min_severity):
            result.suppressed.append((finding, f"below min_severity {config.min_severity}"))
            continue
        result.reported.append(finding)
    result.reported.sort(key=sort_key)
    return result


def _override(finding: Finding, config: RepoConfig) -> tuple[str, RuleOverride | None]:
    """The config entry for the finding's rule id, else for its CWE ("CWE-327"): a CWE
    entry covers every source (bandit, semgrep, the model) reporting that weakness."""
    if finding.rule in config.rules:
        return finding.rule, config.rules[finding.rule]
    cwe = (finding.cwe or "").upper()
    return cwe, config.rules.get(cwe) if cwe else None


def sort_key(finding: Finding) -> tuple[str, int, int, str]:
    return (finding.path, finding.line, -finding.severity.rank, finding.rule)


def blocking(findings: Iterable[Finding], fail_on: Severity | str) -> list[Finding]:
    """The findings at or above the fail-on threshold ("never" blocks nothing)."""
    if fail_on == "never":
        return []
    threshold = Severity(fail_on)
    return [f for f in findings if f.severity.at_least(threshold)]
