"""Figures for the admins' statistics: periods, rates and hour buckets (pure, no I/O).

Appointment figures count appointments whose start falls inside the period; hours are the
viewer's local wall-clock hours (zoneinfo, so DST-correct).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, time, timedelta, tzinfo
from enum import StrEnum


class Period(StrEnum):
    WEEK = "7d"
    MONTH_30 = "30d"
    QUARTER = "90d"
    THIS_MONTH = "month"


PERIOD_DAYS = {Period.WEEK: 7, Period.MONTH_30: 30, Period.QUARTER: 90}

# Appointments that took (or will take) the doctor's time: what "busy hours" are made of.
OCCUPYING = frozenset({"booked", "in_consultation", "completed", "no_show"})


def period_bounds(period: Period, now: datetime, zone: tzinfo) -> tuple[datetime, datetime]:
    """[start, now): the last N days, or since local midnight of the 1st of this month."""
    if period is Period.THIS_MONTH:
        local = now.astimezone(zone)
        first = datetime.combine(local.date().replace(day=1), time(0), tzinfo=zone)
        return first.astimezone(now.tzinfo), now
    return now - timedelta(days=PERIOD_DAYS[period]), now


def rate(part: int, whole: int) -> float | None:
    """part / whole, or None when nothing was counted (no rate, rather than 0 %)."""
    if whole <= 0:
        return None
    return part / whole


def came_due(by_status: Mapping[str, int]) -> int:
    """Appointments that came due: completed, no-show or still in progress."""
    return sum(by_status.get(s, 0) for s in ("no_show", "completed", "in_consultation"))


def no_show_rate(by_status: Mapping[str, int]) -> float | None:
    """No-shows among appointments that came due."""
    return rate(by_status.get("no_show", 0), came_due(by_status))


def hour_buckets(starts: Iterable[datetime], zone: tzinfo) -> list[int]:
    """24 counts: how many of `starts` fall in each local hour (0-23) of `zone`."""
    buckets = [0] * 24
    for moment in starts:
        buckets[moment.astimezone(zone).hour] += 1
    return buckets


def busiest_hours(buckets: list[int], top: int = 3) -> list[tuple[int, int]]:
    """(hour, count) of the fullest hours, fullest first, earlier hour first on a tie."""
    ranked = sorted(((h, c) for h, c in enumerate(buckets) if c > 0), key=lambda p: (-p[1], p[0]))
    return ranked[:top]


@dataclass(frozen=True)
class Cancellations:
    by_patient: int = 0
    by_doctor: int = 0
    by_clinic: int = 0
    late: int = 0  # patients' cancellations inside the cut-off

    @property
    def total(self) -> int:
        return self.by_patient + self.by_doctor + self.by_clinic


def cancellations(rows: Iterable[tuple[str | None, bool, int]]) -> Cancellations:
    """From (cancelled_by, late, count) rows; anyone but patient or doctor is the clinic."""
    patient = doctor = clinic = late = 0
    for by, is_late, count in rows:
        if by == "patient":
            patient += count
            late += count if is_late else 0
        elif by == "doctor":
            doctor += count
        else:
            clinic += count
    return Cancellations(patient, doctor, clinic, late)


def average(total: float, count: int) -> float | None:
    return total / count if count else None
