"""The model reviewers: code review, security review and analyzer triage over one prefix.

The three calls of one prompt part share the byte-identical `SharedPrefix`; the first
call warms the replica's prefix cache and the others follow it. Answers are untrusted
data: they are schema-validated by the engine, re-checked here, and only ever become
`Finding`s that grounding must still place on a changed line.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from reviewers.engine import CallRecord, ChatRequest, ChatResult, Priority
from reviewers.errors import EngineOutputError
from reviewers.findings import Category, Finding, Severity
from reviewers.prompts import (
    REVIEW_SCHEMA,
    REVIEW_TASK,
    SECURITY_SCHEMA,
    SECURITY_TASK,
    TRIAGE_SCHEMA,
    SharedPrefix,
    triage_task,
)

log = logging.getLogger(__name__)

REVIEW_CONFIDENCE = 0.7


class ChatEngine(Protocol):
    """The one engine call the model reviewers make (satisfied by `EnginePool`)."""

    async def chat(self, request: ChatRequest, *, affinity_key: str, priority: Priority = ...,
                   records: list[CallRecord] | None = None) -> ChatResult: ...


@dataclass(slots=True)
class ModelReviewResult:
    findings: list[Finding] = field(default_factory=list)
    triaged: list[Finding] = field(default_factory=list)
    summaries: list[str] = field(default_factory=list)
    records: list[CallRecord] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class ModelReviewer:
    """Runs the model calls of one review part against an engine."""

    engine: ChatEngine
    affinity_key: str
    priority: Priority = Priority.REVIEW
    answer_tokens: int = 4096
    security: bool = True
    code_review: bool = True

    async def review_part(self, prefix: SharedPrefix, analyzer_findings: Sequence[Finding],
                          ) -> ModelReviewResult:
        result = ModelReviewResult()
        tasks: list[tuple[str, str, dict[str, Any]]] = []
        if self.code_review:
            tasks.append(("review", REVIEW_TASK, REVIEW_SCHEMA))
        if self.security:
            tasks.append(("security", SECURITY_TASK, SECURITY_SCHEMA))
        candidates = [f for f in analyzer_findings if f.category is Category.SECURITY]
        if candidates:
            tasks.append(("triage", triage_task(_triage_rows(candidates)), TRIAGE_SCHEMA))
        if not tasks:
            return result
        # The first call warms the prefix cache; the rest then share it concurrently.
        first = await self._ask(prefix, *tasks[0], result.records)
        rest = await asyncio.gather(*(self._ask(prefix, *t, result.records) for t in tasks[1:]))
        for (name, _, _), answer in zip(tasks, [first, *rest], strict=True):
            if name == "review":
                result.summaries.append(str(answer.get("summary", "")).strip())
                result.findings.extend(review_findings(answer))
            elif name == "security":
                result.findings.extend(security_findings(answer))
            else:
                result.triaged.extend(apply_triage(candidates, answer))
        return result

    async def _ask(self, prefix: SharedPrefix, name: str, task: str, schema: dict[str, Any],
                   records: list[CallRecord]) -> dict[str, Any]:
        request = ChatRequest(messages=prefix.messages(task), schema=schema,  # type: ignore[arg-type]
                              schema_name=name, max_tokens=self.answer_tokens)
        for attempt in (1, 2):
            try:
                answer = await self.engine.chat(request, affinity_key=self.affinity_key,
                                                priority=self.priority, records=records)
            except EngineOutputError as exc:
                if attempt == 2:
                    raise EngineOutputError(
                        f"the model's {name} answer was unusable twice: {exc}") from exc
                log.warning("engine answer unusable, retrying once",
                            extra={"call": name, "error": str(exc)[:200]})
                continue
            parsed = answer.parsed[0] if answer.parsed else None
            if isinstance(parsed, dict):
                return parsed
            if attempt == 2:
                raise EngineOutputError(f"the model's {name} answer was not a JSON object")
        raise AssertionError("unreachable")


def _severity(value: object, default: Severity = Severity.MEDIUM) -> Severity:
    try:
        return Severity(str(value))
    except ValueError:
        return default


def _category(value: object) -> Category:
    try:
        return Category(str(value))
    except ValueError:
        return Category.BUG


def _model_finding(item: dict[str, Any], *, category: Category, cwe: str | None,
                   confidence: float, kind: str) -> Finding | None:
    path = str(item.get("path", "")).strip().removeprefix("b/").lstrip("/")
    try:
        line = int(item["line"])
        end_line = max(line, int(item.get("end_line") or line))
    except (KeyError, TypeError, ValueError):
        return None
    message = str(item.get("message", "")).strip()
    if not path or not message or line < 1:
        return None
    rule = str(item.get("rule") or category).strip().lower().replace(" ", "-")[:80]
    suggestion = item.get("suggestion")
    return Finding(
        path=path, line=line, end_line=end_line, severity=_severity(item.get("severity")),
        category=category, rule=f"llm/{rule}", message=message, source="llm", cwe=cwe,
        suggestion=str(suggestion) if isinstance(suggestion, str) and suggestion.strip() else None,
        confidence=confidence,
        extra={"quote": str(item.get("quote", "")), "reviewer": kind},
    )


def review_findings(answer: dict[str, Any]) -> list[Finding]:
    out = []
    for item in answer.get("findings", []):
        if isinstance(item, dict):
            found = _model_finding(item, category=_category(item.get("category")), cwe=None,
                                   confidence=REVIEW_CONFIDENCE, kind="review")
            if found is not None:
                out.append(found)
    return out


def security_findings(answer: dict[str, Any]) -> list[Finding]:
    out = []
    for item in answer.get("findings", []):
        if not isinstance(item, dict):
            continue
        try:
            confidence = min(1.0, max(0.0, float(item.get("confidence", 0.6))))
        except (TypeError, ValueError):
            confidence = 0.6
        cwe = str(item.get("cwe") or "").upper() or None
        found = _model_finding(item, category=Category.SECURITY, cwe=cwe,
                               confidence=confidence, kind="security")
        if found is not None:
            out.append(_with_exploit(found, str(item.get("exploit") or "").strip()))
    return out


def _with_exploit(finding: Finding, exploit: str) -> Finding:
    """The exploit scenario kept on its own (history, SARIF) and told in the message, which
    is what a reviewer reads first."""
    if not exploit:
        return finding
    message = finding.message
    if exploit not in message:
        message = f"{message}\n\nExploit scenario: {exploit}"
    return replace(finding, message=message, extra={**finding.extra, "exploit": exploit})


def _triage_rows(candidates: Sequence[Finding]) -> list[dict[str, Any]]:
    return [{"id": i, "path": f.path, "line": f.line, "rule": f.rule, "cwe": f.cwe,
             "message": f.message} for i, f in enumerate(candidates)]


def apply_triage(candidates: Sequence[Finding], answer: dict[str, Any]) -> list[Finding]:
    """Candidates annotated with the model's verdict; unanswered ids stay untriaged."""
    verdicts: dict[int, dict[str, Any]] = {}
    for item in answer.get("verdicts", []):
        if isinstance(item, dict) and isinstance(item.get("id"), int):
            verdicts.setdefault(item["id"], item)
    out = []
    for i, finding in enumerate(candidates):
        verdict = verdicts.get(i)
        if verdict is None:
            out.append(replace(finding, extra={**finding.extra, "triage": {
                "verdict": "untriaged", "reason": "the model gave no verdict"}}))
            continue
        real = bool(verdict.get("true_positive"))
        triage = {"verdict": "true_positive" if real else "false_positive",
                  "reason": str(verdict.get("reason", ""))[:600]}
        severity = finding.severity
        if real:
            # The model may raise or lower an analyzer's severity by one step at most.
            model_sev = _severity(verdict.get("severity"), finding.severity)
            step = max(-1, min(1, model_sev.rank - finding.severity.rank))
            severity = _by_rank(finding.severity.rank + step)
        out.append(replace(finding, severity=severity,
                           extra={**finding.extra, "triage": triage}))
    return out


def _by_rank(rank: int) -> Severity:
    return list(Severity)[max(0, min(4, rank))]
