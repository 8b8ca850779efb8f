"""The month grid a date picker shows. Pure, no I/O."""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from datetime import date, datetime, tzinfo

from clinic.slots import Interval


def month_weeks(year: int, month: int) -> list[list[date | None]]:
    """Weeks Monday to Sunday; days outside the month are None. Every real date once."""
    weeks: list[list[date | None]] = []
    for week in calendar.Calendar(firstweekday=0).monthdatescalendar(year, month):
        weeks.append([day if day.month == month else None for day in week])
    return weeks


def shift_month(year: int, month: int, delta: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + delta
    return index // 12, index % 12 + 1


def days_with_slots(slots: Iterable[Interval], zone: tzinfo) -> set[date]:
    """Local dates (in the viewer's zone) on which at least one slot starts."""
    return {slot.start.astimezone(zone).date() for slot in slots}


def today_in(zone: tzinfo, now: datetime) -> date:
    return now.astimezone(zone).date()
