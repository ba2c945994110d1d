"""Weeks in the configured zone: the periods every history figure and digest counts over."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from bot.history.periods import Week, bucket, last_complete_week, week_of, weeks_ending

BERLIN = ZoneInfo("Europe/Berlin")


def test_a_moment_belongs_to_the_week_of_its_local_date() -> None:
    # Sunday 23:30 UTC is already Monday 01:30 in Berlin (summer time): the next week.
    moment = datetime(2026, 10, 11, 23, 30, tzinfo=UTC)
    assert week_of(moment, UTC).label == "2026-W41"
    assert week_of(moment, BERLIN).label == "2026-W42"
    weeks = weeks_ending(Week(date(2026, 10, 12), BERLIN), 3)
    assert bucket(moment, weeks) == Week(date(2026, 10, 12), BERLIN)
    assert bucket(datetime(2026, 9, 1, tzinfo=UTC), weeks) is None  # before the window


def test_the_week_of_the_dst_change_has_169_hours() -> None:
    week = Week(date(2026, 10, 19), BERLIN)  # clocks go back on Sunday 25 October
    # (Aware datetimes of one zone subtract as wall-clock times: compare instants in UTC.)
    assert (week.end.astimezone(UTC) - week.start.astimezone(UTC)).total_seconds() == 169 * 3600
    assert week.start == datetime(2026, 10, 18, 22, 0, tzinfo=UTC)
    assert week.end == datetime(2026, 10, 26, 0, 0, tzinfo=BERLIN)


def test_labels_follow_iso_years() -> None:
    assert week_of(date(2026, 12, 31), UTC).label == "2026-W53"  # 2026 has 53 ISO weeks
    assert week_of(date(2027, 1, 3), UTC).label == "2026-W53"  # a Sunday
    assert week_of(date(2027, 1, 4), UTC).label == "2027-W01"


def test_the_last_complete_week() -> None:
    monday_morning = datetime(2026, 10, 12, 8, 0, tzinfo=UTC)
    assert last_complete_week(monday_morning, UTC).monday == date(2026, 10, 5)
    # Sunday 23:00 UTC is Monday in Berlin: the week that just ended there.
    assert last_complete_week(datetime(2026, 10, 11, 23, 0, tzinfo=UTC), BERLIN).monday == \
        date(2026, 10, 5)
    with pytest.raises(ValueError, match="naive"):
        week_of(datetime(2026, 10, 12), UTC)
