"""The sandbox page's JSON API given bad input: a clear 4xx, and nothing sent to the bot.

The browser test drives the happy path through the page; these call the API as a careless or
hostile client would, in process, against a real aiohttp server. Paying an invoice is tried
here too, with the test playing the bot through the emulator's own HTTP API.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr

from bot.emulator import BotApiEmulator, StoredMessage
from bot.sandbox.personas import PersonaBook
from bot.sandbox.render import message_view
from bot.sandbox.runner import sandbox_settings
from bot.sandbox.web import SandboxWeb
from bot.settings import Settings

pytestmark = pytest.mark.asyncio(loop_scope="function")

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 32


@pytest_asyncio.fixture(loop_scope="function")
async def sandbox(tmp_path: Path) -> AsyncIterator[tuple[TestClient, BotApiEmulator, int]]:
    emulator = BotApiEmulator()
    personas = PersonaBook(tmp_path / "personas.json", emulator)
    anna = personas.add("Anna", "Anna", "patient").user_id
    web_app = SandboxWeb(emulator, personas)
    client = TestClient(TestServer(web_app.make_app()))
    await client.start_server()
    yield client, emulator, anna
    web_app.close()
    await client.close()


def upload(data: bytes, name: str, mime: str) -> aiohttp.FormData:
    form = aiohttp.FormData()
    form.add_field("file", data, filename=name, content_type=mime)
    return form


async def test_a_new_persona_needs_a_json_object_with_a_name(sandbox: tuple) -> None:
    client, _emulator, _anna = sandbox
    for body in (b"not json", b"[1, 2]", b'{"name": null}', b'{"name": "  "}'):
        response = await client.post("/api/personas", data=body)
        assert response.status == 400, body
        assert "error" in await response.json()
    response = await client.post("/api/personas", json={"name": "Влада 🌷"})
    assert response.status == 201
    assert (await response.json())["first_name"] == "Влада 🌷"


async def test_text_that_is_not_a_string_is_refused_not_sent_as_none(sandbox: tuple) -> None:
    client, emulator, anna = sandbox
    for body in (b'{"text": null}', b'{"text": 5}', b"{}", b"text=hi", b'{"text": "   "}'):
        response = await client.post(f"/api/chats/{anna}/text", data=body)
        assert response.status == 400, body
    assert emulator.state.queue == []
    response = await client.post(f"/api/chats/{anna}/text", json={"text": "hello"})
    assert response.status == 200
    assert [q.update["message"]["text"] for q in emulator.state.queue] == ["hello"]


async def test_a_photo_must_be_an_image(sandbox: tuple) -> None:
    client, emulator, anna = sandbox
    pdf = upload(b"%PDF-1.4 not a picture", "scan.jpg", "image/jpeg")
    response = await client.post(f"/api/chats/{anna}/photo", data=pdf)
    assert response.status == 400
    assert "JPEG, PNG" in (await response.json())["error"]
    assert emulator.state.queue == []
    png = upload(PNG, "scan.png", "image/png")
    assert (await client.post(f"/api/chats/{anna}/photo", data=png)).status == 200
    assert "photo" in emulator.state.queue[0].update["message"]


async def test_an_uploaded_page_is_downloaded_never_shown_as_the_sandboxs_own(
    sandbox: tuple,
) -> None:
    client, emulator, anna = sandbox
    page = upload(b"<script>alert(1)</script>", "x.html", "text/html")
    assert (await client.post(f"/api/chats/{anna}/document", data=page)).status == 200
    html_id = emulator.state.queue[0].update["message"]["document"]["file_id"]
    served = await client.get(f"/api/files/{html_id}")
    assert served.headers["Content-Disposition"].startswith("attachment;")
    assert served.headers["Content-Security-Policy"] == "sandbox"
    pdf = upload(b"%PDF-1.4", "lab.pdf", "application/pdf")
    assert (await client.post(f"/api/chats/{anna}/document", data=pdf)).status == 200
    pdf_id = emulator.state.queue[1].update["message"]["document"]["file_id"]
    served = await client.get(f"/api/files/{pdf_id}")
    assert served.headers["Content-Disposition"].startswith("inline;")


# -- paying an invoice ----------------------------------------------------------------------------
async def bot_call(bot: TestClient, emulator: BotApiEmulator, method: str, **params: Any) -> Any:
    """The bot's side: a Bot API call to the emulator; its result."""
    response = await bot.post(f"/bot{emulator.token}/{method}", json=params)
    body = await response.json()
    assert body["ok"], body
    return body["result"]


async def send_stars_invoice(bot: TestClient, emulator: BotApiEmulator, chat_id: int) -> int:
    message = await bot_call(
        bot,
        emulator,
        "sendInvoice",
        chat_id=chat_id,
        title="Consultation with Dr Kaur",
        description="Mon 09:00 <b>not bold</b>, 30 minutes",
        payload="pay-1",
        currency="XTR",
        prices=[{"label": "Consultation", "amount": 250}],
    )
    return int(message["message_id"])


async def answer_pre_checkout(
    bot: TestClient, emulator: BotApiEmulator, ok: bool, error: str | None = None
) -> None:
    """Poll as the bot does until the pre-checkout query comes, then answer it."""
    offset = 0
    while True:
        for update in await bot_call(bot, emulator, "getUpdates", offset=offset, timeout=5):
            offset = update["update_id"] + 1
            if "pre_checkout_query" in update:
                query_id = update["pre_checkout_query"]["id"]
                answer = {"ok": ok} if ok else {"ok": ok, "error_message": error}
                await bot_call(
                    bot,
                    emulator,
                    "answerPreCheckoutQuery",
                    pre_checkout_query_id=query_id,
                    **answer,
                )
                await bot_call(bot, emulator, "getUpdates", offset=offset, timeout=0)  # confirm
                return


@pytest_asyncio.fixture(loop_scope="function")
async def bot(sandbox: tuple) -> AsyncIterator[TestClient]:
    """An HTTP client on the sandbox's emulator, for the test to act as the bot."""
    _client, emulator, _anna = sandbox
    client = TestClient(TestServer(emulator.make_app()))
    await client.start_server()
    yield client
    await client.close()


async def test_paying_a_message_that_is_not_an_invoice_is_a_conflict(sandbox: tuple) -> None:
    client, emulator, anna = sandbox
    assert (await client.post(f"/api/chats/{anna}/text", json={"text": "/start"})).status == 200
    own = max(emulator.state.chats[anna].messages)
    for message_id, expected in ((own, "is not an invoice"), (999, "no message #999")):
        response = await client.post(f"/api/chats/{anna}/pay", json={"message_id": message_id})
        assert response.status == 409
        assert expected in (await response.json())["error"]
    for body in (b"{}", b'{"message_id": "1"}', b'{"message_id": true}', b"1"):
        response = await client.post(f"/api/chats/{anna}/pay", data=body)
        assert response.status == 400, body
    assert emulator.state.pre_checkouts == {}


async def test_an_invoice_shows_and_is_paid_after_a_refusal(
    sandbox: tuple, bot: TestClient
) -> None:
    client, emulator, anna = sandbox
    await client.post(f"/api/chats/{anna}/text", json={"text": "/start"})
    invoice_id = await send_stars_invoice(bot, emulator, anna)
    history = await (await client.get(f"/api/chats/{anna}")).json()
    shown = next(m for m in history["messages"] if m["message_id"] == invoice_id)
    assert shown["invoice"] == {
        "title": "Consultation with Dr Kaur",
        "description": "Mon 09:00 <b>not bold</b>, 30 minutes",
        "currency": "XTR",
        "total_amount": 250,
        "amount": "250 ⭐",
        "paid": False,
    }

    # The bot says no: the page is told the bot's words, and nothing is paid.
    refusing = asyncio.create_task(answer_pre_checkout(bot, emulator, False, "Held time ran out"))
    response = await client.post(f"/api/chats/{anna}/pay", json={"message_id": invoice_id})
    await refusing
    assert response.status == 200
    assert await response.json() == {"ok": False, "error": "Held time ran out"}
    assert emulator.state.charges == {}

    agreeing = asyncio.create_task(answer_pre_checkout(bot, emulator, True))
    response = await client.post(f"/api/chats/{anna}/pay", json={"message_id": invoice_id})
    await agreeing
    assert await response.json() == {"ok": True}
    [charge] = emulator.state.charges.values()
    assert (charge.user_id, charge.currency, charge.total_amount) == (anna, "XTR", 250)
    # The payment shows in the chat, and the invoice is marked paid (after a reload too).
    history = await (await client.get(f"/api/chats/{anna}")).json()
    views = {m["message_id"]: m for m in history["messages"]}
    assert views[invoice_id]["invoice"]["paid"] is True
    assert views[max(views)]["payment"] == {"amount": "250 ⭐"}


@pytest.mark.parametrize(
    ("currency", "total", "amount"),
    [("XTR", 1250, "1,250 ⭐"), ("EUR", 4990, "€49.90"), ("JPY", 1234, "¥1,234")],
)
async def test_an_invoice_renders_its_total_in_the_currencys_units(
    currency: str, total: int, amount: str
) -> None:
    message = StoredMessage(
        {
            "message_id": 7,
            "date": 0,
            "invoice": {
                "title": "Consultation",
                "description": "30 minutes",
                "start_parameter": "",
                "currency": currency,
                "total_amount": total,
            },
        },
        from_bot=True,
    )
    view = message_view(message)
    assert view["html"] == ""
    assert view["invoice"]["title"] == "Consultation"
    assert view["invoice"]["amount"] == amount
    assert view["invoice"]["paid"] is False


async def test_the_sandbox_charges_in_stars_unless_told_otherwise(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PAYMENT_CURRENCY", raising=False)
    monkeypatch.delenv("PAYMENT_PROVIDER_TOKEN", raising=False)

    def currency(**chosen: Any) -> str:
        settings = Settings(_env_file=None, **chosen)  # type: ignore[call-arg]
        return sandbox_settings(settings, "http://127.0.0.1:1", tmp_path).payment_currency

    assert currency() == "XTR"
    assert currency(payment_currency="EUR") == "EUR"  # the person's own choice stands
    assert currency(payment_provider_token=SecretStr("284685063:TEST:x")) == "EUR"  # cards
