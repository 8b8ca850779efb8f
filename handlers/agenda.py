"""/agenda: a doctor's appointments today and the next 7 days, in the doctor's zone.

Stateless buttons (`ag:-:<verb>:<appointment id>`): cancel (asks first), yes-cancel, keep, and
"Block a time" (opens the `bl` flow). Each press checks again that the appointment belongs to
the acting doctor and can still change; the patient is told in their own zone and language,
with no medical detail, and gets a one-tap button to book the same doctor again.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from babel.dates import format_datetime

from clinic.appointments import ACTIVE, AppointmentInPast, InvalidTransition, Status
from clinic.consultation_rules import OutsideWindow, check_opening_window
from clinic.slots import local_to_utc
from clinic.timezones import zone
from handlers import callbacks, refunds, time_block
from handlers.doctor_access import acting_doctor
from handlers.formatting import clock, day, when
from handlers.i18n import Html, Translator, plain, translator
from handlers.port import InlineButton, InlineKeyboard
from handlers.scheduling import cancel, hold_ran_out
from handlers.turn import Turn
from storage.models import Appointment, Doctor

BUTTONS = "ag"
DAYS_SHOWN = 8  # today and the next 7 days
REASON_SHOWN = 80
CANCEL_BUTTONS = 40


def _data(verb: str, target: str = "0") -> str:
    return callbacks.pack(BUTTONS, "", verb, target)


def _short(text: str | None) -> str:
    if not text:
        return "—"
    text = " ".join(text.split())
    return text if len(text) <= REASON_SHOWN else text[: REASON_SHOWN - 1] + "…"


def day_window(now: datetime, zone_name: str, days: int) -> tuple[datetime, datetime]:
    """From local midnight today to local midnight `days` days later, in UTC."""
    today = now.astimezone(zone(zone_name)).date()
    midnight = datetime.min.time()
    return (
        local_to_utc(today, midnight, zone(zone_name)),
        local_to_utc(today + timedelta(days=days), midnight, zone(zone_name)),
    )


async def show(turn: Turn) -> None:
    t = turn.t
    doctor = await acting_doctor(turn)
    if doctor is None:
        turn.reply(t("I don't know that command. Send /help to see what you can do."))
        return
    zone_name, language = doctor.user.timezone, t.language
    start, end = day_window(turn.now, zone_name, DAYS_SHOWN)
    appointments = [
        a
        for a in await turn.uow.appointments.for_doctor_between(doctor.id, start, end)
        # A hold that ran out is free time already, even before the expiry job marks it.
        if a.status not in (Status.RESCHEDULED, Status.EXPIRED) and not hold_ran_out(a, turn.now)
    ]
    blocks = await turn.uow.schedules.blocks_between(doctor.id, start, end)
    rows: list[tuple[InlineButton, ...]] = []
    if not appointments and not blocks:
        text = t(
            "You have no appointments today or in the next 7 days (times in {tz}).", tz=zone_name
        )
    else:
        local_zone = zone(zone_name)
        sections: list[str] = []
        today = turn.now.astimezone(local_zone).date()
        for offset in range(DAYS_SHOWN):
            date_ = today + timedelta(days=offset)
            lines = [
                _line(t, a, zone_name)
                for a in appointments
                if a.starts_at.astimezone(local_zone).date() == date_
            ]
            lines += [
                t("{time} — blocked", time=clock(b.starts_at, zone_name, language))
                for b in blocks
                if b.starts_at.astimezone(local_zone).date() == date_
            ]
            lines.sort()
            heading_day = local_to_utc(date_, datetime.min.time(), local_zone) + timedelta(hours=12)
            heading = t("<b>{day}</b>", day=day(heading_day, zone_name, language))
            body = "\n".join(lines) if lines else t("No appointments.")
            sections.append(f"{heading}\n{body}")
        text = t(
            "Your agenda, today and the next 7 days (times in {tz}):\n\n{days}",
            tz=zone_name,
            days=Html("\n\n".join(sections)),
        )
        buttons = [
            InlineButton(
                t(
                    "Cancel {time} {day}",
                    time=clock(a.starts_at, zone_name, language),
                    day=_weekday(a.starts_at, zone_name, language),
                ),
                _data("cx", str(a.id)),
            )
            for a in appointments
            if a.status == Status.BOOKED and a.starts_at > turn.now
        ][:CANCEL_BUTTONS]
        rows += [
            (
                InlineButton(
                    t(
                        "▶ Open the consultation at {time}",
                        time=clock(a.starts_at, zone_name, language),
                    ),
                    callbacks.pack("cs", "", "open", str(a.id)),
                ),
            )
            for a in appointments
            if a.status == Status.BOOKED and _can_open(a, turn.now)
        ]
        rows += [tuple(buttons[i : i + 2]) for i in range(0, len(buttons), 2)]
    rows.append((InlineButton(t("Block a time"), _data("blk")),))
    turn.reply(text, InlineKeyboard(tuple(rows)))


def _can_open(appointment: Appointment, now: datetime) -> bool:
    try:
        check_opening_window(appointment.starts_at, appointment.ends_at, now)
    except OutsideWindow:
        return False
    return True


def _weekday(moment: datetime, zone_name: str, language: str) -> str:
    return format_datetime(moment.astimezone(zone(zone_name)), "EEE", locale=language)


def _line(t: Translator, appointment: Appointment, zone_name: str) -> str:
    time_ = clock(appointment.starts_at, zone_name, t.language)
    name = appointment.patient.full_name or "—"
    status = Status(appointment.status)
    if status is Status.CANCELLED:
        return t("{time} — {name} (cancelled)", time=time_, name=name)
    line = t("{time} — {name} — {reason}", time=time_, name=name, reason=_short(appointment.reason))
    # Past visits read differently from coming ones, so the state is named rather than implied.
    marks = {
        Status.HELD: t("awaiting payment"),
        Status.IN_CONSULTATION: t("in consultation"),
        Status.COMPLETED: t("completed"),
        Status.NO_SHOW: t("no-show"),
    }
    return t("{line} ({state})", line=Html(line), state=marks[status]) if status in marks else line


def affected_keyboard(t: Translator, appointment_id: int) -> InlineKeyboard:
    """Keep / Cancel for an appointment that no longer fits the doctor's hours."""
    return InlineKeyboard(
        (
            (
                InlineButton(t("Keep it"), _data("keep", str(appointment_id))),
                InlineButton(t("Cancel it"), _data("cy", str(appointment_id))),
            ),
        )
    )


async def on_button(turn: Turn, callback: callbacks.Callback) -> None:
    t = turn.t
    verb, target = callback.step, callback.action
    doctor = await acting_doctor(turn)
    if doctor is None:
        turn.answer(t("This button is not valid."))
        return
    if verb == "blk" and target == "0":
        turn.answer()
        await time_block.begin(turn, doctor)
        return
    if verb not in {"cx", "cy", "keep"} or not target.isdigit():
        turn.answer(t("This button is not valid."))
        return
    appointment = await turn.uow.appointments.get(int(target))
    if appointment is None or appointment.doctor_id != doctor.id:
        turn.answer(t("This button is not valid."))
        return
    if Status(appointment.status) not in ACTIVE or appointment.starts_at <= turn.now:
        turn.answer(t("This appointment can no longer be changed."), alert=True)
        return
    zone_name = doctor.user.timezone
    shown = when(appointment.starts_at, zone_name, t.language)
    name = appointment.patient.full_name or "—"
    message_id = turn.event.message_id
    if verb == "keep":
        turn.answer(t("Kept."))
        if message_id:
            turn.edit(message_id, t("Kept: {when} with {name}.", when=shown, name=name))
        return
    if verb == "cx":
        turn.answer()
        turn.reply(
            t(
                "Cancel the appointment with {name} on {when}? The patient will be told and "
                "offered another time.",
                name=name,
                when=shown,
            ),
            InlineKeyboard(
                (
                    (
                        InlineButton(t("Yes, cancel"), _data("cy", str(appointment.id))),
                        InlineButton(t("Keep it"), _data("keep", str(appointment.id))),
                    ),
                )
            ),
        )
        return
    try:
        await cancel(turn.uow, appointment, "doctor", turn.now, turn.config.cancel_cutoff)
    except (AppointmentInPast, InvalidTransition):
        turn.answer(t("This appointment can no longer be changed."), alert=True)
        return
    turn.answer(t("Cancelled."))
    if message_id:
        turn.edit(
            message_id,
            t("Cancelled: {when} with {name}. The patient was told.", when=shown, name=name),
        )
    notify_patient_of_cancellation(turn, appointment, doctor)
    await refunds.refund_for_cancellation(turn, appointment, by="doctor")


def notify_patient_of_cancellation(turn: Turn, appointment: Appointment, doctor: Doctor) -> None:
    """In the patient's zone and language; no reason, no specialty (lock screens show it)."""
    patient = appointment.patient
    t = translator(patient.language)  # the patient's language, not the doctor's
    doctor_name = doctor.user.full_name or "—"
    turn.notify(
        patient.telegram_id,
        t(
            "Your appointment with {doctor} on {when} ({zone}) was cancelled by the doctor. "
            "We are sorry. You can book another time:",
            doctor=doctor_name,
            when=when(appointment.starts_at, patient.timezone, t.language),
            zone=patient.timezone,
        ),
        InlineKeyboard(
            (
                (
                    InlineButton(
                        plain(t("Book again with {name}", name=doctor_name)),
                        callbacks.pack("bk", "", "again", str(doctor.id)),
                    ),
                ),
            )
        ),
    )
