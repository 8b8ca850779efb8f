"""The emulator's payments: sendInvoice with Telegram's checks, pre-checkout queries and their
answers, successful_payment updates, and refundStarPayment."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from bot.emulator import BotApiEmulator, SimulatedUser

pytestmark = pytest.mark.asyncio(loop_scope="function")

TOKEN = "123456:TEST"
STARS_PRICE = [{"label": "Consultation", "amount": 250}]


@pytest_asyncio.fixture(loop_scope="function")
async def emu() -> AsyncIterator[BotApiEmulator]:
    emulator = BotApiEmulator(token=TOKEN)
    await emulator.start()
    yield emulator
    await emulator.stop()


@pytest_asyncio.fixture(loop_scope="function")
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def call(
    http: aiohttp.ClientSession, emu: BotApiEmulator, method: str, **params: Any
) -> tuple[int, dict[str, Any]]:
    async with http.post(f"{emu.api_url}/{method}", json=params) as resp:
        return resp.status, await resp.json()


async def known_user(emu: BotApiEmulator) -> SimulatedUser:
    user = emu.user("Anna")
    await user.send_text("hi")
    emu.drop_pending_updates()
    return user


def invoice(chat_id: int, **overrides: Any) -> dict[str, Any]:
    params: dict[str, Any] = {
        "chat_id": chat_id,
        "title": "Consultation with Dr Kaur",
        "description": "Thu 13:00, 30 minutes",
        "payload": "pay-123",
        "currency": "XTR",
        "prices": STARS_PRICE,
    }
    params.update(overrides)
    return params


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"provider_token": "284685063:TEST:x"}, "PAYMENT_PROVIDER_INVALID"),
        (
            {"prices": [{"label": "a", "amount": 1}, {"label": "b", "amount": 2}]},
            "STARS_INVOICE_INVALID",
        ),
        ({"prices": []}, "INVOICE_PRICES_EMPTY"),
        ({"prices": [{"label": "a", "amount": 0}]}, "CURRENCY_TOTAL_AMOUNT_INVALID"),
        ({"prices": [{"label": "a", "amount": -5}]}, "CURRENCY_TOTAL_AMOUNT_INVALID"),
        ({"prices": [{"label": "a", "amount": 2.5}]}, "CURRENCY_TOTAL_AMOUNT_INVALID"),
        ({"prices": [{"label": "", "amount": 5}]}, "can't parse LabeledPrice"),
        ({"currency": "EUR"}, "PAYMENT_PROVIDER_INVALID"),
        ({"currency": "eur", "provider_token": "t"}, "CURRENCY_INVALID"),
        ({"title": ""}, "INVOICE_TITLE_INVALID"),
        ({"title": "x" * 33}, "INVOICE_TITLE_INVALID"),
        ({"payload": ""}, "INVOICE_PAYLOAD_INVALID"),
    ],
)
async def test_send_invoice_checks(
    emu: BotApiEmulator, http: aiohttp.ClientSession, overrides: dict[str, Any], error: str
) -> None:
    user = await known_user(emu)
    status, body = await call(http, emu, "sendInvoice", **invoice(user.id, **overrides))
    assert status == 400 and body["ok"] is False
    assert body["description"].startswith("Bad Request: ") and error in body["description"]
    assert user.invoices() == []


async def test_an_invoice_message_and_a_card_invoice(
    emu: BotApiEmulator, http: aiohttp.ClientSession
) -> None:
    user = await known_user(emu)
    status, body = await call(http, emu, "sendInvoice", **invoice(user.id, provider_token=""))
    assert status == 200
    assert body["result"]["invoice"] == {
        "title": "Consultation with Dr Kaur",
        "description": "Thu 13:00, 30 minutes",
        "start_parameter": "",
        "currency": "XTR",
        "total_amount": 250,
    }
    assert "pay-123" not in str(body["result"])  # the payload is not shown in the chat
    card = invoice(
        user.id,
        currency="EUR",
        provider_token="284685063:TEST:x",
        prices=[{"label": "Fee", "amount": 4000}, {"label": "Tax", "amount": 990}],
    )
    status, body = await call(http, emu, "sendInvoice", **card)
    assert status == 200 and body["result"]["invoice"]["total_amount"] == 4990
    assert len(user.invoices()) == 2


async def _bot_answers(
    http: aiohttp.ClientSession, emu: BotApiEmulator, ok: bool, error: str | None = None
) -> dict[str, Any]:
    """Play the bot: read the pre_checkout_query and answer it."""
    _, body = await call(http, emu, "getUpdates", timeout=5)
    query = body["result"][-1]["pre_checkout_query"]
    params: dict[str, Any] = {"pre_checkout_query_id": query["id"], "ok": ok}
    if error is not None:
        params["error_message"] = error
    status, answer = await call(http, emu, "answerPreCheckoutQuery", **params)
    assert status == 200 and answer["result"] is True, answer
    await call(http, emu, "getUpdates", offset=body["result"][-1]["update_id"] + 1)
    return query  # type: ignore[no-any-return]


async def test_pay_answer_and_successful_payment(
    emu: BotApiEmulator, http: aiohttp.ClientSession
) -> None:
    user = await known_user(emu)
    _, body = await call(http, emu, "sendInvoice", **invoice(user.id))
    paying = asyncio.create_task(user.pay(body["result"]))
    query = await _bot_answers(http, emu, True)
    assert query["from"]["id"] == user.id and query["invoice_payload"] == "pay-123"
    assert query["currency"] == "XTR" and query["total_amount"] == 250
    attempt = await paying
    assert attempt.ok and attempt.payment is not None
    _, body = await call(http, emu, "getUpdates")
    message = body["result"][0]["message"]
    paid = message["successful_payment"]
    assert paid["invoice_payload"] == "pay-123" and paid["total_amount"] == 250
    assert paid["provider_payment_charge_id"] == ""
    assert paid["telegram_payment_charge_id"] == attempt.charge_id
    # Delivered again: a new message and update, the same charge.
    await user.deliver_payment_again(attempt)
    _, again = await call(http, emu, "getUpdates", offset=body["result"][0]["update_id"] + 1)
    repeat = again["result"][0]["message"]
    assert repeat["successful_payment"] == paid and repeat["message_id"] != message["message_id"]

    # refundStarPayment: once, only for the payer, only a known charge.
    refund = {"user_id": user.id, "telegram_payment_charge_id": attempt.charge_id}
    status, body = await call(http, emu, "refundStarPayment", **{**refund, "user_id": 1})
    assert status == 400 and body["description"] == "Bad Request: CHARGE_NOT_FOUND"
    status, body = await call(http, emu, "refundStarPayment", **refund)
    assert status == 200 and body["result"] is True
    status, body = await call(http, emu, "refundStarPayment", **refund)
    assert status == 400 and body["description"] == "Bad Request: CHARGE_ALREADY_REFUNDED"
    status, body = await call(
        http, emu, "refundStarPayment", user_id=user.id, telegram_payment_charge_id="nope"
    )
    assert status == 400 and body["description"] == "Bad Request: CHARGE_NOT_FOUND"


async def test_a_refused_or_tampered_payment(
    emu: BotApiEmulator, http: aiohttp.ClientSession
) -> None:
    user = await known_user(emu)
    _, body = await call(http, emu, "sendInvoice", **invoice(user.id))
    paying = asyncio.create_task(user.pay(body["result"], amount=1))
    _, updates = await call(http, emu, "getUpdates", timeout=5)
    query = updates["result"][-1]["pre_checkout_query"]
    assert query["total_amount"] == 1
    # "No" needs a reason, and a query is answered once.
    status, answer = await call(
        http, emu, "answerPreCheckoutQuery", pre_checkout_query_id=query["id"], ok=False
    )
    assert status == 400
    status, _ = await call(
        http,
        emu,
        "answerPreCheckoutQuery",
        pre_checkout_query_id=query["id"],
        ok=False,
        error_message="Wrong amount",
    )
    assert status == 200
    status, answer = await call(
        http, emu, "answerPreCheckoutQuery", pre_checkout_query_id=query["id"], ok=True
    )
    assert status == 400 and "QUERY_ID_INVALID" in answer["description"]
    attempt = await paying
    assert not attempt.ok and attempt.error_message == "Wrong amount"
    _, updates = await call(http, emu, "getUpdates", offset=updates["result"][-1]["update_id"] + 1)
    assert updates["result"] == []  # no successful_payment after a "no"


async def test_both_client_libraries_send_invoices(emu: BotApiEmulator) -> None:
    import telegram
    from aiogram import Bot, types
    from aiogram.client.session.aiohttp import AiohttpSession
    from aiogram.client.telegram import TelegramAPIServer

    user = await known_user(emu)
    ptb = telegram.Bot(TOKEN, base_url=f"{emu.base_url}/bot")
    async with ptb:
        sent = await ptb.send_invoice(
            user.id, "T", "D", "p1", "XTR", [telegram.LabeledPrice("Fee", 5)]
        )
        assert sent.invoice is not None and sent.invoice.total_amount == 5
        with pytest.raises(telegram.error.BadRequest, match="Payment_provider_invalid"):
            await ptb.send_invoice(user.id, "T", "D", "p1", "EUR", [telegram.LabeledPrice("F", 5)])
    aio = Bot(TOKEN, session=AiohttpSession(api=TelegramAPIServer.from_base(emu.base_url)))
    try:
        sent2 = await aio.send_invoice(
            chat_id=user.id,
            title="T",
            description="D",
            payload="p2",
            currency="EUR",
            provider_token="284685063:TEST:x",
            prices=[types.LabeledPrice(label="Fee", amount=4990)],
        )
        assert sent2.invoice is not None and sent2.invoice.currency == "EUR"
    finally:
        await aio.session.close()
    assert len(user.invoices()) == 2
