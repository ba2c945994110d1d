"""Benchmark: recall and precision of the static-analyzer path on the security corpus.

Run as `python -m tests.benchmarks.security [--batched] [--language L] [--no-semgrep]
[--verbose]`. Every case of tests/security_corpus/ becomes its own real git repository
(base on `main`, the change on `feature`) reviewed by the pipeline with no model engine,
so the figures are those of bandit, ruff, detect-secrets and semgrep (when installed). A reported
security finding is a true positive when it covers an expected line with the expected CWE;
everything else it reports (including anything on a safe look-alike) is a false positive.
The last line is `recall=<r> precision=<p> cases=<n>`.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections import Counter
from pathlib import Path

from reviewers.analyzers import default_analyzers
from reviewers.analyzers.process import find_executable
from tests.security_corpus import LANGUAGES, Case, load_cases
from tests.security_corpus.run import Score, run_batched, run_each


def _breakdown(score: Score) -> list[str]:
    lines = []
    by_language: dict[str, Counter[str]] = {}
    for result in score.cases:
        counts = by_language.setdefault(result.case.language, Counter())
        counts["tp"] += len(result.matched)
        counts["fn"] += len(result.missed)
        counts["fp"] += len(result.false_positives)
    for language, counts in sorted(by_language.items()):
        lines.append(f"  {language:<11} tp={counts['tp']:<3} fn={counts['fn']:<3} "
                     f"fp={counts['fp']}")
    return lines


def _details(score: Score) -> list[str]:
    lines = []
    for result in score.cases:
        for expected in result.missed:
            gap = " (documented analyzer gap)" if result.case.analyzer_gap else ""
            lines.append(f"  missed {result.case.id}: {expected.path}:{expected.line} "
                         f"{expected.cwe}{gap}")
        for finding in result.false_positives:
            known = " (documented)" if result.case.analyzer_false_positive else ""
            lines.append(f"  false positive {result.case.id}: {finding.path}:{finding.line} "
                         f"{finding.rule} {finding.cwe} [{finding.source}]{known}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batched", action="store_true",
                        help="review the cases in a few combined changes (faster)")
    parser.add_argument("--language", choices=LANGUAGES, help="only this language's cases")
    parser.add_argument("--verbose", action="store_true", help="list every miss and false "
                        "positive")
    parser.add_argument("--no-semgrep", action="store_true",
                        help="leave semgrep out (what a setup without the optional extra gets)")
    args = parser.parse_args(argv)
    cases: list[Case] = [c for c in load_cases()
                         if args.language is None or c.language == args.language]
    semgrep = None if args.no_semgrep else find_executable("semgrep")
    analyzers = [a for a in default_analyzers()
                 if not (args.no_semgrep and a.name == "semgrep")]
    print(f"cases={len(cases)} vulnerable={sum(c.vulnerable for c in cases)} "
          f"safe={sum(not c.vulnerable for c in cases)} "
          f"cwes={len({e.cwe for c in cases for e in c.expect})} "
          f"languages={len({c.language for c in cases})}")
    absent = "not used (JavaScript/Go/Java get the secrets detector only)"
    print(f"semgrep: {semgrep or absent}")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="reviewbot-security-bench-") as tmp:
        score = (run_batched(cases, Path(tmp), analyzers=analyzers)[0] if args.batched
                 else run_each(cases, Path(tmp), analyzers=analyzers))
    elapsed = time.perf_counter() - started
    print(f"mode={'batched' if args.batched else 'one change per case'} "
          f"elapsed_s={elapsed:.1f}")
    print("\n".join(_breakdown(score)))
    if args.verbose:
        print("\n".join(_details(score)))
    gaps = sum(len(r.missed) for r in score.cases if r.case.analyzer_gap)
    print(f"tp={score.tp} fn={score.fn} (of which documented analyzer gaps: {gaps}) "
          f"fp={score.fp}")
    print(f"recall={score.recall:.3f} precision={score.precision:.3f} cases={len(cases)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
