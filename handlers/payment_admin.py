"""/admin → Payments: totals per period and per doctor, owed card refunds, a CSV export.

Stateless buttons (`pa:-:<verb>:<period>`), each checked again for an admin sender. The CSV
holds payment facts only (ids, doctor, amounts, charge ids, times): no patient, no reason.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from clinic.statistics import Period, period_bounds
from clinic.timezones import zone
from handlers import callbacks
from handlers.admin_buttons import reply_lines
from handlers.csv_export import csv_document
from handlers.formatting import money
from handlers.i18n import Html, Translator
from handlers.port import InlineButton, InlineKeyboard
from handlers.turn import Turn
from storage.models import Payment

BUTTONS = "pa"
PERIODS = (Period.WEEK, Period.MONTH_30, Period.THIS_MONTH)
# A Stars refund call is made right after its commit; one unconfirmed this long never was.
REFUND_CALL_STALE = timedelta(minutes=10)
OWED_SHOWN = 30


def _data(verb: str, period: str = "0") -> str:
    return callbacks.pack(BUTTONS, "", verb, period)


def _period_label(t: Translator, period: str) -> str:
    return {
        Period.WEEK: t("Last 7 days"),
        Period.MONTH_30: t("Last 30 days"),
        Period.THIS_MONTH: t("This month"),
    }[Period(period)]


def window(period: str, now: datetime, zone_name: str) -> tuple[datetime, datetime]:
    """The statistics' periods: "this month" starts on the 1st in the reader's zone, as in
    the statistics, so the two agree for the same admin."""
    return period_bounds(Period(period), now, zone(zone_name))


async def show(turn: Turn) -> None:
    t = turn.t
    keyboard = InlineKeyboard(
        (
            tuple(InlineButton(_period_label(t, p), _data("sum", p)) for p in PERIODS),
            (InlineButton(t("Owed refunds"), _data("owed")),),
        )
    )
    turn.reply(t("Payments: choose a period."), keyboard)


async def on_button(turn: Turn, callback: callbacks.Callback) -> None:
    t = turn.t
    if not turn.is_admin:
        turn.answer(t("This button is not valid."))
        return
    verb, period = callback.step, callback.action
    if verb == "sum" and period in PERIODS:
        turn.answer()
        await _summary(turn, period)
    elif verb == "csv" and period in PERIODS:
        turn.answer()
        await _export(turn, period)
    elif verb == "owed" and period == "0":
        turn.answer()
        await _owed(turn)
    else:
        turn.answer(t("This button is not valid."))


@dataclass
class Totals:
    paid: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    count: int = 0
    refunded: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    owed: dict[str, int] = field(default_factory=lambda: defaultdict(int))


def _in(moment: datetime | None, start: datetime, end: datetime) -> bool:
    return moment is not None and start <= moment <= end


def totals(
    payments: Sequence[Payment], start: datetime, end: datetime
) -> tuple[Totals, dict[int, Totals]]:
    """Overall and per doctor: paid in the window, refunds made or owed in the window."""
    overall = Totals()
    per_doctor: defaultdict[int, Totals] = defaultdict(Totals)
    for payment in payments:
        doctor = () if payment.doctor_id is None else (per_doctor[payment.doctor_id],)
        for bucket in (overall, *doctor):
            if _in(payment.paid_at, start, end):
                bucket.paid[payment.currency] += payment.amount_minor
                bucket.count += 1
            if _in(payment.refunded_at, start, end) and payment.refund_minor > 0:
                if payment.refund_status == "refunded":
                    bucket.refunded[payment.currency] += payment.refund_minor
                elif payment.refund_status in ("owed", "refunding"):
                    bucket.owed[payment.currency] += payment.refund_minor
    return overall, dict(per_doctor)


def _sum(t: Translator, amounts: dict[str, int]) -> str:
    shown = [money(v, c, t.language) for c, v in sorted(amounts.items()) if v]
    return ", ".join(shown) or "0"


def _line(t: Translator, totals_: Totals) -> str:
    return t(
        "paid {paid} (payments: {count}), refunded {refunded}, refunds owed {owed}",
        paid=_sum(t, totals_.paid),
        count=totals_.count,
        refunded=_sum(t, totals_.refunded),
        owed=_sum(t, totals_.owed),
    )


async def _summary(turn: Turn, period: str) -> None:
    t = turn.t
    start, end = window(period, turn.now, turn.zone_name)
    payments = await turn.uow.payments.settled_between(start, end)
    overall, per_doctor = totals(payments, start, end)
    names = await turn.uow.payments.doctor_names(per_doctor)
    lines = [
        t(
            "• {doctor}: {line}",
            doctor=names.get(doctor_id) or f"#{doctor_id}",
            line=Html(_line(t, doctor_totals)),
        )
        for doctor_id, doctor_totals in sorted(per_doctor.items())
    ]
    text = t(
        "<b>Payments: {period}</b> (days in {tz})\nAll doctors: {line}\n\n{doctors}",
        period=_period_label(t, period),
        tz=turn.zone_name,
        line=Html(_line(t, overall)),
        doctors=Html("\n".join(lines) or t("No payments in this period.")),
    )
    keyboard = InlineKeyboard(
        (
            (InlineButton(t("Export CSV"), _data("csv", period)),),
            (InlineButton(t("Owed refunds"), _data("owed")),),
        )
    )
    turn.reply(text, keyboard)


async def _owed(turn: Turn) -> None:
    t = turn.t
    owed = await turn.uow.payments.owed(turn.now - REFUND_CALL_STALE, OWED_SHOWN)
    if not owed:
        turn.reply(t("No refunds are owed."))
        return
    lines = [
        t(
            "No. {number}: {amount}, Telegram charge id {charge}, provider charge id {provider}",
            number=p.id,
            amount=money(p.refund_minor, p.currency, t.language),
            charge=p.telegram_charge_id or "—",
            provider=p.provider_charge_id or "—",
        )
        + (
            t(" (a Stars refund was started but never confirmed: check it in Telegram)")
            if p.refund_status == "refunding"
            else ""
        )
        for p in owed
    ]
    reply_lines(turn, t("Refunds owed (make them with the payment provider):"), lines)


def _stamp(moment: datetime | None) -> str:
    return moment.isoformat() if moment is not None else ""


CSV_COLUMNS = (
    "payment_id",
    "appointment_id",
    "doctor_id",
    "doctor",
    "status",
    "amount_minor",
    "currency",
    "invoiced_at",
    "paid_at",
    "telegram_charge_id",
    "provider_charge_id",
    "refund_status",
    "refund_minor",
    "refund_reason",
    "refunded_at",
)


def csv_rows(payments: Sequence[Payment], names: dict[int, str]) -> list[tuple[object, ...]]:
    return [
        (
            p.id,
            p.appointment_id,
            p.doctor_id,
            names.get(p.doctor_id, "") if p.doctor_id is not None else "",
            p.status,
            p.amount_minor,
            p.currency,
            _stamp(p.invoiced_at),
            _stamp(p.paid_at),
            p.telegram_charge_id,
            p.provider_charge_id,
            p.refund_status,
            p.refund_minor,
            p.refund_reason,
            _stamp(p.refunded_at),
        )
        for p in payments
    ]


async def _export(turn: Turn, period: str) -> None:
    t = turn.t
    start, end = window(period, turn.now, turn.zone_name)
    local = zone(turn.zone_name)  # the file is named by the days the admin asked for
    payments = await turn.uow.payments.settled_between(start, end)
    names = await turn.uow.payments.doctor_names(
        p.doctor_id for p in payments if p.doctor_id is not None
    )
    turn.send_document(
        csv_document(
            f"payments-{start.astimezone(local):%Y%m%d}-{end.astimezone(local):%Y%m%d}.csv",
            CSV_COLUMNS,
            csv_rows(payments, names),
        ),
        t(
            "Payments: {period}. Rows in the file: {count}.",
            period=_period_label(t, period),
            count=len(payments),
        ),
    )
