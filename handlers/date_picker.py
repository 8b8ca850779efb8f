"""The shared date and time picker: a month calendar that only offers days with free slots.

Used by booking and rescheduling (and anything else that picks one of a doctor's slots). The
flow owns the conversation; this module only draws keyboards and reads their actions.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime

from babel.dates import format_date, get_day_names

from clinic.calendar_grid import month_weeks, shift_month
from clinic.slots import Interval
from handlers import callbacks
from handlers.formatting import clock, day
from handlers.port import InlineButton, InlineKeyboard
from handlers.turn import Turn
from storage.models import Conversation

TIMES_PER_PAGE = 12


def month_title(year: int, month: int, language: str) -> str:
    return format_date(date(year, month, 1), "LLLL y", locale=language)


def _pack(conv: Conversation, action: str) -> str:
    return callbacks.pack(conv.flow, conv.token, conv.step, action)


def month_keyboard(
    turn: Turn,
    conv: Conversation,
    year: int,
    month: int,
    available: set[date],
    today: date,
    last_month: tuple[int, int],
    extra_row: Sequence[InlineButton] = (),
) -> InlineKeyboard:
    language = turn.t.language
    names = get_day_names("narrow", context="stand-alone", locale=language)
    header = tuple(InlineButton(names[i], _pack(conv, "wd")) for i in range(7))
    rows: list[tuple[InlineButton, ...]] = [header]
    for week in month_weeks(year, month):
        row = []
        for cell in week:
            if cell is None:
                row.append(InlineButton(" ", _pack(conv, "pad")))  # outside the month
            elif cell in available:
                label = f"[{cell.day}]" if cell == today else str(cell.day)
                row.append(InlineButton(label, _pack(conv, f"d{cell:%Y%m%d}")))
            else:
                row.append(InlineButton("·", _pack(conv, "x")))
        rows.append(tuple(row))
    nav = []
    if (year, month) > (today.year, today.month):
        prev_y, prev_m = shift_month(year, month, -1)
        nav.append(
            InlineButton(
                f"‹ {month_title(prev_y, prev_m, language)}", _pack(conv, f"m{prev_y}{prev_m:02d}")
            )
        )
    if (year, month) < last_month:
        next_y, next_m = shift_month(year, month, 1)
        nav.append(
            InlineButton(
                f"{month_title(next_y, next_m, language)} ›", _pack(conv, f"m{next_y}{next_m:02d}")
            )
        )
    if nav:
        rows.append(tuple(nav))
    if extra_row:
        rows.append(tuple(extra_row))
    return InlineKeyboard(tuple(rows))


def read_day(action: str) -> date | None:
    if len(action) == 9 and action.startswith("d") and action[1:].isdigit():
        try:
            return datetime.strptime(action[1:], "%Y%m%d").replace(tzinfo=UTC).date()
        except ValueError:
            return None
    return None


def read_month(action: str) -> tuple[int, int] | None:
    if len(action) == 7 and action.startswith("m") and action[1:].isdigit():
        year, month = int(action[1:5]), int(action[5:])
        if 1 <= month <= 12:
            return year, month
    return None


def slot_action(slot: Interval) -> str:
    return f"t{int(slot.start.timestamp()) // 60}"


def read_slot(action: str) -> datetime | None:
    if action.startswith("t") and action[1:].isdigit() and len(action) <= 12:
        return datetime.fromtimestamp(int(action[1:]) * 60, tz=UTC)
    return None


def times_keyboard(
    turn: Turn,
    conv: Conversation,
    slots: Sequence[Interval],
    zone_name: str,
    page: int,
    with_day: bool,
    extra_row: Sequence[InlineButton] = (),
) -> InlineKeyboard:
    language = turn.t.language
    shown = slots[page * TIMES_PER_PAGE : (page + 1) * TIMES_PER_PAGE]
    buttons = []
    for slot in shown:
        label = clock(slot.start, zone_name, language)
        if with_day:
            label = f"{day(slot.start, zone_name, language)} {label}"
        buttons.append(InlineButton(label, _pack(conv, slot_action(slot))))
    per_row = 2 if with_day else 3
    rows = [tuple(buttons[i : i + per_row]) for i in range(0, len(buttons), per_row)]
    nav = []
    if page > 0:
        nav.append(InlineButton(turn.t("‹ Earlier"), _pack(conv, f"p{page - 1}")))
    if (page + 1) * TIMES_PER_PAGE < len(slots):
        nav.append(InlineButton(turn.t("Later ›"), _pack(conv, f"p{page + 1}")))
    if nav:
        rows.append(tuple(nav))
    if extra_row:
        rows.append(tuple(extra_row))
    return InlineKeyboard(tuple(rows))


def read_page(action: str) -> int | None:
    if action.startswith("p") and action[1:].isdigit() and len(action) <= 4:
        return int(action[1:])
    return None
