"""`python -m tests.benchmarks.ingest` still measures what it claims: both endpoints accept
every signed delivery (a 422 or 401 from either would make the ratio meaningless), every
accepted one reaches the queue, and the last line has the promised shape."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_the_ingest_benchmark_runs_end_to_end() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tests.benchmarks.ingest", "--deliveries", "60", "--rounds", "1",
         "--concurrency", "4"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=600,
        check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.strip().splitlines()
    rows = {line.split()[0]: line for line in lines if line.startswith(("full ", "bare "))}
    assert set(rows) == {"full", "bare"}
    for row in rows.values():
        assert row.split()[1] == "60"  # sent
        assert row.endswith("{'202': 60}"), row
    last = re.fullmatch(r"ingest_ratio_vs_bare=(\d+\.\d\d) p99_ms=(\d+) lost=(\d+)", lines[-1])
    assert last is not None, lines[-1]
    assert float(last.group(1)) > 0
    assert last.group(3) == "0"
