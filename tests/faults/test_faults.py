"""Fault scenarios with real processes on loopback (slow: the second CI step runs them).

Each scenario breaks one part of the running service (worker, Redis, engine, forge, git)
and must end with every accepted delivery answered exactly once, by a posted review or a
neutral check that says why, with no secret in any log line, stored row or posted body.
The same scenarios print the table of `python -m tests.benchmarks.faults`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.faults.scenarios import SCENARIOS

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_every_accepted_delivery_ends_in_exactly_one_answer(name: str, tmp_path: Path) -> None:
    tally = SCENARIOS[name](tmp_path)

    assert tally.accepted > 0, tally.notes
    assert tally.posted > 0, tally.notes
    assert (tally.lost, tally.duplicates, tally.leaks, tally.approvals) == (0, 0, 0, 0), \
        tally.notes
