"""Admins suspend and reinstate approved doctors (/admin → Doctors).

Suspending asks first, then, in one transaction: the doctor's status becomes "suspended" (so
booking refuses them: handlers/scheduling.py books approved doctors only), every future
appointment is cancelled through the lifecycle (cancelled by "clinic"), each patient is told in
their own zone and language with a one-tap offer to book another doctor of the same specialty,
any paid visit is refunded through handlers/refunds.py, and the doctor is told. Reinstating
makes the doctor bookable again.

Patients' rebook button (`rb:-:spec:<specialty id>`) is stateless: it checks the presser is a
registered patient and opens /book at the choice of doctor.
"""

from __future__ import annotations

from datetime import timedelta

from clinic.appointments import AppointmentInPast, InvalidTransition, Status
from clinic.roles import Role
from handlers import booking, callbacks, conversation, refunds
from handlers.admin_buttons import admin_data, not_valid
from handlers.formatting import when
from handlers.i18n import Html, Translator, plain, translator
from handlers.port import InlineButton, InlineKeyboard
from handlers.scheduling import cancel, end_hold
from handlers.turn import Turn
from storage.models import Appointment, Doctor

BUTTONS = "rb"
LISTED = 40
FAR_FUTURE = timedelta(days=3660)


async def show_list(turn: Turn) -> None:
    t = turn.t
    doctors = await turn.uow.admin.doctors_with_status(("approved", "suspended"), LISTED)
    if not doctors:
        turn.reply(t("There are no approved or suspended doctors."))
        return
    lines, rows = [], []
    for doctor in doctors:
        name = doctor.user.full_name or "—"
        if doctor.status == "approved":
            lines.append(
                t("• {name} · {specialty} · active", name=name, specialty=doctor.specialty.name)
            )
            label, verb = t("Suspend {name}", name=name), "susp"
        else:
            lines.append(
                t("• {name} · {specialty} · suspended", name=name, specialty=doctor.specialty.name)
            )
            label, verb = t("Reinstate {name}", name=name), "rein"
        rows.append((InlineButton(plain(label), admin_data(verb, doctor.id)),))
    turn.reply(t("Doctors:\n{lines}", lines=Html("\n".join(lines))), InlineKeyboard(tuple(rows)))


async def _future(turn: Turn, doctor: Doctor) -> list[Appointment]:
    active = await turn.uow.appointments.active_for_doctor(
        doctor.id, turn.now, turn.now + FAR_FUTURE
    )
    return [a for a in active if a.starts_at > turn.now and a.status != Status.IN_CONSULTATION]


async def ask_suspend(turn: Turn, target: str) -> None:
    t = turn.t
    doctor = await turn.uow.doctors.get(int(target))
    if doctor is None:
        turn.answer(not_valid(t))
        return
    if doctor.status != "approved":
        turn.answer(t("This doctor is not active, so cannot be suspended."), alert=True)
        return
    turn.answer()
    count = len(await _future(turn, doctor))
    turn.reply(
        t(
            "Suspend {name}? Patients will not be able to book them. Future appointments to "
            "cancel: {count}; each patient is told and offered another doctor.",
            name=doctor.user.full_name or "—",
            count=count,
        ),
        InlineKeyboard(
            (
                (
                    InlineButton(t("Yes, suspend"), admin_data("susy", doctor.id)),
                    InlineButton(t("Keep active"), admin_data("susn", doctor.id)),
                ),
            )
        ),
    )


async def keep(turn: Turn, target: str) -> None:
    t = turn.t
    turn.answer(t("Nothing changed."))
    if turn.event.message_id:
        turn.edit(turn.event.message_id, t("Nothing changed: the doctor stays active."))


async def _locked_in(turn: Turn, target: str, status: str, refusal: str) -> Doctor | None:
    """The doctor, locked for this turn, if still in `status`; else None, `refusal` answered
    (a stale button, or a second admin who decided meanwhile)."""
    doctor = await turn.uow.doctors.lock(int(target))
    if doctor is None:
        turn.answer(not_valid(turn.t))
    elif doctor.status != status:
        turn.answer(refusal, alert=True)
    else:
        return doctor
    return None


def _show_outcome(turn: Turn, text: str) -> None:
    """On the message whose button was pressed, else as a new message."""
    if turn.event.message_id:
        turn.edit(turn.event.message_id, text)
    else:
        turn.reply(text)


async def suspend(turn: Turn, target: str) -> None:
    t = turn.t
    doctor = await _locked_in(
        turn, target, "approved", t("This doctor is not active, so cannot be suspended.")
    )
    if doctor is None:
        return
    doctor.status = "suspended"
    cancelled = []
    for appointment in await _future(turn, doctor):
        if appointment.status == Status.HELD.value:
            # Not booked, so no cancellation. Every hold ends now, one whose time ran out too:
            # its invoice may have passed pre-checkout already, and money arriving for a hold
            # still "held" would book it. The expiry job then has nothing to say, so this does.
            await end_hold(turn.uow, appointment, turn.now)
            notify_patient(turn, appointment, doctor, held=True)
            continue
        try:
            await cancel(turn.uow, appointment, "clinic", turn.now, turn.config.cancel_cutoff)
        except (AppointmentInPast, InvalidTransition):
            continue
        cancelled.append(appointment)
        notify_patient(turn, appointment, doctor)
        # A paid visit: the clinic cancelled, so the refund policy for "clinic" applies.
        await refunds.refund_for_cancellation(turn, appointment, by="clinic")
    turn.uow.audit.record(
        turn.event.user_id, doctor.user_id, "doctor_suspend", f"doctor:{doctor.id}", True, turn.now
    )
    name = doctor.user.full_name or "—"
    turn.answer(t("Suspended."))
    _show_outcome(
        turn,
        t(
            "Suspended {name}. Future appointments cancelled: {count}; the patients were told.",
            name=name,
            count=len(cancelled),
        ),
    )
    turn.notify(
        doctor.user.telegram_id,
        _suspended_text(translator(doctor.user.language), len(cancelled)),
    )


async def reinstate(turn: Turn, target: str) -> None:
    t = turn.t
    doctor = await _locked_in(turn, target, "suspended", t("This doctor is not suspended."))
    if doctor is None:
        return
    if doctor.user.banned_at is not None:
        # Bookable but unable to use the bot: patients would book and pay a doctor who never
        # sees them. Unbanning is a separate, deliberate step on the user's card.
        turn.answer(
            t("This doctor is banned. Unban them first (Find a patient → their card)."),
            alert=True,
        )
        return
    doctor.status = "approved"
    turn.uow.audit.record(
        turn.event.user_id,
        doctor.user_id,
        "doctor_reinstate",
        f"doctor:{doctor.id}",
        True,
        turn.now,
    )
    turn.answer(t("Reinstated."))
    _show_outcome(
        turn,
        t("Reinstated {name}: patients can book them again.", name=doctor.user.full_name or "—"),
    )
    t = translator(doctor.user.language)  # the doctor's own language from here on
    turn.notify(
        doctor.user.telegram_id,
        t("Good news: the clinic reinstated your profile. Patients can book you again."),
    )


def _suspended_text(t: Translator, count: int) -> str:
    """In the doctor's language."""
    return t(
        "The clinic has suspended your profile: patients cannot book you. Future "
        "appointments cancelled: {count} (the patients were told). Please contact the clinic.",
        count=count,
    )


def notify_patient(
    turn: Turn, appointment: Appointment, doctor: Doctor, held: bool = False
) -> None:
    """In the patient's zone and language; no reason, no specialty name on the lock screen."""
    patient = appointment.patient
    t = translator(patient.language)
    fields = {
        "doctor": doctor.user.full_name or "—",
        "when": when(appointment.starts_at, patient.timezone, t.language),
        "zone": patient.timezone,
    }
    text = (
        t(
            "The time held for you with {doctor} on {when} ({zone}) is no longer available: "
            "the doctor is not available. Nothing was charged, and the invoice can no longer "
            "be paid. We are sorry. You can book another doctor:",
            **fields,
        )
        if held
        else t(
            "Your appointment with {doctor} on {when} ({zone}) was cancelled: the doctor is "
            "not available. We are sorry. You can book another doctor:",
            **fields,
        )
    )
    turn.notify(
        patient.telegram_id,
        text,
        InlineKeyboard(
            (
                (
                    InlineButton(
                        t("Book another doctor"),
                        callbacks.pack(BUTTONS, "", "spec", str(doctor.specialty_id)),
                    ),
                ),
            )
        ),
    )


async def on_button(turn: Turn, callback: callbacks.Callback) -> None:
    """A patient's one-tap rebook after a suspension: /book at the choice of doctor."""
    t = turn.t
    if callback.step != "spec" or not callback.action.isdigit():
        turn.answer(not_valid(t))
        return
    user = turn.user
    if user is None or user.role != Role.PATIENT.value or user.registered_at is None:
        turn.answer(not_valid(t))
        return
    specialty = await turn.uow.specialties.get(int(callback.action))
    if specialty is None:
        turn.answer(not_valid(t))
        return
    turn.answer()
    data = {"mode": "book", "page": 0, "spec": specialty.id}
    conv = await conversation.start(turn, booking.FLOW, booking.Step.DOCTOR, data)
    await booking.ask_async(turn, conv)
