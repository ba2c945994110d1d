"""Ask the engine for candidate tests (one structured call) and, once, for their repairs.

Both calls append their task to the review's `SharedPrefix`, so the replica that served
the review serves these from its prefix cache. Answers are data: paths and code are
validated and only ever run inside the sandbox.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, Protocol

from reviewers.engine import CallRecord, ChatRequest, ChatResult, Priority
from reviewers.errors import EngineOutputError
from reviewers.prompts import SharedPrefix
from reviewers.testgen.model import Candidate, CandidateResult, TargetSet

log = logging.getLogger(__name__)

TESTGEN_TASK_HEAD = """\
Write unit tests (pytest) for the functions and methods listed below, which this change
adds or modifies. Write {per_target} candidate test files per target, each checking a
different behaviour of the target as the changed code defines it (edge cases, error
paths, the new behaviour). Each test must call the target and assert on its result or on
the specific exception it raises; a test that only checks "it does not raise" is useless.
Tests must be deterministic: no network, no sleeping, no current time or randomness
without fixing it, no files outside pytest's tmp_path. Follow the style, fixtures and
imports of the repository's existing tests shown below. Each candidate is a complete test
file: give the target id, one sentence naming the behaviour it checks, the file path
(a new test_*.py file under {directory}/) and the code. The tests run with: {command}
"""

REPAIR_TASK_HEAD = """\
These generated test files were run in a sandbox and rejected; the reason and the
runner's output follow each one. Repair each test so it passes, is deterministic, asserts
on the target's behaviour and exercises the changed lines. Return the repaired complete
file for each id you can repair (same target, same path); omit ids you cannot repair.
"""

_CANDIDATE_PROPS: dict[str, Any] = {
    "target": {"type": "string", "maxLength": 300},
    "behaviour": {"type": "string", "maxLength": 400},
    "path": {"type": "string", "maxLength": 300},
    "code": {"type": "string", "maxLength": 20000},
}

TESTGEN_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "candidates": {
            "type": "array",
            "maxItems": 40,
            "items": {
                "type": "object",
                "properties": _CANDIDATE_PROPS,
                "required": ["target", "behaviour", "path", "code"],
                "additionalProperties": False,
            },
        },
    },
    "required": ["candidates"],
    "additionalProperties": False,
}

REPAIR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "repairs": {
            "type": "array",
            "maxItems": 40,
            "items": {
                "type": "object",
                "properties": {"id": {"type": "integer", "minimum": 0}, **_CANDIDATE_PROPS},
                "required": ["id", "target", "behaviour", "path", "code"],
                "additionalProperties": False,
            },
        },
    },
    "required": ["repairs"],
    "additionalProperties": False,
}


class ChatEngine(Protocol):
    """The engine call test generation makes (satisfied by `EnginePool`)."""

    async def chat(self, request: ChatRequest, *, affinity_key: str, priority: Priority = ...,
                   records: list[CallRecord] | None = None) -> ChatResult: ...


def testgen_task(targets: TargetSet, per_target: int) -> str:
    parts = [TESTGEN_TASK_HEAD.format(per_target=per_target, directory=targets.test_directory,
                                      command=" ".join(targets.command.argv))]
    for target in targets.targets:
        lines = ", ".join(str(n) for n in sorted(target.changed_lines))
        parts.append(f"### Target {target.name}\nFile {target.path} (import it as "
                     f"`{target.module}`), lines {target.start_line}-{target.end_line}, "
                     f"changed lines {lines}:\n```python\n{target.source}\n```")
    shown: set[str] = set()
    for module_path, tests in targets.existing_tests.items():
        for test_path in tests:
            if test_path in shown or not targets.test_texts.get(test_path):
                continue
            shown.add(test_path)
            parts.append(f"### Existing tests of {module_path}: {test_path}\n```python\n"
                         f"{targets.test_texts[test_path]}\n```")
    if not shown:
        parts.append("The changed modules have no tests yet.")
    return "\n\n".join(parts)


def repair_task(rejected: Sequence[CandidateResult]) -> str:
    parts = [REPAIR_TASK_HEAD]
    for result in rejected:
        cand = result.candidate
        parts.append(f"### id {result.index}: target {cand.target}, {cand.path}, rejected as "
                     f"{result.fate.value}\n```python\n{cand.code}\n```\nRunner output:\n"
                     f"```\n{result.failure_output()}\n```")
    return "\n\n".join(parts)


async def ask(engine: ChatEngine, prefix: SharedPrefix, task: str, schema: dict[str, Any],
              name: str, *, affinity_key: str, priority: Priority, max_tokens: int,
              records: list[CallRecord]) -> dict[str, Any]:
    """One structured call; an unusable answer is retried once, then EngineOutputError."""
    request = ChatRequest(messages=prefix.messages(task), schema=schema,  # type: ignore[arg-type]
                          schema_name=name, max_tokens=max_tokens)
    for attempt in (1, 2):
        try:
            answer = await engine.chat(request, affinity_key=affinity_key, priority=priority,
                                       records=records)
        except EngineOutputError:
            if attempt == 2:
                raise
            log.warning("engine answer unusable, retrying once", extra={"call": name})
            continue
        parsed = answer.parsed[0] if answer.parsed else None
        if isinstance(parsed, dict):
            return parsed
    raise EngineOutputError(f"the model's {name} answer was not a JSON object")


def parse_candidates(answer: dict[str, Any], known_targets: set[str], *, key: str = "candidates"
                     ) -> list[tuple[int | None, Candidate]]:
    """(repair id or None, candidate) pairs; entries naming unknown targets are dropped."""
    found: list[tuple[int | None, Candidate]] = []
    for item in answer.get(key, []):
        if not isinstance(item, dict):
            continue
        target = str(item.get("target", "")).strip()
        code = str(item.get("code", ""))
        if target not in known_targets or not code.strip():
            log.info("candidate dropped", extra={"target": target[:100]})
            continue
        ident = item.get("id")
        path = str(item.get("path", "")).strip().removeprefix("./")
        found.append((ident if isinstance(ident, int) else None, Candidate(
            target=target, behaviour=str(item.get("behaviour", "")).strip(),
            path=path or "tests/test_generated.py",
            code=code if code.endswith("\n") else code + "\n")))
    return found
