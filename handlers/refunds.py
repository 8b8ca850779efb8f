"""What happens to the money when a paid appointment does not take place.

`refund_for_cancellation(turn, appointment, by)` is the one hook every cancellation calls
(the patient's, the doctor's from the agenda, the clinic's when a doctor is suspended): it
decides the amount (`clinic.payments.refund_amount`), records it on the payment and tells the
patient what happens to the money. Stars paid in full go back through refundStarPayment, run by
the dispatcher after commit (`carry_out_star_refund`): refunded on success, owed on failure.
Card money (the Bot API cannot refund it) and partial Stars refunds are recorded as owed and
put in front of every admin with the charge ids.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeGuard

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from clinic.payments import STARS, refund_amount, refund_basis, refundable_by_api
from handlers.events import SuccessfulPayment
from handlers.formatting import money, when
from handlers.i18n import Translator, translator
from handlers.port import TransportError
from handlers.sending import SendingPath, Undeliverable
from handlers.turn import RefundStars, Turn
from storage.models import Appointment, Payment
from storage.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)

ALREADY_REFUNDED = "charge_already_refunded"


@dataclass(frozen=True)
class MoveTerms:
    code: str  # "-" when moving changes nothing about the money, else the refund after it
    text: str | None  # what the move question says about it


async def refund_for_cancellation(turn: Turn, appointment: Appointment, by: str) -> None:
    """Call after cancelling `appointment` in this turn; `by` is "patient", "doctor" or
    "clinic". An unpaid invoice is released; nothing is refunded for an appointment that was not
    paid (or is refunded already)."""
    payment = await turn.uow.payments.for_appointment(appointment.id, lock=True)
    if payment is not None and payment.status == "invoiced":
        # A hold cancelled before it was paid: its invoice can no longer be paid (pre-checkout
        # refuses it), and the admins' payment list should not show it as waiting.
        payment.status = "released"
        return
    if not _refundable(payment):
        return
    # Only the patient's own refund looks at earlier moves: the doctor or clinic refunds whole.
    moves = await turn.uow.appointments.moves_before(appointment) if by == "patient" else []
    basis = refund_basis(appointment.starts_at, moves, turn.config.refund_full_before)
    await settle_refund(
        turn, payment, appointment, _policy_refund(turn, payment, by, basis), f"cancel_{by}"
    )


def _policy_refund(turn: Turn, payment: Payment, by: str, basis: datetime) -> int:
    """What the configured policy gives back if `by` cancels now a visit whose refund is
    measured from `basis` (`clinic.payments.refund_basis`)."""
    config = turn.config
    return refund_amount(
        payment.amount_minor,
        by,
        basis,
        turn.now,
        config.refund_full_before,
        config.late_cancel_refund_percent,
    )


def _refundable(payment: Payment | None) -> TypeGuard[Payment]:
    """Paid, and nothing refunded yet."""
    return payment is not None and payment.status == "paid" and payment.refund_status is None


@dataclass(frozen=True)
class PatientRefund:
    payment: Payment
    amount: int  # what the patient cancelling now gets back


async def patient_refund(turn: Turn, appointment: Appointment) -> PatientRefund | None:
    """What the patient cancelling now gets back (None when nothing was paid, or it was
    refunded already)."""
    payment = await turn.uow.payments.for_appointment(appointment.id)
    if not _refundable(payment):
        return None
    moves = await turn.uow.appointments.moves_before(appointment)
    basis = refund_basis(appointment.starts_at, moves, turn.config.refund_full_before)
    return PatientRefund(payment, _policy_refund(turn, payment, "patient", basis))


def refund_preview(t: Translator, refund: PatientRefund) -> str:
    """For the patient's "Cancel this appointment?": what cancelling now gives back of what
    they paid."""
    payment = refund.payment
    paid = money(payment.amount_minor, payment.currency, t.language)
    if refund.amount >= payment.amount_minor:
        return t("You paid {paid}; cancelling now refunds it in full.", paid=paid)
    if refund.amount <= 0:
        return t(
            "You paid {paid}; this close to the start, a cancellation is not refunded.",
            paid=paid,
        )
    return t(
        "You paid {paid}; this close to the start, cancelling refunds {refund}.",
        paid=paid,
        refund=money(refund.amount, payment.currency, t.language),
    )


async def move_terms(turn: Turn, appointment: Appointment, new_start: datetime) -> MoveTerms:
    """For "Move your appointment?" on a paid visit: whether the moved visit will carry late
    terms from a time it left (this one, moved now inside the full-refund window, or an earlier
    one), and what cancelling it would then refund. `code` names the terms, so that "Move it"
    can tell whether they changed since the question was asked."""
    payment = await turn.uow.payments.for_appointment(appointment.id)
    if not _refundable(payment):
        return MoveTerms("-", None)
    moves = [
        (appointment.starts_at, turn.now),
        *await turn.uow.appointments.moves_before(appointment),
    ]
    basis = refund_basis(new_start, moves, turn.config.refund_full_before)
    refund = _policy_refund(turn, payment, "patient", basis)
    if basis >= new_start or refund >= payment.amount_minor:
        return MoveTerms("-", None)
    t = turn.t
    paid = money(payment.amount_minor, payment.currency, t.language)
    if refund <= 0:
        text = t(
            "You paid {paid}. This close to the start, a move keeps the late-cancellation "
            "terms: if you cancel the new time later, nothing is refunded.",
            paid=paid,
        )
    else:
        text = t(
            "You paid {paid}. This close to the start, a move keeps the late-cancellation "
            "terms: if you cancel the new time later, {refund} is refunded.",
            paid=paid,
            refund=money(refund, payment.currency, t.language),
        )
    return MoveTerms(str(refund), text)


async def settle_refund(
    turn: Turn, payment: Payment, appointment: Appointment, refund: int, reason: str
) -> None:
    """Record the refund on the payment and queue what tells the patient (and admins)."""
    patient = appointment.patient
    t = translator(patient.language)
    payment.refund_minor = refund
    payment.refund_reason = reason
    payment.refunded_at = turn.now
    consultation = t(
        "your consultation with {doctor} on {when} ({zone})",
        doctor=appointment.doctor.user.full_name or "?",
        when=when(appointment.starts_at, patient.timezone, t.language),
        zone=patient.timezone,
    )
    if refund <= 0:
        payment.refund_status = "none_due"
        turn.notify(
            patient.telegram_id,
            t(
                "About the payment for {consultation}: under the clinic's cancellation policy, "
                "a cancellation this close to the start is not refunded.",
                consultation=consultation,
            ),
        )
        return
    amount = money(refund, payment.currency, t.language)
    owed_text = t(
        "About the payment for {consultation}: the clinic will refund {amount} to you by hand; "
        "this can take a few days. Keep the receipt with charge id {charge}.",
        consultation=consultation,
        amount=amount,
        charge=payment.telegram_charge_id,
    )
    notices = await _admin_notices(turn, lambda t: owed_notice(t, payment, refund))
    if refundable_by_api(payment.currency, refund, payment.amount_minor):
        payment.refund_status = "refunding"  # until the dispatcher has made the call
        assert payment.telegram_charge_id is not None
        turn.actions.append(
            RefundStars(
                payment.id,
                patient.telegram_id,
                payment.telegram_charge_id,
                t(
                    "About the payment for {consultation}: {amount} went back to your "
                    "Telegram Stars balance.",
                    consultation=consultation,
                    amount=amount,
                ),
                owed_text,
                notices,
            )
        )
        return
    payment.refund_status = "owed"
    turn.notify(patient.telegram_id, owed_text)
    for chat_id, text in notices:
        turn.notify(chat_id, text)


def owed_notice(t: Translator, payment: Payment, refund: int) -> str:
    """For admins: ids and amount only (no patient's name, no medical detail)."""
    return t(
        "Refund owed: {amount} for payment no. {number} (appointment {appointment}). "
        "Telegram charge id: {charge}; provider charge id: {provider}. Refund it with the "
        "payment provider, then keep this message as the record.",
        amount=money(refund, payment.currency, t.language),
        number=payment.id,
        appointment=payment.appointment_id or t("none: paid without an open invoice"),
        charge=payment.telegram_charge_id or "—",
        provider=payment.provider_charge_id or "—",
    )


async def _admin_notices(
    turn: Turn, notice: Callable[[Translator], str]
) -> tuple[tuple[int, str], ...]:
    """(chat id, text) for every configured admin, each in their own language."""
    accounts = await turn.uow.admin.users_by_telegram_ids(turn.config.admin_ids)
    return tuple(
        (
            admin_id,
            notice(translator(accounts[admin_id].language) if admin_id in accounts else turn.t),
        )
        for admin_id in sorted(turn.config.admin_ids)
    )


async def refund_unmatched(
    turn: Turn, paid: SuccessfulPayment, original: Payment | None = None
) -> None:
    """A charge that no open invoice explains (`original` is the invoice's row when it was paid
    already, or None when its booking is gone): nothing is booked for it. It is recorded as a
    payment of its own, with no appointment, and given back: Stars at once, card money put
    before the admins, and in their owed list, totals and CSV either way."""
    t = turn.t
    amount = money(paid.total_amount, paid.currency, t.language)
    log.warning("payment matched no open invoice", extra={"update_id": turn.event.update_id})
    patient_id = original.patient_id if original is not None else None
    if patient_id is None and turn.user is not None:
        patient_id = turn.user.id
    payment = Payment(
        appointment_id=None,
        patient_id=patient_id,
        doctor_id=original.doctor_id if original is not None else None,
        # Invoice payloads are random tokens; this one names the charge, so it stays unique.
        payload=f"charge:{paid.telegram_charge_id}"[:64],
        amount_minor=paid.total_amount,
        currency=paid.currency,
        status="paid",
        telegram_charge_id=paid.telegram_charge_id,
        provider_charge_id=paid.provider_charge_id or None,
        invoiced_at=turn.now,
        paid_at=turn.now,
        # Stars go back by the API call the dispatcher makes after commit; card money by hand.
        refund_status="refunding" if paid.currency == STARS else "owed",
        refund_minor=paid.total_amount,
        refund_reason="unmatched",
        refunded_at=turn.now,
    )
    turn.uow.payments.add(payment)
    await turn.uow.flush()
    turn.reply(
        t(
            "We received a payment of {amount} that does not belong to an open booking (was "
            "it paid twice?). Nothing new was booked; the money is refunded.",
            amount=amount,
        )
    )
    owed_text = t(
        "The clinic will refund {amount} to you by hand; keep the receipt with charge id {charge}.",
        amount=amount,
        charge=paid.telegram_charge_id,
    )
    notices = await _admin_notices(turn, lambda t: owed_notice(t, payment, payment.refund_minor))
    if paid.currency == STARS:
        turn.actions.append(
            RefundStars(
                payment.id,
                turn.event.user_id,
                paid.telegram_charge_id,
                t("{amount} went back to your Telegram Stars balance.", amount=amount),
                owed_text,
                notices,
            )
        )
        return
    turn.reply(owed_text)
    for chat_id, text in notices:
        turn.notify(chat_id, text)


async def carry_out_star_refund(
    sessions: async_sessionmaker[AsyncSession],
    sending: SendingPath,
    clock: Callable[[], datetime],
    action: RefundStars,
) -> None:
    """Run by the dispatcher after commit: the refund call, its outcome saved, then told."""
    try:
        await sending.refund_star_payment(action.user_id, action.telegram_charge_id)
        refunded = True
    except (Undeliverable, TransportError) as exc:
        refunded = ALREADY_REFUNDED in str(exc).lower()
        log.warning("star refund failed", extra={"reason": str(exc)[:120]})
    if action.payment_id is not None:
        async with UnitOfWork(sessions) as uow:
            payment = await uow.payments.get(action.payment_id)
            if payment is not None:
                payment.refund_status = "refunded" if refunded else "owed"
                payment.refunded_at = clock()
            await uow.commit()
    messages = [(action.user_id, action.refunded_text)]
    if not refunded:
        messages = [(action.user_id, action.owed_text), *action.admin_notices]
    for chat_id, text in messages:
        with contextlib.suppress(Undeliverable, TransportError):
            await sending.send_text(chat_id, text)
