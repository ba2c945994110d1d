"""The generated-tests part of a report: kept tests with their evidence, the rest by fate.

Shared by the markdown and JSON outputs so both show the same facts. Model-written text
(behaviours, code) is masked like every other free text of an output.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from reviewers.secrets_mask import mask_secrets
from reviewers.testgen import CandidateResult, KeptTest, TestFate, TestGenResult

FATE_TEXT = {
    TestFate.KEPT: "kept",
    TestFate.FAILED_TO_COLLECT: "failed to import or collect",
    TestFate.FAILED: "failed",
    TestFate.FLAKY: "flaky (not 5/5)",
    TestFate.NO_ASSERTIONS: "no assertion on the target",
    TestFate.NO_COVERAGE_GAIN: "no changed line newly covered",
}


def tests_document(result: TestGenResult | None) -> dict[str, Any] | None:
    """The `tests` member of the JSON report (None when test generation was not asked)."""
    if result is None:
        return None
    fates = Counter(r.fate.value for r in result.results)
    return {
        "skipped_reason": mask_secrets(result.skipped_reason) if result.skipped_reason else None,
        "command": " ".join(result.command.argv) if result.command else None,
        "targets": [t.name for t in result.targets],
        "candidates": len(result.results),
        "fates": {fate.value: fates.get(fate.value, 0) for fate in TestFate},
        "kept": [_kept(k) for k in result.kept],
        "rejected": [_rejected(r) for r in result.results if r.fate is not TestFate.KEPT],
        "seconds": round(result.seconds, 3),
    }


def _kept(test: KeptTest) -> dict[str, Any]:
    return {
        "path": test.path, "targets": test.targets,
        "behaviours": [mask_secrets(b) for b in test.behaviours],
        "passes": test.passes, "runs": test.runs,
        "coverage_before": list(test.coverage_before), "coverage_after": list(test.coverage_after),
        "newly_covered": test.newly_covered, "seconds": round(test.seconds, 3),
        "behaviour_change": test.behaviour_change, "command": test.command,
        "content": mask_secrets(test.content),
    }


def _rejected(result: CandidateResult) -> dict[str, Any]:
    failed = next((s for s in reversed(result.steps) if not s.ok), None)
    return {"path": result.candidate.path, "target": result.candidate.target,
            "fate": result.fate.value,
            "reason": mask_secrets(f"{failed.name}: {failed.detail}") if failed else ""}


def tests_markdown(result: TestGenResult | None) -> list[str]:
    """Lines of the "Generated tests" section (none when test generation was not asked)."""
    if result is None:
        return []
    lines = ["", "## Generated tests", ""]
    if result.skipped_reason:
        return [*lines, f"None: {mask_secrets(result.skipped_reason)}."]
    lines.append(f"{len(result.kept)} of {len(result.results)} candidate test(s) kept after "
                 "sandboxed validation.")
    for test in result.kept:
        lines += ["", f"### `{test.path}`", "",
                  f"Tests {', '.join(f'`{t}`' for t in test.targets)}: "
                  f"{mask_secrets('; '.join(b for b in test.behaviours if b))}", "",
                  f"- passed {test.passes}/{test.runs} runs in the sandbox",
                  f"- changed lines covered: {_ratio(test.coverage_before)} -> "
                  f"{_ratio(test.coverage_after)}",
                  f"- validated in {test.seconds:.1f} s; run it with `{test.command}`"]
        if test.behaviour_change:
            lines.append("- fails on the base revision: documents a behaviour change")
        fence = "````" if "```" in test.content else "```"
        lines += ["", f"{fence}python", mask_secrets(test.content).rstrip("\n"), fence]
    rejected = [r for r in result.results if r.fate is not TestFate.KEPT]
    if rejected:
        lines += ["", "Rejected:"]
        lines += [f"- `{r.candidate.path}` ({r.candidate.target}): {FATE_TEXT[r.fate]}"
                  for r in rejected]
    return lines


def _ratio(pair: tuple[int, int]) -> str:
    covered, total = pair
    return f"{covered}/{total}"
