"""Fault benchmark: every scenario of `tests.faults.scenarios` on real local processes.

`python -m tests.benchmarks.faults [SCENARIO ...] [--json FILE]` prints one row per
scenario (deliveries accepted, reviews posted, neutral checks, duplicates, lost, leaks,
approvals, seconds) and ends with `scenarios=<n> lost=<n> duplicates=<n> leaks=<n>`.
Needs redis-server on PATH and the Postgres of tests/conftest.py; takes several minutes.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from tests.faults.accounting import Tally, write_report
from tests.faults.scenarios import SCENARIOS

COLUMNS = ("scenario", "accepted", "posted", "neutral", "duplicates", "lost", "leaks",
           "approvals", "seconds")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.benchmarks.faults",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("scenarios", nargs="*", choices=[[], *SCENARIOS], default=[],
                        metavar="SCENARIO", help=f"any of: {', '.join(SCENARIOS)} (default all)")
    parser.add_argument("--json", type=Path, help="also write the tallies as JSON")
    args = parser.parse_args(argv)
    chosen = args.scenarios or list(SCENARIOS)
    tallies: list[Tally] = []
    for name in chosen:
        with tempfile.TemporaryDirectory(prefix=f"faults-{name}-") as tmp:
            tally = SCENARIOS[name](Path(tmp))
        tallies.append(tally)
        print(f"# {tally.scenario}: done in {tally.seconds} s", file=sys.stderr, flush=True)
        for note in tally.notes:
            print(f"#   {note}", file=sys.stderr, flush=True)
    _print_table(tallies)
    if args.json:
        write_report(args.json, tallies)
    total = {key: sum(getattr(t, key) for t in tallies)
             for key in ("lost", "duplicates", "leaks")}
    print(f"scenarios={len(tallies)} lost={total['lost']} duplicates={total['duplicates']} "
          f"leaks={total['leaks']}")
    return 0 if not any(total.values()) else 1


def _print_table(tallies: list[Tally]) -> None:
    rows = [[str(getattr(t, c)) for c in COLUMNS] for t in tallies]
    widths = [max(len(c), *(len(r[i]) for r in rows)) for i, c in enumerate(COLUMNS)]
    print("  ".join(c.ljust(w) for c, w in zip(COLUMNS, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)))


if __name__ == "__main__":
    sys.exit(main())
