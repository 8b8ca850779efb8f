"""Payment rules, no I/O: when payments are on, whether a pre-checkout may pass, what a
cancellation refunds.

- Payments are on when the currency is Telegram Stars (XTR, no provider token) or a card
  provider token is configured; otherwise a paid doctor is booked as a free one is (no invoice).
- A refund is the whole amount when the doctor or the clinic cancels, or the patient cancels
  at least `full_before` ahead; a later patient cancellation refunds `late_percent` of it.
  A paid visit moved inside the window of the time it left keeps that earlier start for the
  refund (`refund_basis`): a move is a cancellation of the old time plus a new booking.
- Stars go back through the Bot API, but only whole (refundStarPayment has no amount); card
  money and partial Stars refunds are owed: the clinic pays them back by hand.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

STARS = "XTR"


def payments_enabled(currency: str, provider_token: str) -> bool:
    return currency == STARS or bool(provider_token)


def needs_payment(fee_minor: int, currency: str, provider_token: str) -> bool:
    return fee_minor > 0 and payments_enabled(currency, provider_token)


class Refusal(StrEnum):
    """Why a pre-checkout query is answered no."""

    UNKNOWN = "unknown"  # no such invoice (forged or from another bot run)
    NOT_YOURS = "not_yours"  # someone else pays for the patient's hold
    NOT_HELD = "not_held"  # already paid, cancelled or expired
    EXPIRED = "expired"  # the hold's time ran out
    AMOUNT = "amount"  # the amount differs from the invoice
    CURRENCY = "currency"  # the currency differs from the invoice


@dataclass(frozen=True)
class HoldView:
    """What the pre-checkout check needs of the appointment and its invoice."""

    patient_telegram_id: int
    status: str
    hold_expires_at: datetime | None
    amount: int
    currency: str


def check_pre_checkout(
    hold: HoldView | None, payer_id: int, amount: int, currency: str, now: datetime
) -> Refusal | None:
    """None when the payment may go ahead."""
    if hold is None:
        return Refusal.UNKNOWN
    if hold.patient_telegram_id != payer_id:
        return Refusal.NOT_YOURS
    if hold.status != "held":
        return Refusal.NOT_HELD
    if hold.hold_expires_at is None or hold.hold_expires_at <= now:
        return Refusal.EXPIRED
    if currency != hold.currency:
        return Refusal.CURRENCY
    if amount != hold.amount:
        return Refusal.AMOUNT
    return None


def refund_amount(
    amount: int,
    by: str,
    starts_at: datetime,
    now: datetime,
    full_before: timedelta,
    late_percent: int,
) -> int:
    """How much of a paid amount a cancellation gives back (smallest unit, rounded down)."""
    if by != "patient" or starts_at - now >= full_before:
        return amount
    return amount * max(0, min(100, late_percent)) // 100


def refund_basis(
    starts_at: datetime, moves: Iterable[tuple[datetime, datetime]], full_before: timedelta
) -> datetime:
    """The start a patient's refund is measured from. `moves` are the earlier times this visit
    was moved from, each with when it was moved. A move made less than `full_before` ahead of
    the time it left counts as a late cancellation of that time; without this, a visit due in
    an hour could be moved to next week and then cancelled with a full refund."""
    basis = starts_at
    for left_start, moved_at in moves:
        if left_start - moved_at < full_before:
            basis = min(basis, left_start)
    return basis


def refundable_by_api(currency: str, refund: int, amount: int) -> bool:
    """Only a whole Stars payment can be refunded through the Bot API."""
    return currency == STARS and refund == amount
