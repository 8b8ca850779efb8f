"""Free consultation times from a doctor's weekly template. Pure, no I/O.

Working hours are local wall-clock times in the doctor's zone, expanded date by date, so 09:00
stays 09:00 across a daylight-saving change. Everything returned is in UTC; callers show it in
the viewer's own zone. Busy time is subtracted by interval overlap, so an appointment of any
length blocks every slot it touches.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_RANGE = re.compile(r"^(\d{1,2})[:.](\d{2})\s*[-–—]\s*(\d{1,2})[:.](\d{2})$")


@dataclass(frozen=True, slots=True)
class WorkingRange:
    weekday: int  # Monday is 0
    start: time
    end: time


@dataclass(frozen=True, slots=True)
class Interval:
    start: datetime
    end: datetime

    def overlaps(self, other: Interval, margin: timedelta = timedelta(0)) -> bool:
        return self.start < other.end + margin and other.start < self.end + margin


@dataclass(frozen=True)
class Schedule:
    zone: tzinfo
    ranges: Sequence[WorkingRange]
    slot_minutes: int = 30
    buffer_minutes: int = 0
    days_off: Sequence[tuple[date, date]] = field(default_factory=tuple)
    min_notice: timedelta = timedelta(hours=2)
    horizon: timedelta = timedelta(days=30)

    def is_day_off(self, day: date) -> bool:
        return any(first <= day <= last for first, last in self.days_off)


class TemplateError(ValueError):
    """The weekly hours could not be read; `line` says which line (1-based), 0 for all."""

    def __init__(self, line: int, reason: str) -> None:
        super().__init__(reason)
        self.line = line
        self.reason = reason


def local_to_utc(day: date, at: time, zone: tzinfo) -> datetime:
    """A wall-clock time on a date in `zone`, as UTC.

    A time skipped by a spring-forward change (02:30 in New York) takes the offset from before
    the change (PEP 495, fold=0), which lands just after the gap (03:30); a repeated time in the
    autumn takes its first occurrence."""
    return datetime.combine(day, at, tzinfo=zone).astimezone(UTC)


# "24:00" is not a time of day: a range typed to end then ends at time.max, which no typed
# time (they have no seconds) can equal, is stored as the text "24:00", and means midnight.
END_OF_DAY = time.max


def _range_end(day: date, end: time, zone: tzinfo) -> datetime:
    if end == END_OF_DAY:
        return local_to_utc(day + timedelta(days=1), time(0), zone)
    return local_to_utc(day, end, zone)


def clock_text(at: time) -> str:
    """A range's start or end as stored and shown: "09:00", or "24:00" for the end of day."""
    return "24:00" if at == END_OF_DAY else f"{at:%H:%M}"


def stored_range(weekday: int, start: str, end: str) -> WorkingRange:
    """A range as `clock_text` stored it."""
    return WorkingRange(
        weekday,
        time.fromisoformat(start),
        END_OF_DAY if end == "24:00" else time.fromisoformat(end),
    )


def working_intervals(schedule: Schedule, first: date, last: date) -> list[Interval]:
    """The doctor's working hours for each local date in [first, last], in UTC."""
    intervals: list[Interval] = []
    day = first
    while day <= last:
        if not schedule.is_day_off(day):
            for block in schedule.ranges:
                if block.weekday == day.weekday():
                    start = local_to_utc(day, block.start, schedule.zone)
                    end = _range_end(day, block.end, schedule.zone)
                    if end > start:
                        intervals.append(Interval(start, end))
        day += timedelta(days=1)
    return intervals


def free_slots(
    schedule: Schedule,
    now: datetime,
    busy: Iterable[Interval],
    window: Interval | None = None,
) -> list[Interval]:
    """Bookable slots: inside working hours, after the minimum notice, within the horizon,
    and clear of busy time by at least the buffer."""
    earliest = now + schedule.min_notice
    latest = now + schedule.horizon
    if window is not None:
        earliest, latest = max(earliest, window.start), min(latest, window.end)
    if latest <= earliest:
        return []
    first = earliest.astimezone(schedule.zone).date() - timedelta(days=1)
    last = latest.astimezone(schedule.zone).date() + timedelta(days=1)
    length = timedelta(minutes=schedule.slot_minutes)
    step = length + timedelta(minutes=schedule.buffer_minutes)
    margin = timedelta(minutes=schedule.buffer_minutes)
    taken = sorted(busy, key=lambda i: i.start)
    slots: list[Interval] = []
    for block in working_intervals(schedule, first, last):
        start = block.start
        while start + length <= block.end:
            slot = Interval(start, start + length)
            if earliest <= slot.start <= latest and not any(
                slot.overlaps(b, margin) for b in taken
            ):
                slots.append(slot)
            start += step
    return sorted(set(slots), key=lambda s: s.start)


def outside_hours(schedule: Schedule, appointment: Interval) -> bool:
    """True when an existing appointment no longer falls inside the (new) working hours."""
    zone_day = appointment.start.astimezone(schedule.zone).date()
    for block in working_intervals(
        schedule, zone_day - timedelta(days=1), zone_day + timedelta(days=1)
    ):
        if block.start <= appointment.start and appointment.end <= block.end:
            return False
    return True


def parse_weekly_template(text: str) -> list[WorkingRange]:
    """Lines like "Mon 09:00-13:00 14:00-18:00"; days left out are days off."""
    ranges: list[WorkingRange] = []
    seen: set[int] = set()
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    if not lines or len(lines) > 7:
        raise TemplateError(0, "one line per working day, at most seven")
    for number, line in enumerate(lines, start=1):
        day_word, _, rest = line.partition(" ")
        day_key = day_word.strip().lower()[:3]
        if day_key not in WEEKDAYS:
            raise TemplateError(number, "start the line with a weekday, e.g. Mon")
        weekday = WEEKDAYS.index(day_key)
        if weekday in seen:
            raise TemplateError(number, "that weekday is given twice")
        seen.add(weekday)
        parts = [p for p in re.split(r"[,;\s]+(?=\d)", rest.strip()) if p.strip()]
        if not parts:
            raise TemplateError(number, "give at least one range, e.g. 09:00-13:00")
        day_ranges: list[WorkingRange] = []
        for part in parts:
            match = _RANGE.match(part.strip())
            if not match:
                raise TemplateError(number, "write ranges as 09:00-13:00")
            h1, m1, h2, m2 = (int(g) for g in match.groups())
            if h1 > 23 or h2 > 24 or m1 > 59 or m2 > 59 or (h2 == 24 and m2):
                raise TemplateError(number, "a time must be between 00:00 and 24:00")
            start = time(h1, m1)
            end = END_OF_DAY if h2 == 24 else time(h2, m2)
            if end <= start:
                raise TemplateError(number, "a range must end after it starts")
            day_ranges.append(WorkingRange(weekday, start, end))
        day_ranges.sort(key=lambda r: r.start)
        for earlier, later in itertools.pairwise(day_ranges):
            if later.start < earlier.end:
                raise TemplateError(number, "ranges on one day must not overlap")
        ranges.extend(day_ranges)
    return ranges


def format_template(ranges: Sequence[WorkingRange]) -> list[tuple[int, str]]:
    """(weekday, "09:00–13:00, 14:00–18:00") for each working weekday, Monday first."""
    by_day: dict[int, list[str]] = {}
    for block in sorted(ranges, key=lambda r: (r.weekday, r.start)):
        by_day.setdefault(block.weekday, []).append(
            f"{clock_text(block.start)}–{clock_text(block.end)}"
        )
    return [(day, ", ".join(spans)) for day, spans in sorted(by_day.items())]
