"""What the bot posts for a review: inline comments, the summary, the check's verdict.

Model text is untrusted: before it reaches a forge, mentions are defused, links removed,
HTML comments (which could forge the bot's hidden markers) neutralised and length capped.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from bot.forges.base import Annotation, AnnotationLevel, CheckConclusion, InlineComment
from bot.forges.markers import summary_marker
from reviewers.diff import FileStatus, LineKind, ReviewDiff
from reviewers.findings import Finding, Severity
from reviewers.policy import blocking
from reviewers.secrets_mask import mask_secrets

CHECK_NAME = "reviewbot"
SUMMARY_KEY = "review"
MAX_MESSAGE_CHARS = 4000
MAX_ANNOTATIONS = 500

_MENTION = re.compile(r"(?<![\w`])@(?=[A-Za-z0-9][A-Za-z0-9-]*)")
_URL = re.compile(r"\b(?:https?|ftp|javascript|data)://[^\s)>\]]+", re.IGNORECASE)
_MD_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_ICON = {Severity.CRITICAL: "🛑", Severity.HIGH: "🔴", Severity.MEDIUM: "🟠",
         Severity.LOW: "🟡", Severity.INFO: "🔵"}
_LEVEL: dict[Severity, AnnotationLevel] = {
    Severity.CRITICAL: "failure", Severity.HIGH: "failure", Severity.MEDIUM: "warning",
    Severity.LOW: "notice", Severity.INFO: "notice"}


def sanitize(text: str, *, limit: int = MAX_MESSAGE_CHARS) -> str:
    """Untrusted text made safe to post: no pings, no links, no hidden markers, no secrets."""
    text = mask_secrets(text)
    text = _MD_LINK.sub(lambda m: m.group(1), text)
    text = _URL.sub("[link removed]", text)
    text = _MENTION.sub("@\u2060", text)
    text = text.replace("<!--", "&lt;!--").replace("-->", "--&gt;")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def comment_body(finding: Finding) -> str:
    """The markdown of one inline comment (the suggestion is rendered by the adapter)."""
    head = f"{_ICON[finding.severity]} **{finding.severity.value}** · {finding.category.value}"
    head += f" · `{sanitize(finding.rule, limit=80)}`"
    if finding.cwe:
        head += f" · {finding.cwe}"
    lines = [head, "", sanitize(finding.message)]
    triage = finding.extra.get("triage")
    if isinstance(triage, dict) and triage.get("verdict") == "untriaged":
        lines += ["", "_Untriaged analyzer finding: no model reviewed it._"]
    lines += ["", f"<sub>{sanitize(finding.source, limit=60)} · confidence "
                  f"{finding.confidence:.1f}</sub>"]
    return "\n".join(lines)


def inline_comments(findings: Iterable[Finding], diff: ReviewDiff,
                    already_posted: set[str]) -> list[InlineComment]:
    """One comment per finding not posted before, anchored on the head side of the diff."""
    comments = []
    for finding in findings:
        if finding.fingerprint in already_posted:
            continue
        file = diff.file(finding.path)
        if file is None:
            continue
        old_line = None
        hunk = file.hunk_for(finding.end_line)
        if hunk is not None:
            for ln in hunk.lines:
                if ln.new_lineno == finding.end_line and ln.kind is LineKind.CONTEXT:
                    old_line = ln.old_lineno
        comments.append(InlineComment(
            path=finding.path, line=finding.end_line, side="RIGHT",
            start_line=finding.line if finding.line < finding.end_line else None,
            old_line=old_line,
            old_path=file.old_path if file.status is FileStatus.RENAMED else None,
            body=comment_body(finding),
            suggestion=(mask_secrets(finding.suggestion)
                        if finding.suggestion and finding.source != "secrets" else None),
            fingerprint=finding.fingerprint or None))
    return comments


@dataclass(frozen=True, slots=True)
class Verdict:
    conclusion: CheckConclusion
    title: str
    summary: str


def verdict(findings: Sequence[Finding], fail_on: Severity | str, *,
            engine_problem: str | None = None) -> Verdict:
    """The check's conclusion: failure on blocking findings; neutral (never a silent pass)
    when the model could not review."""
    blockers = blocking(findings, fail_on)
    if blockers:
        return Verdict("failure", f"{len(blockers)} blocking finding(s)",
                       f"{len(blockers)} finding(s) at or above `{fail_on}`.")
    if engine_problem:
        return Verdict("neutral", "Model review unavailable",
                       f"Static analyzers ran, but the model engine could not review this "
                       f"change: {sanitize(engine_problem)}")
    return Verdict("success", f"{len(findings)} finding(s), none blocking",
                   f"No finding at or above `{fail_on}`.")


def check_annotations(findings: Sequence[Finding]) -> list[Annotation]:
    return [Annotation(path=f.path, start_line=f.line, end_line=f.end_line,
                       level=_LEVEL[f.severity], title=sanitize(f.rule, limit=200),
                       message=sanitize(f.message))
            for f in findings[:MAX_ANNOTATIONS]]


def summary_body(*, head_sha: str, findings: Sequence[Finding], new_inline: int,
                 overflow: Sequence[InlineComment], notes: Sequence[str], model_summary: str,
                 fail_on: Severity | str) -> str:
    """The summary comment, edited in place on every push."""
    counts = {s: sum(1 for f in findings if f.severity is s) for s in Severity}
    table = " · ".join(f"{_ICON[s]} {counts[s]} {s.value}" for s in reversed(Severity)
                       if counts[s])
    lines = [summary_marker(SUMMARY_KEY), "## reviewbot review",
             f"Reviewed `{head_sha[:12]}`: {len(findings)} finding(s)"
             + (f" — {table}" if table else "") + ".",
             f"{new_inline} new inline comment(s); failing at `{fail_on}`."]
    if model_summary.strip():
        lines += ["", "### What this change does", sanitize(model_summary, limit=1500)]
    if overflow:
        lines += ["", "### More findings (not posted inline)"]
        lines += [f"- `{c.path}:{c.line}` {c.body.splitlines()[0]}" for c in overflow]
    if notes:
        lines += ["", "<details><summary>Notes</summary>", ""]
        lines += [f"- {sanitize(n, limit=500)}" for n in notes]
        lines += ["", "</details>"]
    return "\n".join(lines)
