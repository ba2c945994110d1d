"""ISO weeks in a time zone, the periods that history figures and digests are counted over.

A week runs from Monday 00:00 to the next Monday 00:00 in the configured zone (wall-clock
time, so a DST change gives a 167- or 169-hour week); bounds are aware datetimes, half open.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo


@dataclass(frozen=True, slots=True)
class Week:
    """The ISO week starting on `monday`, in time zone `tz`."""

    monday: date
    tz: tzinfo

    @property
    def start(self) -> datetime:
        return datetime.combine(self.monday, time(0), tzinfo=self.tz)

    @property
    def end(self) -> datetime:
        return datetime.combine(self.monday + timedelta(days=7), time(0), tzinfo=self.tz)

    @property
    def label(self) -> str:
        """`"2026-W41"`: the ISO year and week number."""
        year, number, _ = self.monday.isocalendar()
        return f"{year}-W{number:02d}"

    @property
    def sunday(self) -> date:
        return self.monday + timedelta(days=6)

    def shifted(self, weeks: int) -> Week:
        return Week(self.monday + timedelta(weeks=weeks), self.tz)

    def contains(self, moment: datetime) -> bool:
        return self.start <= moment < self.end


def week_of(day: date | datetime, tz: tzinfo) -> Week:
    """The week containing `day` (an aware datetime is first converted to `tz`)."""
    if isinstance(day, datetime):
        if day.tzinfo is None:
            raise ValueError(f"naive datetime {day!r}: pass an aware one")
        day = day.astimezone(tz).date()
    return Week(day - timedelta(days=day.weekday()), tz)


def last_complete_week(now: datetime, tz: tzinfo) -> Week:
    """The most recent week that has ended at `now`."""
    return week_of(now, tz).shifted(-1)


def weeks_ending(week: Week, count: int) -> list[Week]:
    """`count` consecutive weeks ending with `week`, oldest first."""
    return [week.shifted(offset) for offset in range(1 - count, 1)]


def bucket(moment: datetime, weeks: list[Week]) -> Week | None:
    """The week of `weeks` that contains `moment`, if any."""
    if not weeks:
        return None
    found = week_of(moment, weeks[0].tz)  # weeks of one zone: look the week up directly
    for week in weeks:
        if week == found:
            return week
    return None
