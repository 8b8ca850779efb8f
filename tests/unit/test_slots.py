"""Slot generation, DST, buffers, days off, notice, horizon, the month grid, the lifecycle."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from clinic.appointments import (
    AppointmentInPast,
    InvalidTransition,
    Status,
    check_changeable,
    is_late_cancellation,
    transition,
)
from clinic.calendar_grid import days_with_slots, month_weeks, shift_month
from clinic.slots import (
    Interval,
    Schedule,
    TemplateError,
    WorkingRange,
    clock_text,
    format_template,
    free_slots,
    local_to_utc,
    outside_hours,
    parse_weekly_template,
    stored_range,
)

KOLKATA = ZoneInfo("Asia/Kolkata")
NEW_YORK = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")


def weekdays(start: time, end: time) -> list[WorkingRange]:
    return [WorkingRange(d, start, end) for d in range(5)]


def test_slots_follow_the_template_in_the_doctors_zone() -> None:
    schedule = Schedule(BERLIN, weekdays(time(9), time(11)), slot_minutes=30)
    now = datetime(2026, 12, 6, 12, tzinfo=UTC)  # a Sunday
    slots = free_slots(schedule, now, [], Interval(now, now + timedelta(days=1)))
    local = [s.start.astimezone(BERLIN).strftime("%a %H:%M") for s in slots]
    assert local == ["Mon 09:00", "Mon 09:30", "Mon 10:00", "Mon 10:30"]


def test_nine_stays_nine_across_daylight_saving() -> None:
    schedule = Schedule(
        BERLIN, weekdays(time(9), time(10)), slot_minutes=60, horizon=timedelta(days=60)
    )
    now = datetime(2026, 3, 20, 0, tzinfo=UTC)
    slots = free_slots(schedule, now, [])
    assert {s.start.astimezone(BERLIN).time() for s in slots} == {time(9)}
    utc_hours = {s.start.hour for s in slots}
    assert utc_hours == {8, 7}  # 08:00 UTC in winter time, 07:00 UTC in summer time


def test_kolkata_doctor_seen_from_new_york_across_the_us_change() -> None:
    # US clocks go forward on 2027-03-14; India has no DST.
    schedule = Schedule(
        KOLKATA, weekdays(time(19), time(20)), slot_minutes=60, horizon=timedelta(days=10)
    )
    now = datetime(2027, 3, 10, 0, tzinfo=UTC)
    slots = free_slots(schedule, now, [])
    shown = {s.start.astimezone(NEW_YORK).date(): s.start.astimezone(NEW_YORK) for s in slots}
    assert shown[date(2027, 3, 12)].strftime("%H:%M %Z") == "08:30 EST"
    assert shown[date(2027, 3, 15)].strftime("%H:%M %Z") == "09:30 EDT"
    assert all(s.start.astimezone(KOLKATA).hour == 19 for s in slots)


def test_a_wall_time_skipped_by_the_change_moves_after_the_gap() -> None:
    assert local_to_utc(date(2027, 3, 14), time(2, 30), NEW_YORK) == datetime(
        2027, 3, 14, 7, 30, tzinfo=UTC
    )


def test_buffer_notice_horizon_and_days_off() -> None:
    schedule = Schedule(
        BERLIN,
        weekdays(time(9), time(12)),
        slot_minutes=30,
        buffer_minutes=15,
        days_off=[(date(2026, 12, 8), date(2026, 12, 9))],
        min_notice=timedelta(hours=2),
        horizon=timedelta(days=3),
    )
    now = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)  # Monday 09:00 Berlin
    slots = free_slots(schedule, now, [])
    local = [s.start.astimezone(BERLIN) for s in slots]
    assert local[0].strftime("%a %H:%M") == "Mon 11:15"  # 2 h notice, 45-minute steps
    assert {d.strftime("%a") for d in local} == {"Mon", "Thu"}  # Tue, Wed off; horizon 3 days
    assert all(d.date() != date(2026, 12, 10) or d.hour < 9 or d.hour <= 10 for d in local)


def test_a_long_appointment_blocks_every_slot_it_covers() -> None:
    schedule = Schedule(
        BERLIN, weekdays(time(9), time(12)), slot_minutes=30, min_notice=timedelta(0)
    )
    now = datetime(2026, 12, 6, 12, tzinfo=UTC)
    monday_9 = local_to_utc(date(2026, 12, 7), time(9, 40), BERLIN)
    busy = [Interval(monday_9, monday_9 + timedelta(minutes=70))]  # 09:40-10:50, off-grid
    window = Interval(now, now + timedelta(days=1, hours=12))
    local = [
        s.start.astimezone(BERLIN).strftime("%H:%M")
        for s in free_slots(schedule, now, busy, window)
    ]
    assert local == ["09:00", "11:00", "11:30"]


def test_template_parsing_and_errors() -> None:
    ranges = parse_weekly_template(
        "Mon 09:00-13:00 14:00-18:00\ntuesday 9.00-12.00\nFri 10:00-24:00"
    )
    assert format_template(ranges) == [
        (0, "09:00–13:00, 14:00–18:00"),
        (1, "09:00–12:00"),
        (4, "10:00–24:00"),
    ]
    for text, line in [
        ("Funday 09:00-10:00", 1),
        ("Mon 10:00-09:00", 1),
        ("Mon 09:00-10:00\nMon 11:00-12:00", 2),
        ("Mon 09:00-12:00 11:00-13:00", 1),
        ("Tue 25:00-26:00", 1),
        ("", 0),
    ]:
        with pytest.raises(TemplateError) as caught:
            parse_weekly_template(text)
        assert caught.value.line == line


def test_hours_to_24_00_offer_the_last_slot_of_the_day() -> None:
    (evening,) = parse_weekly_template("Mon 22:30-24:00")
    schedule = Schedule(BERLIN, [evening])
    now = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)  # Monday morning
    local = [
        s.start.astimezone(BERLIN).strftime("%H:%M")
        for s in free_slots(schedule, now, [], Interval(now, now + timedelta(days=1)))
    ]
    assert local == ["22:30", "23:00", "23:30"]
    last = local_to_utc(date(2026, 12, 7), time(23, 30), BERLIN)
    assert not outside_hours(schedule, Interval(last, last + timedelta(minutes=30)))
    # Stored as text and read back, 24:00 stays the end of the day.
    stored = stored_range(evening.weekday, clock_text(evening.start), clock_text(evening.end))
    assert stored == evening and clock_text(evening.end) == "24:00"
    # A typed 23:59 is a minute before midnight, not midnight: no 23:30 slot.
    (early,) = parse_weekly_template("Mon 22:30-23:59")
    assert clock_text(early.end) == "23:59"
    ends = [s.end for s in free_slots(Schedule(BERLIN, [early]), now, [], None)]
    assert last + timedelta(minutes=30) not in ends and last in ends
    assert format_template(parse_weekly_template("Mon 23:59-24:00")) == [(0, "23:59–24:00")]


def test_appointments_outside_new_hours_are_found() -> None:
    schedule = Schedule(BERLIN, weekdays(time(9), time(12)))
    inside = local_to_utc(date(2026, 12, 7), time(10), BERLIN)
    outside = local_to_utc(date(2026, 12, 7), time(15), BERLIN)
    assert not outside_hours(schedule, Interval(inside, inside + timedelta(minutes=30)))
    assert outside_hours(schedule, Interval(outside, outside + timedelta(minutes=30)))


def test_month_grid_has_every_date_once_with_the_right_weekday() -> None:
    for year, month in [(2026, 2), (2026, 12), (2027, 3), (2028, 2)]:
        days = [d for week in month_weeks(year, month) for d in week if d]
        assert len(days) == len(set(days))
        assert days[0].day == 1 and (days[-1] + timedelta(days=1)).day == 1
        for week in month_weeks(year, month):
            for column, day in enumerate(week):
                assert day is None or day.weekday() == column
    assert shift_month(2026, 12, 1) == (2027, 1)
    assert shift_month(2027, 1, -1) == (2026, 12)


def test_days_with_slots_uses_the_viewers_zone() -> None:
    late = datetime(2026, 12, 7, 23, 30, tzinfo=UTC)
    slot = Interval(late, late + timedelta(minutes=30))
    assert days_with_slots([slot], ZoneInfo("Asia/Tokyo")) == {date(2026, 12, 8)}
    assert days_with_slots([slot], NEW_YORK) == {date(2026, 12, 7)}


def test_lifecycle() -> None:
    assert transition(Status.BOOKED, Status.CANCELLED) is Status.CANCELLED
    assert transition("booked", Status.IN_CONSULTATION) is Status.IN_CONSULTATION
    assert transition(Status.IN_CONSULTATION, Status.COMPLETED) is Status.COMPLETED
    for current, target in [
        (Status.CANCELLED, Status.BOOKED),
        (Status.COMPLETED, Status.CANCELLED),
        (Status.BOOKED, Status.COMPLETED),
        (Status.NO_SHOW, Status.BOOKED),
    ]:
        with pytest.raises(InvalidTransition):
            transition(current, target)
    now = datetime(2026, 12, 3, 10, tzinfo=UTC)
    with pytest.raises(AppointmentInPast):
        check_changeable(now - timedelta(minutes=1), now)
    assert is_late_cancellation(now + timedelta(minutes=30), now, timedelta(hours=1))
    assert not is_late_cancellation(now + timedelta(hours=2), now, timedelta(hours=1))
