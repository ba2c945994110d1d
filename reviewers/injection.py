"""Prompt-injection guard: flag PR text that addresses the reviewer, withhold leaked prompts.

Two sides of one problem. Input: added diff lines, the PR title and description are
scanned for text that tries to instruct an AI reviewer (approve, ignore problems, reveal
the prompt or settings, post links, mention people, comment elsewhere, forge chat-template
or `<untrusted>` tags). Hits on added lines become `prompt-injection` findings; hits in the
PR text become notes (they have no line to anchor on). Output: model text that repeats
the system prompt is withheld, since the prompt is the bot's configuration.

The detector is a short list of phrase patterns on normalised text (NFKC, invisible and
bidi control characters removed, so zero-width tricks do not hide a phrase). It runs
without the model, so a model that obeys an injection cannot suppress the flag.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from reviewers.diff import ReviewDiff
from reviewers.findings import Category, Finding, Severity

RULE = "prompt-injection"
SOURCE = "injection"
MAX_SCANNED_LINE = 2000  # longer lines are scanned up to here (minified code, data blobs)
LEAK_SHINGLE_WORDS = 7  # this many consecutive words of the system prompt = a leak
WITHHELD = "[withheld: the model's text repeated its own instructions]"

# Zero-width, joiners, bidi embeddings/overrides/isolates, BOM, soft hyphen, tag chars.
_INVISIBLE = re.compile(
    "[\u00ad\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff\U000e0000-\U000e007f]")

_TARGET = (r"(?:pr|pull request|merge request|mr|change|changes|diff|patch|commit|code)")
_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (kind, re.compile(pattern, re.IGNORECASE)) for kind, pattern in (
        ("override instructions",
         r"\b(?:ignore|disregard|forget|override|bypass)\b[^.\n]{0,40}?\b(?:previous|prior|above|"
         r"earlier|all|any|your|the|system|these)\b[^.\n]{0,20}?\b(?:instructions?|rules|"
         r"prompts?|guidelines|directives|constraints)\b"),
        ("role change", r"\byou are now\b|\bfrom now on,? you\b|\bpretend (?:to be|you are)\b"
                        r"|\bnew (?:system )?instructions?\s*:"),
        ("approval demand",
         r"\b(?:approve|lgtm|accept|merge)\b[^.\n]{0,30}?\b(?:this|the|my)\s+" + _TARGET + r"\b"),
        ("approval demand",
         r"\b(?:mark|set|report|make)\b[^.\n]{0,30}?\b(?:check|status|review|build|ci)\b"
         r"[^.\n]{0,20}?\b(?:as )?(?:pass(?:ed|ing)?|green|success(?:ful)?|approved)\b"),
        ("suppression demand",
         r"\b(?:report|return|output|say|answer|respond with|find)\b[^.\n]{0,20}?\bno "
         r"(?:issues|findings|problems|vulnerabilities|bugs)\b"
         r"|\bdo(?:n't| not) (?:report|flag|mention|comment on)\b"),
        ("prompt or settings leak",
         r"\b(?:reveal|print|show|output|repeat|leak|dump|tell me|share|disclose|include|"
         r"write out|echo)\b[^.\n]{0,40}?\b(?:system prompt|(?:your|the bot's|reviewbot's) "
         r"(?:prompt|instructions|rules|configuration|config|settings|secrets?|api keys?|"
         r"tokens?|environment)|webhook secret|environment variables|env vars)\b"),
        ("reviewer addressed",
         r"\b(?:in|to|into) your (?:review|comment|summary|response|answer|reply|output)\b"),
        ("reviewer addressed",
         r"\b(?:ai|llm|language model|assistant|chatgpt|gpt|claude|copilot|reviewbot|review bot|"
         r"ai reviewer|code reviewer|automated reviewer)\b\s*[:,]\s*(?:please\s+)?(?:ignore|"
         r"approve|disregard|do|say|write|output|reveal|comment|post|mention|respond|reply|add|"
         r"include|print)\b"),
        ("mention or link request",
         r"\b(?:mention|ping|tag|notify|cc|@-mention)\b[^.\n]{0,20}?@[A-Za-z0-9][\w-]*"
         r"|\b(?:include|add|post|insert|put|append)\b[^.\n]{0,30}?\b(?:this|the following)\s+"
         r"(?:link|url|hyperlink)\b"),
        ("comment elsewhere",
         r"\b(?:comment|post|leave|write)\b[^.\n]{0,30}?\bon (?:other|another|different|every|"
         r"all) (?:files?|lines?|paths?)\b"),
        ("forged chat markup",
         r"<\|(?:im_start|im_end|system|user|assistant|endoftext)\|>|\[/?INST\]|<</?SYS>>"
         r"|</?untrusted\b|^\s*(?:#+\s*)?(?:system|assistant)\s*:\s*\S"),
    ))


@dataclass(frozen=True, slots=True)
class InjectionHit:
    """One phrase that tries to instruct the reviewer."""

    source: str  # "diff", "pr-title", "pr-description"
    kind: str
    excerpt: str
    path: str = ""  # diff hits only: where, and the whole added line
    line: int = 0
    text: str = ""


def normalise(text: str) -> str:
    """NFKC-folded text with invisible and bidi control characters removed."""
    return _INVISIBLE.sub("", unicodedata.normalize("NFKC", text))


def scan_text(text: str) -> list[tuple[str, str]]:
    """(kind, excerpt) of every pattern that matches `text`, one per kind."""
    clean = normalise(text[:MAX_SCANNED_LINE * 10])
    found: dict[str, str] = {}
    for kind, pattern in _PATTERNS:
        match = pattern.search(clean)
        if match is not None and kind not in found:
            found[kind] = " ".join(match.group(0).split())[:120]
    return list(found.items())


def scan_pull_request(title: str, description: str) -> list[InjectionHit]:
    """Injection attempts in the PR's title and description."""
    hits = []
    for source, text in (("pr-title", title), ("pr-description", description)):
        hits += [InjectionHit(source, kind, excerpt) for kind, excerpt in scan_text(text)]
    return hits


def scan_diff(diff: ReviewDiff) -> list[InjectionHit]:
    """Injection attempts on added lines (removed and context lines are not the author's new
    text); one hit per line, the first kind that matched."""
    hits = []
    for file in diff.files:
        if not file.reviewable:
            continue
        for hunk in file.hunks:
            for ln in hunk.lines:
                if ln.new_lineno is None or ln.new_lineno not in hunk.added_lines():
                    continue
                matches = scan_text(ln.text[:MAX_SCANNED_LINE])
                if matches:
                    kind, excerpt = matches[0]
                    hits.append(InjectionHit("diff", kind, excerpt, file.path, ln.new_lineno,
                                             ln.text[:MAX_SCANNED_LINE]))
    return hits


def injection_findings(diff: ReviewDiff) -> list[Finding]:
    """A `prompt-injection` security finding on each added line that addresses the reviewer."""
    findings = []
    for hit in scan_diff(diff):
        findings.append(Finding(
            path=hit.path, line=hit.line, end_line=hit.line, severity=Severity.HIGH,
            category=Category.SECURITY, rule=RULE, source=SOURCE, confidence=0.8,
            cwe="CWE-1427",
            message=(f"This line contains text addressed to an AI reviewer ({hit.kind}: "
                     f"“{hit.excerpt}”). The review bot treats it as data and ignored it, "
                     "but it is an attempt to manipulate automated review; remove it."),
            extra={"quote": hit.text, "injection_kind": hit.kind},
        ).with_fingerprint(hit.text))
    return findings


def pull_request_notes(hits: Iterable[InjectionHit]) -> list[str]:
    """Summary notes for attempts in the PR title or description."""
    return [f"the pull request {hit.source.removeprefix('pr-')} contains text addressed to "
            f"an AI reviewer ({hit.kind}: “{hit.excerpt}”); it was treated as data and "
            "ignored" for hit in hits if hit.source != "diff"]


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", normalise(text).lower())


def _shingles(words: list[str], size: int) -> set[tuple[str, ...]]:
    return {tuple(words[i:i + size]) for i in range(len(words) - size + 1)}


class LeakGuard:
    """Withholds model text that repeats the system prompt (its instructions and the
    maintainers' configured instructions)."""

    def __init__(self, *protected: str, size: int = LEAK_SHINGLE_WORDS) -> None:
        self._size = size
        self._protected: set[tuple[str, ...]] = set()
        for text in protected:
            self._protected |= _shingles(_words(text), size)

    def leaks(self, text: str) -> bool:
        return bool(self._protected & _shingles(_words(text), self._size))

    def scrub(self, text: str) -> str:
        """`text`, or a short marker when it repeats protected text."""
        return WITHHELD if text and self.leaks(text) else text
