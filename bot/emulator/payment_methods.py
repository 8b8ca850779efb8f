"""Payments in the emulator: sendInvoice, answerPreCheckoutQuery, refundStarPayment.

With Telegram's checks: an invoice's prices are a non-empty list of labelled positive integer
amounts in the currency's smallest unit; Telegram Stars (XTR) invoices carry no provider token
and exactly one price; other currencies need a provider token. A pre-checkout query is
answered once, and a "no" needs an error message. A Stars charge is refunded once, only to the
user who paid it. (SimulatedUser.pay pushes the updates: pre_checkout_query, then a message
with successful_payment.)
"""

from __future__ import annotations

import re
from typing import Any

from .errors import bad_request
from .markup import validate_markup
from .methods import CallContext, method, post_bot_message, writable_chat
from .state import InvoiceRecord

STARS = "XTR"
QUERY_INVALID = "QUERY_ID_INVALID"
CHARGE_NOT_FOUND = "CHARGE_NOT_FOUND"
CHARGE_ALREADY_REFUNDED = "CHARGE_ALREADY_REFUNDED"


def _text(params: dict[str, Any], key: str, limit: int, error: str) -> str:
    value = params.get(key)
    text = "" if value is None else str(value)
    if not text.strip() or len(text) > limit:
        raise bad_request(error)
    return text


def _prices(raw: Any) -> list[dict[str, Any]]:
    if not isinstance(raw, list):
        raise bad_request("can't parse prices JSON object")
    if not raw:
        raise bad_request("INVOICE_PRICES_EMPTY")
    prices = []
    for item in raw:
        if not isinstance(item, dict) or not str(item.get("label") or "").strip():
            raise bad_request("can't parse LabeledPrice JSON object")
        amount = item.get("amount")
        if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
            raise bad_request("CURRENCY_TOTAL_AMOUNT_INVALID")
        prices.append({"label": str(item["label"]), "amount": amount})
    return prices


@method("sendInvoice")
async def send_invoice(ctx: CallContext) -> Any:
    p = ctx.params
    chat = writable_chat(ctx)
    title = _text(p, "title", 32, "INVOICE_TITLE_INVALID")
    description = _text(p, "description", 255, "INVOICE_DESCRIPTION_INVALID")
    payload = str(p.get("payload") or "")
    if not payload or len(payload.encode("utf-8")) > 128:
        raise bad_request("INVOICE_PAYLOAD_INVALID")
    currency = str(p.get("currency") or "")
    if not re.fullmatch(r"[A-Z]{3}", currency):
        raise bad_request("CURRENCY_INVALID")
    prices = _prices(p.get("prices"))
    token = str(p.get("provider_token") or "")
    if currency == STARS:
        if token:
            raise bad_request("PAYMENT_PROVIDER_INVALID")  # Stars take no provider
        if len(prices) != 1:
            raise bad_request("STARS_INVOICE_INVALID")
    elif not token:
        raise bad_request("PAYMENT_PROVIDER_INVALID")
    total = sum(price["amount"] for price in prices)
    invoice = {
        "title": title,
        "description": description,
        "start_parameter": str(p.get("start_parameter") or ""),
        "currency": currency,
        "total_amount": total,
    }
    markup = validate_markup(p.get("reply_markup"))
    message = post_bot_message(ctx, chat, {"invoice": invoice}, markup=markup)
    ctx.state.invoices[(chat.chat_id, message.message_id)] = InvoiceRecord(
        payload, currency, total, token
    )
    return message.snapshot()


@method("answerPreCheckoutQuery")
async def answer_pre_checkout_query(ctx: CallContext) -> Any:
    p = ctx.params
    record = ctx.state.pre_checkouts.get(str(p.get("pre_checkout_query_id") or ""))
    if record is None or record.answer is not None:
        raise bad_request(QUERY_INVALID)
    if "ok" not in p:
        raise bad_request("ok is required")
    ok = bool(p["ok"])
    error = p.get("error_message")
    if not ok and not str(error or "").strip():
        raise bad_request("ERROR_MESSAGE_EMPTY")
    record.answer = {"ok": ok, "error_message": None if ok else str(error)}
    record.answered_event.set()
    return True


@method("refundStarPayment")
async def refund_star_payment(ctx: CallContext) -> Any:
    p = ctx.params
    charge = ctx.state.charges.get(str(p.get("telegram_payment_charge_id") or ""))
    user_id = p.get("user_id")
    if charge is None or charge.currency != STARS or charge.user_id != user_id:
        raise bad_request(CHARGE_NOT_FOUND)
    if charge.refunded:
        raise bad_request(CHARGE_ALREADY_REFUNDED)
    charge.refunded = True
    return True
