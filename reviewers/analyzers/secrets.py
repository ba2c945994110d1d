"""Secrets in any changed file, found by detect-secrets' offline plugins and always masked.

A finding never holds the secret: its message, quote, fingerprint input and extra data
carry only `reviewers.secrets_mask` forms. Lines marked ``pragma: allowlist secret``
are skipped, as detect-secrets does.
"""

from __future__ import annotations

import logging
import re
import threading
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reviewers.analyzers.base import (
    AnalyzerResult,
    changed_span,
    guarded,
    safe_relpath,
    selected_files,
)
from reviewers.diff import FileDiff, ReviewDiff
from reviewers.errors import ReviewbotError
from reviewers.findings import Category, Finding, Severity
from reviewers.repoconfig import RepoConfig
from reviewers.secrets_mask import mask_line, mask_secrets, mask_value, secret_spans
from reviewers.source import SourceTree

log = logging.getLogger(__name__)

CWE_HARD_CODED_CREDENTIALS = "CWE-798"
# Keys that open cloud accounts, package registries or forges, and private keys.
CRITICAL_TYPES = frozenset({
    "Private Key", "AWS Access Key", "Azure Storage Account access key", "IBM Cloud IAM Key",
    "IBM COS HMAC Credentials", "SoftLayer Credentials", "GitHub Token", "GitLab Token",
    "PyPI Token", "NPM tokens", "Stripe Access Key",
})
_WEAK_TYPES = {"Base64 High Entropy String": 0, "Hex High Entropy String": 0,
               "Secret Keyword": 1}  # rank below named credential shapes (2)
_CONFIDENCE = {"Base64 High Entropy String": 0.4, "Hex High Entropy String": 0.4,
               "Secret Keyword": 0.6, "JSON Web Token": 0.7, "Basic Auth Credentials": 0.8}
_SKIPPED_PLUGINS = frozenset({"IPPublicDetector"})  # public IPs are not credentials
_MAX_KEY_LINES = 200  # a 16384-bit RSA key in PEM is about 170 lines
_VERIFY_FILTER = "detect_secrets.filters.common.is_ignored_due_to_verification_policies"
_SETTINGS_LOCK = threading.Lock()  # detect-secrets keeps its settings in a global


def rule_for(secret_type: str) -> str:
    """``"AWS Access Key"`` -> ``"secret/aws-access-key"``.

    Not ``secret:...``: a keyword followed by a colon reads as ``secret: <value>`` to the
    masker, which would then mask the rule id (and the text after it) wherever it is quoted.
    """
    return "secret/" + re.sub(r"[^a-z0-9]+", "-", secret_type.lower()).strip("-")


@dataclass(frozen=True, slots=True)
class SecretsAnalyzer:
    name: str = "secrets"

    def run(self, tree: SourceTree, diff: ReviewDiff, config: RepoConfig,
            workdir: Path) -> AnalyzerResult:
        return guarded(self.name, lambda: self._analyze(tree, diff, config, workdir))

    def _analyze(self, tree: SourceTree, diff: ReviewDiff, config: RepoConfig,
                 workdir: Path) -> AnalyzerResult:
        findings, errors = [], []
        for file in selected_files(diff, config, security=True):
            try:
                text = tree.read_text(file.path)
                if text is None:
                    continue
                target = workdir.joinpath(*safe_relpath(file.path).parts)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(text, encoding="utf-8")
                hits = scan_file(target)
            except (ReviewbotError, OSError, UnicodeError) as exc:
                log.warning("analyzer failed", extra={"analyzer": self.name,
                                                      "path": file.path, "error": str(exc)})
                errors.append(f"{self.name}: could not scan {file.path}: {exc}")
                continue
            findings += _findings_for(file, text.splitlines(), hits)
        return AnalyzerResult(findings=findings, errors=errors)


def scan_file(path: Path) -> dict[int, list[tuple[str, str]]]:
    """detect-secrets' hits in one file: line number -> [(secret type, secret value)]."""
    from detect_secrets.core import scan
    from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class
    from detect_secrets.settings import transient_settings

    classes: list[Any] = list(get_mapping_from_secret_type_to_class().values())
    plugins = [{"name": cls.__name__} for cls in classes if cls.__name__ not in _SKIPPED_PLUGINS]
    hits: dict[int, list[tuple[str, str]]] = defaultdict(list)
    with _SETTINGS_LOCK, transient_settings({"plugins_used": plugins}) as settings:
        settings.disable_filters(_VERIFY_FILTER)  # never call out to verify a secret
        for secret in scan.scan_file(str(path)):
            hits[int(secret.line_number)].append((secret.type, secret.secret_value or ""))
    return dict(hits)


def _findings_for(file: FileDiff, lines: list[str],
                  hits: dict[int, list[tuple[str, str]]]) -> list[Finding]:
    findings = []
    for line_number, found in sorted(hits.items()):
        if line_number > len(lines):
            continue
        key_block = any(t == "Private Key" for t, _ in found)
        last = _key_block_end(lines, line_number) if key_block else line_number
        span = changed_span(file, line_number, last)
        if span is None:
            continue
        raw = lines[line_number - 1]
        types = sorted({t for t, _ in found}, key=lambda t: (-_WEAK_TYPES.get(t, 2), t))
        main_type = types[0]
        # a private key's reported value is its armour line, which is not secret
        values = [v for t, v in found if v and t != "Private Key"]
        flagged = _masked_line(raw, values)
        shown = [mask_value(_whole_token(raw, v)) for t, v in found if t == main_type and v]
        if main_type == "Private Key":
            shown = ["a private key block"]
        finding = Finding(
            path=file.path, line=span[0], end_line=span[1],
            severity=Severity.CRITICAL if main_type in CRITICAL_TYPES else Severity.HIGH,
            category=Category.SECURITY, rule=rule_for(main_type),
            cwe=CWE_HARD_CODED_CREDENTIALS, source="secrets",
            confidence=_CONFIDENCE.get(main_type, 0.9),
            message=mask_secrets(
                f"Possible {main_type} committed to the repository ({', '.join(shown)}). "
                "Remove it, rotate it, and load it from the environment or a secret store."),
            extra={"quote": flagged, "secret_types": types, "masked_secret": shown[0]},
        )
        findings.append(finding.with_fingerprint(flagged))
    return findings


def _key_block_end(lines: list[str], begin: int) -> int:
    """The END armour line of the private key whose BEGIN line is `begin` (1-based): a
    change to any line of the key is a change to the key."""
    for number in range(begin, min(len(lines), begin + _MAX_KEY_LINES) + 1):
        if "-----END" in lines[number - 1]:
            return number
    return begin


def _masked_line(raw: str, values: list[str]) -> str:
    """The flagged line with its secrets masked; the whole line when a value is not found
    verbatim (detect-secrets transformed the file, e.g. a multi-line YAML string)."""
    if any(v not in raw for v in values):
        return mask_value(raw.strip())
    return mask_line(raw, values)


def _whole_token(line: str, value: str) -> str:
    start = line.find(value)
    if start == -1:
        return value
    for begin, end in secret_spans(line, [value]):
        if begin <= start < end:
            return line[begin:end]
    return value

