"""clinic/statistics.py: periods, rates, hour buckets and cancellations (pure, no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from clinic.statistics import (
    Cancellations,
    Period,
    average,
    busiest_hours,
    cancellations,
    hour_buckets,
    no_show_rate,
    period_bounds,
    rate,
)

BERLIN = ZoneInfo("Europe/Berlin")
KOLKATA = ZoneInfo("Asia/Kolkata")
NOW = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)


def test_periods_end_now_and_reach_back() -> None:
    assert period_bounds(Period.WEEK, NOW, BERLIN) == (NOW - timedelta(days=7), NOW)
    assert period_bounds(Period.MONTH_30, NOW, BERLIN)[0] == NOW - timedelta(days=30)
    assert period_bounds(Period.QUARTER, NOW, BERLIN)[0] == NOW - timedelta(days=90)


def test_this_month_starts_at_local_midnight_of_the_first() -> None:
    start, end = period_bounds(Period.THIS_MONTH, NOW, BERLIN)
    assert start == datetime(2026, 11, 30, 23, 0, tzinfo=UTC)  # 1 Dec 00:00 in Berlin (CET)
    assert end == NOW
    # Just after midnight UTC on the 1st, it is still the previous month's last evening in
    # New York: "this month" there is the whole of November.
    early = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
    start, _ = period_bounds(Period.THIS_MONTH, early, ZoneInfo("America/New_York"))
    assert start == datetime(2026, 11, 1, 4, 0, tzinfo=UTC)  # 1 Nov 00:00 EDT


def test_rates_have_no_value_when_nothing_was_counted() -> None:
    assert rate(1, 4) == 0.25
    assert rate(0, 0) is None
    assert no_show_rate({"no_show": 1, "completed": 3, "cancelled": 9}) == 0.25
    assert no_show_rate({"booked": 5, "cancelled": 2}) is None
    assert average(9, 2) == 4.5
    assert average(0, 0) is None


def test_hours_are_local_and_dst_correct() -> None:
    summer = datetime(2026, 7, 1, 8, 0, tzinfo=UTC)  # 10:00 CEST
    winter = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)  # 10:00 CET
    buckets = hour_buckets([summer, winter, winter + timedelta(minutes=30)], BERLIN)
    assert len(buckets) == 24 and buckets[10] == 3 and sum(buckets) == 3
    # Half-hour zones fall into their own local hour.
    assert hour_buckets([winter], KOLKATA)[14] == 1  # 14:30 IST


def test_busiest_hours_fullest_first_then_earliest() -> None:
    buckets = [0] * 24
    buckets[9], buckets[14], buckets[11], buckets[16] = 2, 5, 2, 1
    assert busiest_hours(buckets) == [(14, 5), (9, 2), (11, 2)]
    assert busiest_hours([0] * 24) == []


def test_cancellations_by_who_and_late() -> None:
    rows = [("patient", True, 2), ("patient", False, 3), ("doctor", False, 1), ("clinic", False, 4)]
    counted = cancellations(rows)
    assert counted == Cancellations(by_patient=5, by_doctor=1, by_clinic=4, late=2)
    assert counted.total == 10
    assert cancellations([]).total == 0
