"""/appointments for patients: upcoming ones each with Reschedule / Cancel, and the past.

Buttons here are stateless ("ap:-:<verb>:<appointment id>"): each press reloads the
appointment and checks that it belongs to the person pressing and can still be changed.
Reminders (jobs/tasks.py) carry the same buttons plus "ok" (Confirm), which only thanks.
"""

from __future__ import annotations

from dataclasses import dataclass

from clinic.appointments import (
    AppointmentInPast,
    InvalidTransition,
    Status,
    is_late_cancellation,
)
from clinic.roles import Role
from handlers import booking, callbacks, refunds
from handlers.formatting import when
from handlers.i18n import Html, Translator, translator
from handlers.port import InlineButton, InlineKeyboard
from handlers.scheduling import cancel, end_hold, hold_ran_out
from handlers.turn import Turn
from storage.models import Appointment, User

BUTTONS = "ap"
PAST_SHOWN = 10


def _pack(verb: str, appointment: Appointment) -> str:
    return callbacks.pack(BUTTONS, "", verb, str(appointment.id))


def _status_text(t: Translator, status: str) -> str:
    return {
        Status.HELD: t("awaiting payment"),
        Status.BOOKED: t("booked"),
        Status.CANCELLED: t("cancelled"),
        Status.RESCHEDULED: t("moved"),
        Status.IN_CONSULTATION: t("in progress"),
        Status.COMPLETED: t("completed"),
        Status.NO_SHOW: t("missed"),
        Status.EXPIRED: t("not paid (the hold ended)"),
    }[Status(status)]


def _card(turn: Turn, appointment: Appointment) -> str:
    patient = appointment.patient
    return turn.t(
        "<b>{when}</b> ({zone})\n{doctor} · {specialty}",
        when=when(appointment.starts_at, patient.timezone, turn.t.language),
        zone=patient.timezone,
        doctor=appointment.doctor.user.full_name or "?",
        specialty=appointment.doctor.specialty.name,
    )


def _card_buttons(turn: Turn, appointment: Appointment) -> InlineKeyboard:
    return InlineKeyboard(
        (
            (
                InlineButton(turn.t("Reschedule"), _pack("re", appointment)),
                InlineButton(turn.t("Cancel"), _pack("cx", appointment)),
            ),
        )
    )


def _upcoming(appointment: Appointment, turn: Turn) -> bool:
    """Booked, or held for payment and still in time, and not started yet."""
    if appointment.starts_at <= turn.now:
        return False
    return appointment.status == Status.BOOKED or (
        appointment.status == Status.HELD and not hold_ran_out(appointment, turn.now)
    )


def _held_card(turn: Turn, appointment: Appointment) -> str:
    """The invoice is the way on; unpaid, the hold runs out, or the patient releases it."""
    assert appointment.hold_expires_at is not None
    zone_name = appointment.patient.timezone
    return turn.t(
        "{card}\n⏳ Awaiting payment: held for you until {until}. Pay with the invoice sent "
        "to you; unpaid, the time is released then.",
        card=Html(_card(turn, appointment)),
        until=when(appointment.hold_expires_at, zone_name, turn.t.language),
    )


def _held_buttons(turn: Turn, appointment: Appointment) -> InlineKeyboard:
    return InlineKeyboard(((InlineButton(turn.t("Release this time"), _pack("rl", appointment)),),))


async def show(turn: Turn) -> None:
    patient = turn.user
    assert patient is not None
    appointments = await turn.uow.appointments.of_patient(patient.id)
    upcoming = sorted(
        (a for a in appointments if _upcoming(a, turn)),
        key=lambda a: a.starts_at,
    )
    past = [a for a in appointments if a not in upcoming][:PAST_SHOWN]
    if not upcoming and not past:
        turn.reply(turn.t("You have no appointments yet. Send /book to book one."))
        return
    if upcoming:
        turn.reply(turn.t("Your upcoming appointments:"))
        for appointment in upcoming:
            if appointment.status == Status.HELD:
                turn.reply(_held_card(turn, appointment), _held_buttons(turn, appointment))
            else:
                turn.reply(_card(turn, appointment), _card_buttons(turn, appointment))
    else:
        turn.reply(turn.t("You have no upcoming appointments. Send /book to book one."))
    if past:
        lines = [
            turn.t(
                "{when} — {doctor} — {status}",
                when=when(a.starts_at, patient.timezone, turn.t.language),
                doctor=a.doctor.user.full_name or "?",
                status=_status_text(
                    turn.t, Status.EXPIRED if hold_ran_out(a, turn.now) else a.status
                ),
            )
            for a in past
        ]
        turn.reply(turn.t("Earlier appointments:\n{lines}", lines=Html("\n".join(lines))))


async def _own(turn: Turn, callback: callbacks.Callback) -> Appointment | None:
    """The appointment named by the button, only if it is the presser's own."""
    if not callback.action.isdigit() or turn.user is None:
        return None
    appointment = await turn.uow.appointments.get(int(callback.action))
    if appointment is None or appointment.patient.telegram_id != turn.event.user_id:
        return None
    return appointment


async def on_button(turn: Turn, callback: callbacks.Callback) -> None:
    t, message_id = turn.t, turn.event.message_id
    if turn.user is None:
        # An erased account's old reminders: the button was real, it is just over.
        turn.answer(t("This button is no longer active."))
        return
    appointment = await _own(turn, callback)
    if appointment is None or turn.user is None or turn.user.role != Role.PATIENT.value:
        turn.answer(t("This button is not valid."))
        return
    if callback.step == "rl":
        await _release(turn, appointment, message_id)
        return
    if appointment.status != Status.BOOKED or appointment.starts_at <= turn.now:
        # The card keeps what it shows (e.g. "Cancelled: ..."); only the presser is told.
        turn.answer(t("This appointment can no longer be changed."), alert=True)
        return
    # "Yes, cancel it" carries the terms its question stated (see _terms), so terms that
    # changed in between (the start came closer) are shown again rather than applied unasked.
    verb, _, promised = callback.step.partition(".")
    if verb == "ok":  # "Confirm" on a reminder: acknowledged, nothing changes
        turn.answer(t("Thanks, see you then."))
    elif verb == "re":
        doctor = appointment.doctor
        if doctor.status != "approved":
            turn.answer(t("This doctor is not taking bookings at the moment."), alert=True)
            return
        turn.answer()
        await booking.begin_with_doctor(turn, doctor, moving=appointment)
    elif verb == "cx":
        turn.answer()
        await _ask_cancel(turn, appointment, message_id)
    elif verb == "keep":
        turn.answer(t("Kept."))
        if message_id:
            turn.edit(message_id, _card(turn, appointment), _card_buttons(turn, appointment))
    elif verb == "cy":
        if promised != (await _terms(turn, appointment)).code:
            turn.answer(
                t(
                    "What cancelling means has changed since you asked (the start is closer "
                    "now). Please check again."
                ),
                alert=True,
            )
            await _ask_cancel(turn, appointment, message_id)
            return
        await _cancel(turn, appointment, message_id)
    else:
        turn.answer(t("This button is not valid."))


@dataclass(frozen=True)
class _CancelTerms:
    """What cancelling now means: late or not, and the refund (None when nothing was paid)."""

    late: bool
    refund: refunds.PatientRefund | None

    @property
    def code(self) -> str:
        """As "Yes, cancel it" carries it: "l250", "e-" (early, nothing paid)."""
        amount = "-" if self.refund is None else str(self.refund.amount)
        return ("l" if self.late else "e") + amount


async def _terms(turn: Turn, appointment: Appointment) -> _CancelTerms:
    late = is_late_cancellation(appointment.starts_at, turn.now, turn.config.cancel_cutoff)
    return _CancelTerms(late, await refunds.patient_refund(turn, appointment))


async def _ask_cancel(turn: Turn, appointment: Appointment, message_id: int | None) -> None:
    t = turn.t
    terms = await _terms(turn, appointment)
    warning = (
        t(
            "\n\nThis is less than {minutes} minutes before the start, so it counts as a "
            "late cancellation.",
            minutes=int(turn.config.cancel_cutoff.total_seconds() // 60),
        )
        if terms.late
        else ""
    )
    if terms.refund is not None:
        warning += "\n\n" + refunds.refund_preview(t, terms.refund)
    if message_id:
        turn.edit(
            message_id,
            t(
                "Cancel this appointment?\n\n{card}{warning}",
                card=Html(_card(turn, appointment)),
                warning=Html(warning),
            ),
            InlineKeyboard(
                (
                    (
                        InlineButton(t("Yes, cancel it"), _pack(f"cy.{terms.code}", appointment)),
                        InlineButton(t("Keep it"), _pack("keep", appointment)),
                    ),
                )
            ),
        )


async def _cancel(turn: Turn, appointment: Appointment, message_id: int | None) -> None:
    t = turn.t
    try:
        await cancel(turn.uow, appointment, "patient", turn.now, turn.config.cancel_cutoff)
    except (AppointmentInPast, InvalidTransition):
        turn.answer(t("This appointment can no longer be changed."), alert=True)
        return
    turn.answer(t("Cancelled."))
    if message_id:
        turn.edit(message_id, t("Cancelled: {card}", card=Html(_card(turn, appointment))))
    await refunds.refund_for_cancellation(turn, appointment, by="patient")
    doctor = appointment.doctor
    turn.notify(
        doctor.user.telegram_id,
        _doctor_notice(translator(doctor.user.language), appointment, appointment.patient),
    )


async def _release(turn: Turn, appointment: Appointment, message_id: int | None) -> None:
    """An unpaid hold given up before its time: the slot is free again at once. Nothing was
    paid, and the doctor never heard of the hold, so only the patient is told."""
    t = turn.t
    current = await turn.uow.appointments.lock(appointment.id)
    if current is None or current.status != Status.HELD or hold_ran_out(current, turn.now):
        turn.answer(t("This time is no longer held for you."), alert=True)
        return
    await end_hold(turn.uow, appointment, turn.now)
    turn.answer(t("Released."))
    if message_id:
        turn.edit(
            message_id,
            t(
                "Released: {card}\nNothing was charged. Send /book to choose a time.",
                card=Html(_card(turn, appointment)),
            ),
        )


def _doctor_notice(t: Translator, appointment: Appointment, patient: User) -> str:
    doctor = appointment.doctor
    shown = when(appointment.starts_at, doctor.user.timezone, doctor.user.language)
    if appointment.late_cancellation:
        return t(
            "Cancelled (late): {patient} will not come on {when} ({zone}).",
            patient=patient.full_name or "?",
            when=shown,
            zone=doctor.user.timezone,
        )
    return t(
        "Cancelled: {patient} will not come on {when} ({zone}).",
        patient=patient.full_name or "?",
        when=shown,
        zone=doctor.user.timezone,
    )
