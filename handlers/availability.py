"""/availability: a doctor's weekly hours, days off, slot length, buffer, notice and horizon.

```mermaid
stateDiagram-v2
    [*] --> menu: /availability (pending or approved doctor)
    menu --> hours: Weekly hours
    menu --> off: Days off
    menu --> len: Consultation length
    menu --> buf: Buffer
    menu --> ntc: Minimum notice
    menu --> hor: Booking horizon
    hours --> menu: saved (or Back)
    off --> off: a day or range added / removed
    off --> menu: Back
    len --> menu: chosen
    buf --> menu: chosen
    ntc --> menu: chosen
    hor --> menu: chosen
    menu --> [*]: Done
```
Hours are local wall-clock times in the doctor's zone (the doctor's own time zone). A change
never drops a booked appointment silently: each future appointment that no longer fits gets its
own message with "Keep it" / "Cancel it" (the agenda's stateless buttons).
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from enum import StrEnum

from babel.dates import get_day_names

from clinic.appointments import Status
from clinic.slots import (
    Interval,
    TemplateError,
    WorkingRange,
    clock_text,
    format_template,
    outside_hours,
    parse_weekly_template,
    stored_range,
)
from clinic.timezones import zone
from handlers import agenda, callbacks, conversation
from handlers.doctor_access import acting_doctor
from handlers.formatting import when
from handlers.i18n import Html, Translator
from handlers.port import InlineButton, InlineKeyboard
from handlers.scheduling import schedule_of
from handlers.turn import Turn
from storage.models import Conversation, DayOff, Doctor, WorkingHours

FLOW = "av"
LENGTHS = (15, 20, 30, 45, 60)
BUFFERS = (0, 5, 10, 15)
NOTICE_HOURS = (0, 1, 2, 4, 12, 24)
HORIZON_DAYS = (7, 14, 30, 60, 90)
MAX_DAYS_OFF = 30
MAX_RANGE_DAYS = 366
_DATE = r"(\d{1,2})[./](\d{1,2})[./](\d{4})"
_DAYS_OFF = re.compile(rf"^{_DATE}(?:\s*[-–—]\s*{_DATE})?$")


class Step(StrEnum):
    MENU = "menu"
    HOURS = "hours"
    OFF = "off"
    LENGTH = "len"
    BUFFER = "buf"
    NOTICE = "ntc"
    HORIZON = "hor"


CHOICES: dict[Step, tuple[int, ...]] = {
    Step.LENGTH: LENGTHS,
    Step.BUFFER: BUFFERS,
    Step.NOTICE: NOTICE_HOURS,
    Step.HORIZON: HORIZON_DAYS,
}


async def begin(turn: Turn) -> None:
    t = turn.t
    doctor = await acting_doctor(turn)
    if doctor is None:
        turn.reply(t("I don't know that command. Send /help to see what you can do."))
        return
    if doctor.status not in {"pending", "approved"}:
        turn.reply(t("Your doctor profile is not active, so there are no hours to set."))
        return
    conv = await conversation.start(turn, FLOW, Step.MENU)
    await show_menu(turn, conv, doctor)


def cancelled_text(turn: Turn) -> str:
    return turn.t("Done. Changes you saved before are kept.")


def _data(conv: Conversation, action: str) -> str:
    return callbacks.pack(FLOW, conv.token, conv.step, action)


def _day_name(t: Translator, weekday: int) -> str:
    return str(get_day_names("abbreviated", locale=t.language)[weekday])


def _range_text(first: date, last: date) -> str:
    if first == last:
        return f"{first:%d.%m.%Y}"
    return f"{first:%d.%m.%Y}–{last:%d.%m.%Y}"


def _ranges(hours: list[WorkingHours]) -> list[WorkingRange]:
    return [stored_range(h.weekday, h.start, h.end) for h in hours]


async def show_menu(turn: Turn, conv: Conversation, doctor: Doctor) -> None:
    t = turn.t
    hours = list(await turn.uow.schedules.hours(doctor.id))
    days_off = list(await turn.uow.schedules.days_off(doctor.id))
    template = format_template(_ranges(hours))
    if template:
        weekly = "\n".join(
            t("{day}: {spans}", day=_day_name(t, day), spans=spans) for day, spans in template
        )
    else:
        weekly = t("No working hours yet: patients cannot book you until you set them.")
    off = (
        ", ".join(_range_text(d.first_day, d.last_day) for d in days_off) if days_off else t("none")
    )
    # Set here in whole hours, but seeded or older values may be minutes (30 is not "0 h").
    notice_hours, odd_minutes = divmod(doctor.min_notice_minutes, 60)
    notice = (
        t("{minutes} min", minutes=doctor.min_notice_minutes)
        if odd_minutes
        else t("{hours} h", hours=notice_hours)
    )
    text = t(
        "<b>Your availability</b> (times in {tz})\n\n<b>Weekly hours:</b>\n{weekly}\n\n"
        "<b>Consultation length:</b> {length} min\n<b>Buffer between consultations:</b> "
        "{buffer} min\n<b>Minimum notice:</b> {notice}\n<b>Booking horizon:</b> {horizon} "
        "days\n<b>Days off:</b> {off}",
        tz=doctor.user.timezone,
        weekly=Html(weekly),
        length=doctor.slot_minutes,
        buffer=doctor.buffer_minutes,
        notice=notice,
        horizon=doctor.horizon_days,
        off=off,
    )
    if doctor.status == "pending":
        text += "\n\n" + t("Patients can book you once the clinic approves your profile.")
    keyboard = InlineKeyboard(
        (
            (
                InlineButton(t("Weekly hours"), _data(conv, "e-hours")),
                InlineButton(t("Days off"), _data(conv, "e-off")),
            ),
            (
                InlineButton(t("Consultation length"), _data(conv, "e-len")),
                InlineButton(t("Buffer"), _data(conv, "e-buf")),
            ),
            (
                InlineButton(t("Minimum notice"), _data(conv, "e-ntc")),
                InlineButton(t("Booking horizon"), _data(conv, "e-hor")),
            ),
            (InlineButton(t("Done"), _data(conv, "done")),),
        )
    )
    turn.reply(text, keyboard)


def ask(turn: Turn, conv: Conversation) -> None:
    """Resume without the database: point at the buttons (the menu is sent by /availability)."""
    if conv.step == Step.HOURS:
        _ask_hours(turn, conv, [])
    else:
        turn.reply(turn.t("Please use the buttons above, or send /cancel to leave."))


def _ask_hours(turn: Turn, conv: Conversation, current: list[WorkingRange]) -> None:
    t = turn.t
    typed = "\n".join(
        f"{('Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun')[day]} {spans}"
        for day, spans in format_template(current)
    )
    text = t(
        "Type your weekly hours, one line per working day, for example:\n"
        "<code>Mon 09:00-13:00 14:00-18:00\nTue 09:00-17:00</code>\n"
        "Days you leave out are days off. Weekdays in English: Mon Tue Wed Thu Fri Sat Sun."
    )
    if typed:
        text += "\n\n" + t("Now:\n<code>{hours}</code>", hours=typed)
    turn.reply(text, InlineKeyboard(((InlineButton(t("Back"), _data(conv, "back")),),)))


async def _ask_days_off(turn: Turn, conv: Conversation, doctor: Doctor) -> None:
    t = turn.t
    days_off = list(await turn.uow.schedules.days_off(doctor.id))
    rows: list[tuple[InlineButton, ...]] = [
        (
            InlineButton(
                t("Remove {days}", days=_range_text(d.first_day, d.last_day)),
                _data(conv, f"r{d.id}"),
            ),
        )
        for d in days_off
    ]
    rows.append((InlineButton(t("Back"), _data(conv, "back")),))
    listing = (
        "\n".join(t("• {days}", days=_range_text(d.first_day, d.last_day)) for d in days_off)
        if days_off
        else t("No days off yet.")
    )
    turn.reply(
        t(
            "<b>Days off</b>\n{listing}\n\nType a day off like 24.12.2026, or a range like "
            "24.12.2026-02.01.2027. Tap a day to remove it.",
            listing=Html(listing),
        ),
        InlineKeyboard(tuple(rows)),
    )


def _ask_choice(turn: Turn, conv: Conversation, step: Step) -> None:
    t = turn.t
    questions = {
        Step.LENGTH: t("How long is one consultation?"),
        Step.BUFFER: t("How much free time do you want between consultations?"),
        Step.NOTICE: t("How long before a consultation must patients book at the latest?"),
        Step.HORIZON: t("How far ahead can patients book?"),
    }
    labels = {
        Step.LENGTH: lambda v: t("{minutes} min", minutes=v),
        Step.BUFFER: lambda v: t("{minutes} min", minutes=v),
        Step.NOTICE: lambda v: t("{hours} h", hours=v),
        Step.HORIZON: lambda v: t("{days} days", days=v),
    }
    buttons = tuple(InlineButton(labels[step](v), _data(conv, f"v{v}")) for v in CHOICES[step])
    rows = (buttons[:3], buttons[3:], (InlineButton(t("Back"), _data(conv, "back")),))
    turn.reply(questions[step], InlineKeyboard(tuple(r for r in rows if r)))


async def _doctor_or_leave(turn: Turn) -> Doctor | None:
    doctor = await acting_doctor(turn)
    if doctor is None or doctor.status not in {"pending", "approved"}:
        await conversation.end(turn)
        turn.reply(turn.t("Your doctor profile is not active, so there are no hours to set."))
        return None
    return doctor


async def on_message(turn: Turn, conv: Conversation) -> None:
    t, text = turn.t, turn.event.text
    if conv.step not in (Step.HOURS, Step.OFF):
        turn.reply(t("Please use the buttons above, or send /cancel to leave."))
        return
    doctor = await _doctor_or_leave(turn)
    if doctor is None:
        return
    if text is None:
        turn.reply(t("Please type it as text."))
        return
    if conv.step == Step.HOURS:
        await _save_hours(turn, conv, doctor, text)
    else:
        await _add_days_off(turn, conv, doctor, text)


def _template_problem(t: Translator, error: TemplateError) -> str:
    reasons = {
        "one line per working day, at most seven": t("one line per working day, at most seven"),
        "start the line with a weekday, e.g. Mon": t("start the line with a weekday, e.g. Mon"),
        "that weekday is given twice": t("that weekday is given twice"),
        "give at least one range, e.g. 09:00-13:00": t("give at least one range, e.g. 09:00-13:00"),
        "write ranges as 09:00-13:00": t("write ranges as 09:00-13:00"),
        "a time must be between 00:00 and 24:00": t("a time must be between 00:00 and 24:00"),
        "a range must end after it starts": t("a range must end after it starts"),
        "ranges on one day must not overlap": t("ranges on one day must not overlap"),
    }
    reason = reasons.get(error.reason, error.reason)
    if error.line:
        return t(
            "Line {line}: {reason}. Please send all your hours again.",
            line=error.line,
            reason=reason,
        )
    return t("Please write {reason}. Send all your hours again.", reason=reason)


async def _save_hours(turn: Turn, conv: Conversation, doctor: Doctor, text: str) -> None:
    t = turn.t
    if len(text) > 1000:
        turn.reply(t("That is too long for a week of hours. Please send one line per day."))
        return
    try:
        ranges = parse_weekly_template(text)
    except TemplateError as error:
        turn.reply(_template_problem(t, error))
        await conversation.move(turn, conv, Step.HOURS)
        return
    await turn.uow.schedules.replace_hours(
        doctor.id,
        [
            WorkingHours(
                doctor_id=doctor.id,
                weekday=r.weekday,
                start=clock_text(r.start),
                end=clock_text(r.end),
            )
            for r in ranges
        ],
    )
    await conversation.move(turn, conv, Step.MENU)
    turn.reply(t("Saved your weekly hours."))
    await warn_affected(turn, doctor)
    await show_menu(turn, conv, doctor)


class DaysOffProblem(ValueError):
    pass


def parse_days_off(text: str, today: date) -> tuple[date, date]:
    match = _DAYS_OFF.match(text.strip())
    if not match:
        raise DaysOffProblem("unreadable")
    groups = [int(g) if g else None for g in match.groups()]
    try:
        first = date(groups[2] or 0, groups[1] or 0, groups[0] or 0)
        last = (
            date(groups[5] or 0, groups[4] or 0, groups[3] or 0) if groups[3] is not None else first
        )
    except ValueError:
        raise DaysOffProblem("unreadable") from None
    if last < first:
        raise DaysOffProblem("reversed")
    if first < today:
        raise DaysOffProblem("past")
    if (last - first).days >= MAX_RANGE_DAYS:
        raise DaysOffProblem("too_long")
    return first, last


async def _add_days_off(turn: Turn, conv: Conversation, doctor: Doctor, text: str) -> None:
    t = turn.t
    today = turn.now.astimezone(zone(doctor.user.timezone)).date()
    try:
        first, last = parse_days_off(text, today)
    except DaysOffProblem as problem:
        reasons = {
            "unreadable": t(
                "I could not read that. Type a day like 24.12.2026, or a range like "
                "24.12.2026-02.01.2027."
            ),
            "reversed": t(
                "That range ends before it starts. Please give the earlier date first, "
                "like 24.12.2026-02.01.2027."
            ),
            "past": t("That day is in the past. Please give today or a later date."),
            "too_long": t("A range of days off can be a year at most."),
        }
        turn.reply(reasons[str(problem)])
        await conversation.move(turn, conv, Step.OFF)
        return
    if len(await turn.uow.schedules.days_off(doctor.id)) >= MAX_DAYS_OFF:
        turn.reply(t("You have many days off listed already. Please remove some first."))
        return
    turn.uow.schedules.add_day_off(DayOff(doctor_id=doctor.id, first_day=first, last_day=last))
    await conversation.move(turn, conv, Step.OFF)
    turn.reply(t("Added days off: {days}.", days=_range_text(first, last)))
    await warn_affected(turn, doctor)
    await _ask_days_off(turn, conv, doctor)


async def warn_affected(turn: Turn, doctor: Doctor) -> None:
    """One message per future appointment that no longer fits the hours or the days off."""
    t = turn.t
    schedule = await schedule_of(turn.uow, doctor)
    upcoming = await turn.uow.appointments.active_for_doctor(
        doctor.id, turn.now, turn.now + timedelta(days=3650)
    )
    for appointment in upcoming:
        if appointment.starts_at <= turn.now or appointment.status != Status.BOOKED:
            continue
        interval = Interval(appointment.starts_at, appointment.ends_at)
        local_day = appointment.starts_at.astimezone(schedule.zone).date()
        if not (outside_hours(schedule, interval) or schedule.is_day_off(local_day)):
            continue
        turn.reply(
            t(
                "This appointment is now outside your hours or on a day off: {when} with "
                "{name}. Keep it, or cancel it (the patient will be told)?",
                when=when(appointment.starts_at, doctor.user.timezone, t.language),
                name=appointment.patient.full_name or "—",
            ),
            agenda.affected_keyboard(t, appointment.id),
        )


async def on_callback(turn: Turn, conv: Conversation, callback: callbacks.Callback) -> None:
    t, action, message_id, step = turn.t, callback.action, turn.event.message_id, Step(conv.step)
    doctor = await _doctor_or_leave(turn)
    if doctor is None:
        turn.answer(t("This button is not valid."))
        return
    if step is Step.MENU and action == "done":
        turn.answer()
        await conversation.end(turn)
        if message_id:
            turn.edit(message_id, t("Your availability is saved."))
        turn.reply(t("Your availability is saved. Send /agenda to see your appointments."))
        return
    if step is Step.MENU and action.startswith("e-") and action[2:] in set(Step) - {"menu"}:
        turn.answer()
        target = Step(action[2:])
        await conversation.move(turn, conv, target)
        if target is Step.HOURS:
            _ask_hours(turn, conv, _ranges(list(await turn.uow.schedules.hours(doctor.id))))
        elif target is Step.OFF:
            await _ask_days_off(turn, conv, doctor)
        else:
            _ask_choice(turn, conv, target)
        return
    if step is not Step.MENU and action == "back":
        turn.answer()
        await conversation.move(turn, conv, Step.MENU)
        await show_menu(turn, conv, doctor)
        return
    if step is Step.OFF and action[:1] == "r" and action[1:].isdigit():
        removed = await turn.uow.schedules.remove_day_off(doctor.id, int(action[1:]))
        if not removed:
            turn.answer(t("This button is no longer active."))
            return
        turn.answer(t("Removed."))
        await conversation.move(turn, conv, Step.OFF)
        await _ask_days_off(turn, conv, doctor)
        return
    if step in CHOICES and action[:1] == "v" and action[1:].isdigit():
        value = int(action[1:])
        if value not in CHOICES[step]:
            turn.answer(t("This button is not valid."))
            return
        turn.answer(t("Saved."))
        if step is Step.LENGTH:
            doctor.slot_minutes = value
        elif step is Step.BUFFER:
            doctor.buffer_minutes = value
        elif step is Step.NOTICE:
            doctor.min_notice_minutes = value * 60
        else:
            doctor.horizon_days = value
        await conversation.move(turn, conv, Step.MENU)
        await show_menu(turn, conv, doctor)
        return
    turn.answer(t("This button is no longer active."))
