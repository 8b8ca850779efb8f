"""Paying for a consultation in the chat: hold, invoice, pre-checkout, confirmation.

```mermaid
stateDiagram-v2
    [*] --> held: Book (doctor's fee > 0, payments on): invoice sent
    held --> held: pre_checkout_query (yes: still held, yours, in time, same amount)
    held --> booked: successful_payment (receipt, calendar file, doctor told)
    held --> expired: the hold job, after HOLD_MINUTES unpaid (patient told, "Try again")
    expired --> held: Try again (the same time, if still free: a new invoice)
    expired --> booked: a payment that was already on its way, if the time is still free
    expired --> [*]: ...or refunded when the time went to someone else
```
Payments are off unless the currency is Telegram Stars (XTR) or a card provider token is
set (`clinic.payments.payments_enabled`); then a paid doctor is booked as a free one is.
Refunds (cancellations, a payment for a lost time) live in `handlers/refunds.py`.
"""

from __future__ import annotations

import logging
import secrets

from clinic.appointments import InvalidTransition, Status, transition
from clinic.payments import STARS, HoldView, Refusal, check_pre_checkout, needs_payment
from clinic.roles import Role
from handlers import booking, callbacks
from handlers.formatting import money, when
from handlers.i18n import Translator, plain
from handlers.port import InlineButton, InlineKeyboard, Invoice
from handlers.refunds import refund_for_cancellation as refund_for_cancellation
from handlers.refunds import refund_unmatched, settle_refund
from handlers.scheduling import (
    DoctorUnavailable,
    PatientBusy,
    SlotUnavailable,
    book,
    hold_ran_out,
)
from handlers.turn import AnswerPreCheckout, SendInvoice, Turn
from storage.models import Appointment, Doctor, Payment

log = logging.getLogger(__name__)

BUTTONS = "py"
TITLE_MAX = 32
DESCRIPTION_MAX = 255


def payment_needed(turn: Turn, doctor: Doctor) -> bool:
    config = turn.config
    return needs_payment(doctor.fee_minor, config.currency, config.payment_provider_token)


def try_again_keyboard(t: Translator, appointment_id: int) -> InlineKeyboard:
    data = callbacks.pack(BUTTONS, "", "again", str(appointment_id))
    return InlineKeyboard(((InlineButton(t("Try again"), data),),))


# The hold and its invoice ---------------------------------------------------------------------


def hold_and_invoice(turn: Turn, appointment: Appointment) -> None:
    """For an appointment `book(..., hold_until=...)` just held: the Payment row, a note of
    the deadline and the invoice (one price, the doctor's fee)."""
    t, config = turn.t, turn.config
    doctor, patient = appointment.doctor, appointment.patient
    payment = Payment(
        appointment_id=appointment.id,
        patient_id=patient.id,
        doctor_id=doctor.id,
        payload=secrets.token_urlsafe(24),
        amount_minor=doctor.fee_minor,
        currency=config.currency,
        status="invoiced",
        invoiced_at=turn.now,
        refund_minor=0,
    )
    turn.uow.payments.add(payment)
    language, zone_name = t.language, patient.timezone
    doctor_name = doctor.user.full_name or "?"
    assert appointment.hold_expires_at is not None
    turn.reply(
        t(
            "The time is held for you until {until} ({zone}). Pay {fee} with the invoice below "
            "to confirm the booking; unpaid, the time is released then.",
            until=when(appointment.hold_expires_at, zone_name, language),
            zone=zone_name,
            fee=money(payment.amount_minor, payment.currency, language),
        )
    )
    title = plain(t("Consultation with {doctor}", doctor=doctor_name))
    description = plain(
        t(
            "Online consultation with {doctor} on {when} ({zone}), {minutes} minutes, here in "
            "this chat.",
            doctor=doctor_name,
            when=when(appointment.starts_at, zone_name, language),
            zone=zone_name,
            minutes=doctor.slot_minutes,
        )
    )
    turn.actions.append(
        SendInvoice(
            Invoice(
                title=_fit(title, TITLE_MAX),
                description=_fit(description, DESCRIPTION_MAX),
                payload=payment.payload,
                currency=payment.currency,
                amount=payment.amount_minor,
                label=plain(t("Consultation")),
                provider_token=config.payment_provider_token if config.currency != STARS else "",
            )
        )
    )


def _fit(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# Pre-checkout ---------------------------------------------------------------------------------


def _refusal_text(t: Translator, refusal: Refusal | None) -> str:
    """Why the payment form says no (plain text: it is not HTML); None is a banned account."""
    if refusal is None:
        return t("Payments from this account are not accepted. Please contact the clinic.")
    return {
        Refusal.UNKNOWN: t("This invoice is not valid any more. Please book again with /book."),
        Refusal.NOT_YOURS: t("Only the patient who booked this time can pay for it."),
        Refusal.NOT_HELD: t("This booking is no longer waiting for payment. See /appointments."),
        Refusal.EXPIRED: t(
            "The time held for this payment has run out. Please book again with /book."
        ),
        Refusal.AMOUNT: t("The amount does not match the invoice. Nothing was charged."),
        Refusal.CURRENCY: t("The currency does not match the invoice. Nothing was charged."),
    }[refusal]


async def on_pre_checkout(turn: Turn) -> None:
    """Answered yes only for the payer's own hold, still held and in time, at the invoiced
    amount and currency; otherwise no, with the reason shown in the payment form."""
    query = turn.event.pre_checkout
    assert query is not None
    payment = await turn.uow.payments.by_payload(query.invoice_payload[:64])
    appointment = (
        await turn.uow.appointments.get(payment.appointment_id)
        if payment is not None and payment.appointment_id is not None
        else None
    )
    hold = (
        HoldView(
            appointment.patient.telegram_id,
            appointment.status,
            appointment.hold_expires_at,
            payment.amount_minor,
            payment.currency,
        )
        if payment is not None and appointment is not None
        else None
    )
    refusal = check_pre_checkout(
        hold, turn.event.user_id, query.total_amount, query.currency, turn.now
    )
    banned = turn.user is not None and turn.user.banned_at is not None
    if refusal is None and not banned:
        turn.actions.append(AnswerPreCheckout(query.id, True))
        return
    log.info(
        "pre-checkout refused",
        extra={"update_id": turn.event.update_id, "reason": str(refusal or "banned")},
    )
    turn.actions.append(AnswerPreCheckout(query.id, False, plain(_refusal_text(turn.t, refusal))))


# The money arrived ----------------------------------------------------------------------------


async def on_successful_payment(turn: Turn) -> None:
    paid = turn.event.payment
    assert paid is not None
    t, uow = turn.t, turn.uow
    known = await uow.payments.by_charge(paid.telegram_charge_id)
    if known is not None:
        # The same charge again (a second delivery): it was handled once already.
        if known.appointment_id is None:
            turn.reply(t("This payment was already received; it is being refunded."))
        else:
            turn.reply(t("This payment was already received. See your booking with /appointments."))
        return
    payment = await uow.payments.by_payload(paid.invoice_payload[:64], lock=True)
    if payment is None or payment.telegram_charge_id is not None or payment.appointment_id is None:
        await refund_unmatched(turn, paid, payment)
        return
    # Released: the patient gave the time up, or the doctor or the clinic cancelled the hold,
    # after Telegram's pre-checkout had passed. Booking it anyway would undo that choice.
    released = payment.status == "released"
    payment.telegram_charge_id = paid.telegram_charge_id
    payment.provider_charge_id = paid.provider_charge_id or None
    payment.status = "paid"
    payment.amount_minor, payment.currency = paid.total_amount, paid.currency
    payment.paid_at = turn.now
    appointment = await uow.appointments.get(payment.appointment_id)
    assert appointment is not None  # a foreign key
    if released or appointment.doctor.status != "approved":
        # A suspension ends the doctor's holds; this also covers money that got here first.
        await _refund_unbooked(turn, payment, appointment, "released")
        return
    if appointment.status == Status.HELD.value:
        # Still held for this patient (even if its time ran out just now: nobody took it).
        appointment.status = transition(appointment.status, Status.BOOKED).value
        appointment.hold_expires_at = None
        appointment.updated_at = turn.now
        _confirmed(turn, appointment, payment)
        return
    # The hold ended before the money came: book the same time again if it is still free.
    try:
        again = await book(
            uow,
            appointment.doctor_id,
            appointment.patient,
            appointment.starts_at,
            appointment.reason,
            turn.now,
        )
    except (SlotUnavailable, PatientBusy, DoctorUnavailable):
        await _refund_unbooked(turn, payment, appointment, "slot_taken")
        return
    payment.appointment_id = again.id
    _confirmed(turn, again, payment)


async def _refund_unbooked(
    turn: Turn, payment: Payment, appointment: Appointment, reason: str
) -> None:
    """Money for a hold that ended before it came books nothing: the patient is told why, and
    all of it goes back. `reason`: "released" (given up) or "slot_taken" (ran out, then taken)."""
    t, patient = turn.t, appointment.patient
    fields = {
        "when": when(appointment.starts_at, patient.timezone, t.language),
        "zone": patient.timezone,
    }
    if reason == "released":
        text = t(
            "Your payment arrived after the time held for you ({when}, {zone}) had been "
            "given up. Nothing is booked for you; the payment is refunded (see below). "
            "Send /book to choose a time.",
            **fields,
        )
    else:
        text = t(
            "Your payment arrived after the time held for you had run out, and the time "
            "({when}, {zone}) has been booked by someone else. Nothing is booked for you; "
            "the payment is refunded (see below). Send /book to choose another time.",
            **fields,
        )
    turn.reply(text)
    await settle_refund(turn, payment, appointment, payment.amount_minor, reason)


def _confirmed(turn: Turn, appointment: Appointment, payment: Payment) -> None:
    t = turn.t
    turn.reply(
        t(
            "Payment received: {amount}. Receipt no. {number}, charge id {charge}.",
            amount=money(payment.amount_minor, payment.currency, t.language),
            number=payment.id,
            charge=payment.telegram_charge_id,
        )
    )
    booking.announce_booked(turn, appointment)


# "Try again" after an expired hold ----------------------------------------------------------


async def on_button(turn: Turn, callback: callbacks.Callback) -> None:
    t = turn.t
    appointment = None
    if callback.step == "again" and callback.action.isdigit():
        appointment = await turn.uow.appointments.get(int(callback.action))
    if (
        appointment is None
        or turn.user is None
        or turn.user.role != Role.PATIENT.value
        or appointment.patient_id != turn.user.id
    ):
        turn.answer(t("This button is not valid."))
        return
    if appointment.status == Status.HELD.value and not hold_ran_out(appointment, turn.now):
        turn.answer(t("This time is still held for you: pay with the invoice above."), alert=True)
        return
    if appointment.status not in (Status.HELD.value, Status.EXPIRED.value):
        turn.answer(t("This button is no longer active."))
        return
    doctor = appointment.doctor
    own = await turn.uow.appointments.active_for_patient(
        turn.user.id, appointment.starts_at, appointment.ends_at
    )
    if any(a.starts_at == appointment.starts_at and not hold_ran_out(a, turn.now) for a in own):
        turn.answer(t("This time is yours already: see the invoice above, or /appointments."))
        return
    hold_until = turn.now + turn.config.hold_for if payment_needed(turn, doctor) else None
    try:
        again = await book(
            turn.uow,
            doctor.id,
            turn.user,
            appointment.starts_at,
            appointment.reason,
            turn.now,
            hold_until=hold_until,
        )
    except (SlotUnavailable, InvalidTransition):
        turn.answer()
        turn.reply(
            t("Sorry, that time has been taken in the meantime. Send /book to choose another.")
        )
        return
    except PatientBusy:
        turn.answer()
        turn.reply(t("You already have an appointment at that time. Send /book to choose another."))
        return
    except DoctorUnavailable:
        turn.answer()
        turn.reply(
            t("This doctor is not taking bookings at the moment. Send /book to start again.")
        )
        return
    turn.answer()
    if turn.event.message_id:
        turn.edit(turn.event.message_id, t("Trying again: {when}.", when=_shown(turn, again)))
    if again.status == Status.HELD.value:
        hold_and_invoice(turn, again)
    else:
        booking.announce_booked(turn, again)


def _shown(turn: Turn, appointment: Appointment) -> str:
    zone_name = appointment.patient.timezone
    return f"{when(appointment.starts_at, zone_name, turn.t.language)} ({zone_name})"
