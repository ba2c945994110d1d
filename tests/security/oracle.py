"""A scripted model for the vLLM stand-in that knows the corpus' ground truth.

It answers the security review with every expected vulnerability of the reviewed cases
(CWE, quoted code, a short exploit scenario, a local fix for one case) and triages each
analyzer finding as real when an expectation of its file names its CWE, else as a false
positive with a reason. It tests what the pipeline does with a model's answers (merging,
dismissal, recording, SARIF), not how good a model is: no figure is derived from it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from tests.security_corpus import Case, cwe_number
from tests.standin.script import ChatCall

REVIEW = "Review the diff above"
SECURITY = "application security engineer"
TRIAGE = "Static analyzers flagged"
_TRIAGE_ROW = re.compile(r"^- id (\d+): (.+?):(\d+) \[([^,\]]+)(?:, (CWE-\d+))?\]", re.M)
LOCAL_FIXES = {"py-yaml-full-loader": "    return yaml.safe_load(text)"}
FALSE_POSITIVE_REASON = "the flagged value is not a credential or attacker-controlled here"


def exploit(case: Case, cwe: str) -> str:
    return (f"An attacker who controls this input abuses it ({case.id}, {cwe}): a crafted "
            "request reaches the flagged call.")


class OracleModel:
    """`script_fn` for a `StandinServer`: review, security review and triage answers."""

    def __init__(self, cases: Sequence[Case], *, leak: str | None = None) -> None:
        self.cases = list(cases)
        self.leak = leak  # a raw secret the model repeats in its answers (untrusted output)

    def __call__(self, call: ChatCall) -> dict[str, Any] | None:
        text = call.last
        if TRIAGE in text.split("## Task")[-1]:
            return self.triage(text.split("## Task")[-1])
        if SECURITY in text.split("## Task")[-1]:
            return self.security()
        if REVIEW in text.split("## Task")[-1]:
            return {"summary": "Adds request handlers.", "findings": []}
        return None

    def security(self) -> dict[str, Any]:
        findings = []
        for case in self.cases:
            lines = case.head.splitlines()
            for expected in case.expect:
                message = f"{expected.cwe} in {case.path}."
                if self.leak:
                    message += f" The value {self.leak} is exposed."
                findings.append({
                    "path": expected.path, "line": expected.line, "end_line": expected.line,
                    "severity": "high", "cwe": expected.cwe,
                    "rule": f"cwe-{cwe_number(expected.cwe)}",
                    "quote": lines[expected.line - 1].strip(), "message": message,
                    "exploit": exploit(case, expected.cwe),
                    "suggestion": LOCAL_FIXES.get(case.id), "confidence": 0.9})
        return {"findings": findings}

    def triage(self, task: str) -> dict[str, Any]:
        verdicts = []
        for match in _TRIAGE_ROW.finditer(task):
            number, path, cwe = int(match[1]), match[2], match[5]
            real = any(e.path == path and cwe_number(e.cwe) == cwe_number(cwe)
                       for c in self.cases for e in c.expect)
            reason = ("user-controlled data reaches the flagged call" if real
                      else FALSE_POSITIVE_REASON)
            if self.leak:
                reason += f" ({self.leak})"
            verdicts.append({"id": number, "true_positive": real, "reason": reason,
                             "severity": "high" if real else "low"})
        return {"verdicts": verdicts}
