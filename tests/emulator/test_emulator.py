"""Tests of the Bot API emulator over real HTTP and with the real client libraries."""

from __future__ import annotations

import asyncio
import datetime as dtm
import time
import warnings
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from bot.emulator import ApiError, BotApiEmulator, SimulatedUser

pytestmark = pytest.mark.asyncio(loop_scope="function")

TOKEN = "123456:TEST"


@pytest_asyncio.fixture(loop_scope="function")
async def emu() -> AsyncIterator[BotApiEmulator]:
    emulator = BotApiEmulator(token=TOKEN, bot_username="clinic_test_bot", bot_first_name="Clinic")
    await emulator.start(host="127.0.0.1", port=0)
    yield emulator
    await emulator.stop()


@pytest_asyncio.fixture(loop_scope="function")
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest_asyncio.fixture(loop_scope="function")
async def ptb(emu: BotApiEmulator) -> AsyncIterator[Any]:
    import telegram

    bot = telegram.Bot(
        TOKEN, base_url=f"{emu.base_url}/bot", base_file_url=f"{emu.base_url}/file/bot"
    )
    async with bot:
        yield bot


@pytest_asyncio.fixture(loop_scope="function")
async def aio(emu: BotApiEmulator) -> AsyncIterator[Any]:
    from aiogram import Bot
    from aiogram.client.session.aiohttp import AiohttpSession
    from aiogram.client.telegram import TelegramAPIServer

    bot = Bot(TOKEN, session=AiohttpSession(api=TelegramAPIServer.from_base(emu.base_url)))
    yield bot
    await bot.session.close()


async def call(
    http: aiohttp.ClientSession, emu: BotApiEmulator, method: str, **params: Any
) -> tuple[int, dict[str, Any]]:
    async with http.post(f"{emu.api_url}/{method}", json=params) as resp:
        return resp.status, await resp.json()


async def known_user(emu: BotApiEmulator, **kwargs: Any) -> SimulatedUser:
    """A user who has written to the bot (so the bot may message them), update consumed."""
    user = emu.user(**kwargs)
    await user.send_text("hi")
    emu.drop_pending_updates()
    return user


def inline(*labels_and_data: tuple[str, str]) -> dict[str, Any]:
    return {"inline_keyboard": [[{"text": t, "callback_data": d} for t, d in labels_and_data]]}


# ---------------------------------------------------------------------------------------
# raw HTTP
# ---------------------------------------------------------------------------------------
async def test_get_me_get_and_post(emu: BotApiEmulator, http: aiohttp.ClientSession) -> None:
    async with http.get(f"{emu.api_url}/getMe") as resp:
        body = await resp.json()
    assert resp.status == 200
    assert body["ok"] is True
    assert body["result"]["id"] == 123456
    assert body["result"]["is_bot"] is True
    assert body["result"]["username"] == "clinic_test_bot"
    status, body = await call(http, emu, "getme")  # method names are case-insensitive
    assert status == 200 and body["result"]["first_name"] == "Clinic"


async def test_wrong_token_and_unknown_method(
    emu: BotApiEmulator, http: aiohttp.ClientSession
) -> None:
    async with http.post(f"{emu.base_url}/bot999:WRONG/getMe") as resp:
        assert resp.status == 401
        assert await resp.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}
    async with http.post(f"{emu.api_url}/noSuchMethod") as resp:
        assert resp.status == 404
        assert await resp.json() == {"ok": False, "error_code": 404, "description": "Not Found"}


async def test_params_from_query_form_and_multipart(
    emu: BotApiEmulator, http: aiohttp.ClientSession
) -> None:
    user = await known_user(emu)
    async with http.get(
        f"{emu.api_url}/sendMessage", params={"chat_id": str(user.id), "text": "q"}
    ) as resp:
        assert (await resp.json())["ok"]
    markup = '{"inline_keyboard": [[{"text": "A", "callback_data": "a"}]]}'
    async with http.post(
        f"{emu.api_url}/sendMessage",
        data={"chat_id": str(user.id), "text": "f", "reply_markup": markup},
    ) as resp:
        body = await resp.json()
    assert body["result"]["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "a"
    form = aiohttp.FormData()
    form.add_field("chat_id", str(user.id))
    form.add_field("caption", "scan")
    form.add_field("document", b"PDFDATA", filename="scan.pdf", content_type="application/pdf")
    async with http.post(f"{emu.api_url}/sendDocument", data=form) as resp:
        body = await resp.json()
    doc = body["result"]["document"]
    assert doc["file_name"] == "scan.pdf" and doc["mime_type"] == "application/pdf"
    assert emu.file_bytes(doc["file_id"]) == b"PDFDATA"
    assert emu.calls_of("sendMessage")[0].params["chat_id"] == user.id  # coerced to int
    assert repr(emu.calls_of("sendDocument")[0].params["document"]) == "<upload 'scan.pdf' 7 bytes>"
    assert [m.text for m in user.messages] == ["q", "f", "scan"]


async def test_chat_not_found_and_message_ids_shared(
    emu: BotApiEmulator, http: aiohttp.ClientSession
) -> None:
    stranger = emu.user(first_name="Never wrote")
    status, body = await call(http, emu, "sendMessage", chat_id=stranger.id, text="hello")
    assert status == 400 and body["description"] == "Bad Request: chat not found"
    first = await stranger.send_text("hi")
    status, body = await call(http, emu, "sendMessage", chat_id=stranger.id, text="hello")
    assert status == 200
    assert body["result"]["message_id"] == first["message_id"] + 1
    second = await stranger.send_text("again")
    assert second["message_id"] == first["message_id"] + 2


async def test_text_limits_and_html(emu: BotApiEmulator, http: aiohttp.ClientSession) -> None:
    user = await known_user(emu)

    async def send(text: str, **extra: Any) -> tuple[int, dict[str, Any]]:
        return await call(http, emu, "sendMessage", chat_id=user.id, text=text, **extra)

    assert (await send("x" * 4096))[0] == 200
    status, body = await send("x" * 4097)
    assert status == 400 and body["description"] == "Bad Request: message is too long"
    # The limit applies after parsing: tags don't count.
    assert (await send("<b>" + "x" * 4096 + "</b>", parse_mode="HTML"))[0] == 200
    status, body = await send("")
    assert body["description"] == "Bad Request: message text is empty"
    status, body = await send("<b></b>", parse_mode="HTML")
    assert body["description"] == "Bad Request: message text is empty"
    for bad in (
        "a < b",
        "<b>x",
        "<b>x</i>",
        "<div>x</div>",
        "Tom & Jerry",
        '<span class="x">s</span>',
    ):
        status, body = await send(bad, parse_mode="HTML")
        assert status == 400, bad
        assert body["description"].startswith("Bad Request: can't parse entities: "), bad
    status, body = await send(
        '<b>B</b> <i>I</i> <a href="https://x.org">L</a> &lt;&amp;&gt; <tg-spoiler>S</tg-spoiler> '
        '<pre><code class="language-python">p</code></pre> <blockquote expandable>q</blockquote>',
        parse_mode="HTML",
    )
    assert status == 200, body
    msg = body["result"]
    assert msg["text"] == "B I L <&> S p q"
    types = [e["type"] for e in msg["entities"]]
    assert types == ["bold", "italic", "text_link", "spoiler", "pre", "expandable_blockquote"]
    assert msg["entities"][4]["language"] == "python"
    # Without parse_mode, '<' is just text.
    assert (await send("a < b"))[0] == 200


async def test_callback_data_limit_is_bytes(
    emu: BotApiEmulator, http: aiohttp.ClientSession
) -> None:
    user = await known_user(emu)
    ok_data = "क" * 21 + "a"  # 21 * 3 bytes + 1 = 64 bytes
    bad_data = "क" * 21 + "ab"  # 65 bytes but only 23 characters
    assert len(ok_data.encode()) == 64 and len(bad_data.encode()) == 65
    status, _ = await call(
        http, emu, "sendMessage", chat_id=user.id, text="t", reply_markup=inline(("ok", ok_data))
    )
    assert status == 200
    status, body = await call(
        http, emu, "sendMessage", chat_id=user.id, text="t", reply_markup=inline(("no", bad_data))
    )
    assert status == 400 and body["description"] == "Bad Request: BUTTON_DATA_INVALID"
    status, body = await call(
        http, emu, "sendMessage", chat_id=user.id, text="t", reply_markup=inline(("no", ""))
    )
    assert body["description"] == "Bad Request: BUTTON_DATA_INVALID"
    url_markup = {"inline_keyboard": [[{"text": "site", "url": "https://example.org"}]]}
    assert (
        await call(http, emu, "sendMessage", chat_id=user.id, text="t", reply_markup=url_markup)
    )[0] == 200


async def test_edit_delete_copy_errors(emu: BotApiEmulator, http: aiohttp.ClientSession) -> None:
    user = await known_user(emu)
    _, body = await call(
        http, emu, "sendMessage", chat_id=user.id, text="v1", reply_markup=inline(("A", "a"))
    )
    mid = body["result"]["message_id"]
    status, body = await call(
        http,
        emu,
        "editMessageText",
        chat_id=user.id,
        message_id=mid,
        text="v1",
        reply_markup=inline(("A", "a")),
    )
    assert status == 400 and body["description"].startswith("Bad Request: message is not modified")
    status, body = await call(
        http,
        emu,
        "editMessageText",
        chat_id=user.id,
        message_id=mid,
        text="v2",
        reply_markup=inline(("A", "a")),
    )
    assert status == 200 and body["result"]["text"] == "v2" and "edit_date" in body["result"]
    edited = await user.expect_edit(mid, "v2")
    assert edited.version == 1
    status, body = await call(
        http,
        emu,
        "editMessageReplyMarkup",
        chat_id=user.id,
        message_id=mid,
        reply_markup=inline(("A", "a")),
    )
    assert body["description"].startswith("Bad Request: message is not modified")
    status, body = await call(http, emu, "editMessageReplyMarkup", chat_id=user.id, message_id=mid)
    assert status == 200 and "reply_markup" not in body["result"]
    status, body = await call(
        http, emu, "editMessageText", chat_id=user.id, message_id=999, text="x"
    )
    assert body["description"] == "Bad Request: message to edit not found"
    user_msg = await user.send_text("mine")
    status, body = await call(
        http, emu, "editMessageText", chat_id=user.id, message_id=user_msg["message_id"], text="x"
    )
    assert status == 400
    assert (await call(http, emu, "deleteMessage", chat_id=user.id, message_id=mid))[0] == 200
    assert user.messages[-1].deleted
    status, body = await call(http, emu, "deleteMessage", chat_id=user.id, message_id=mid)
    assert body["description"] == "Bad Request: message to delete not found"
    status, body = await call(
        http, emu, "editMessageText", chat_id=user.id, message_id=mid, text="zzz"
    )
    assert body["description"] == "Bad Request: message to edit not found"
    status, body = await call(
        http, emu, "copyMessage", chat_id=user.id, from_chat_id=user.id, message_id=mid
    )
    assert body["description"] == "Bad Request: message to copy not found"


async def test_callback_query_answer(emu: BotApiEmulator, http: aiohttp.ClientSession) -> None:
    user = await known_user(emu)
    await call(
        http,
        emu,
        "sendMessage",
        chat_id=user.id,
        text="pick",
        reply_markup=inline(("Yes", "y"), ("No", "n")),
    )
    msg = await user.expect("pick")
    assert user.inline_buttons(msg) == ["Yes", "No"]
    with pytest.raises(AssertionError, match="Maybe"):
        await user.tap("Maybe")
    tap = await user.tap("No")
    _, body = await call(http, emu, "getUpdates")
    query = body["result"][0]["callback_query"]
    assert query["data"] == "n" and query["message"]["message_id"] == msg.message_id
    assert query["from"]["id"] == user.id and query["chat_instance"]
    status, _ = await call(
        http,
        emu,
        "answerCallbackQuery",
        callback_query_id=query["id"],
        text="Noted",
        show_alert=True,
    )
    assert status == 200
    assert await tap.answer(timeout=1) == {
        "text": "Noted",
        "show_alert": True,
        "url": None,
        "cache_time": 0,
    }
    status, body = await call(http, emu, "answerCallbackQuery", callback_query_id=query["id"])
    assert status == 400
    assert (
        body["description"]
        == "Bad Request: query is too old and response timeout expired or query ID is invalid"
    )
    forged = await user.tap_data("admin:delete_all", msg.message_id)
    assert forged.update["callback_query"]["data"] == "admin:delete_all"


async def test_get_updates_offset_long_poll_and_redeliver(
    emu: BotApiEmulator, http: aiohttp.ClientSession
) -> None:
    user = emu.user()
    started = time.monotonic()
    _, body = await call(http, emu, "getUpdates", timeout=1)
    assert body["result"] == []
    assert 0.8 <= time.monotonic() - started < 3

    poll = asyncio.create_task(call(http, emu, "getUpdates", timeout=5))
    await emu.wait_for_call("getUpdates", count=2)
    started = time.monotonic()
    await user.send_text("wake up")
    _, body = await poll
    assert time.monotonic() - started < 1
    first = body["result"][0]
    assert first["message"]["text"] == "wake up"

    await user.send_text("second")
    _, body = await call(http, emu, "getUpdates")  # unconfirmed updates are delivered again
    assert [u["update_id"] for u in body["result"]] == [first["update_id"], first["update_id"] + 1]
    _, body = await call(http, emu, "getUpdates", offset=first["update_id"] + 2)
    assert body["result"] == []

    emu.redeliver(first["update_id"])
    _, body = await call(http, emu, "getUpdates", offset=first["update_id"] + 2)
    assert [u["update_id"] for u in body["result"]] == [first["update_id"]]
    assert body["result"][0] == first
    _, body = await call(http, emu, "getUpdates", offset=first["update_id"] + 2)
    assert body["result"] == []

    pushed = emu.push_update({"message": {**first["message"], "text": "raw"}})
    assert pushed["update_id"] == first["update_id"] + 2
    _, body = await call(http, emu, "getUpdates", offset=0, limit=1)
    assert body["result"][0]["message"]["text"] == "raw"


async def test_fail_next_and_calls(emu: BotApiEmulator, http: aiohttp.ClientSession) -> None:
    user = await known_user(emu)
    other = await known_user(emu, first_name="Ben")
    emu.fail_next("sendMessage", retry_after=7, chat_id=user.id)
    status, body = await call(http, emu, "sendMessage", chat_id=other.id, text="fine")
    assert status == 200
    status, body = await call(http, emu, "sendMessage", chat_id=user.id, text="limited")
    assert status == 429
    assert body == {
        "ok": False,
        "error_code": 429,
        "description": "Too Many Requests: retry after 7",
        "parameters": {"retry_after": 7},
    }
    assert (await call(http, emu, "sendMessage", chat_id=user.id, text="ok now"))[0] == 200
    emu.fail_next("sendChatAction", error_code=500, count=2)
    assert (await call(http, emu, "sendChatAction", chat_id=user.id, action="typing"))[0] == 500
    assert (await call(http, emu, "sendChatAction", chat_id=user.id, action="typing"))[0] == 500
    assert (await call(http, emu, "sendChatAction", chat_id=user.id, action="typing"))[0] == 200
    assert [c.ok for c in emu.calls_of("sendMessage")] == [True, False, True]
    assert emu.calls_of("sendMessage")[1].params["text"] == "limited"


async def test_commands_scopes(emu: BotApiEmulator, http: aiohttp.ClientSession) -> None:
    user = await known_user(emu)
    cmds = [{"command": "start", "description": "Start"}]
    assert (await call(http, emu, "setMyCommands", commands=cmds))[0] == 200
    assert emu.commands_for(user.id) == cmds
    private = [{"command": "book", "description": "Book"}]
    await call(http, emu, "setMyCommands", commands=private, scope={"type": "all_private_chats"})
    assert emu.commands_for(user.id) == private
    mine = [{"command": "admin", "description": "Admin"}]
    await call(
        http, emu, "setMyCommands", commands=mine, scope={"type": "chat", "chat_id": user.id}
    )
    assert emu.commands_for(user.id) == mine
    assert emu.commands_for(424242) == private
    _, body = await call(http, emu, "getMyCommands", scope={"type": "chat", "chat_id": user.id})
    assert body["result"] == mine
    await call(http, emu, "deleteMyCommands", scope={"type": "chat", "chat_id": user.id})
    assert emu.commands_for(user.id) == private
    for bad in (
        {"command": "Bad-Name", "description": "x"},
        {"command": "x" * 33, "description": "x"},
    ):
        status, body = await call(http, emu, "setMyCommands", commands=[bad])
        assert status == 400 and body["description"] == "Bad Request: BOT_COMMAND_INVALID"
    status, body = await call(
        http, emu, "setMyCommands", commands=[{"command": "ok", "description": ""}]
    )
    assert status == 400


async def test_user_reply_keyboard_press_and_block(
    emu: BotApiEmulator, http: aiohttp.ClientSession
) -> None:
    user = await known_user(emu, first_name="Anna")
    keyboard = {
        "keyboard": [
            [{"text": "Share phone", "request_contact": True}],
            ["Help"],
            [{"text": "Where", "request_location": True}],
        ],
        "resize_keyboard": True,
        "one_time_keyboard": True,
        "is_persistent": True,
        "input_field_placeholder": "Choose",
    }
    status, body = await call(
        http, emu, "sendMessage", chat_id=user.id, text="kb", reply_markup=keyboard
    )
    assert status == 200 and "reply_markup" not in body["result"]
    assert user.reply_buttons() == ["Share phone", "Help", "Where"]
    contact = await user.press("Share phone")
    assert contact["contact"] == {
        "phone_number": user.phone,
        "first_name": "Anna",
        "user_id": user.id,
    }
    assert (await user.press("Help"))["text"] == "Help"
    assert "location" in await user.press("Where")
    with pytest.raises(AssertionError, match="Help"):
        await user.press("Nope")
    someone_else = await user.share_contact("+100", user_id=777, first_name="Bob")
    assert someone_else["contact"]["user_id"] == 777
    no_account = await user.share_contact("+200", user_id=None, first_name="Carl")
    assert "user_id" not in no_account["contact"]
    await call(
        http,
        emu,
        "sendMessage",
        chat_id=user.id,
        text="bye kb",
        reply_markup={"remove_keyboard": True},
    )
    assert user.reply_keyboard is None

    user.block()
    status, body = await call(http, emu, "sendMessage", chat_id=user.id, text="x")
    assert status == 403 and body["description"] == "Forbidden: bot was blocked by the user"
    user.unblock()
    assert (await call(http, emu, "sendMessage", chat_id=user.id, text="back"))[0] == 200
    _, body = await call(http, emu, "getUpdates")
    statuses = [
        u["my_chat_member"]["new_chat_member"]["status"]
        for u in body["result"]
        if "my_chat_member" in u
    ]
    assert statuses == ["kicked", "member"]


async def test_expect_helpers(emu: BotApiEmulator, http: aiohttp.ClientSession) -> None:
    user = await known_user(emu)

    async def bot_says_later(text: str) -> None:
        await emu.wait_for_call("getMe")
        await call(http, emu, "sendMessage", chat_id=user.id, text=text)

    task = asyncio.create_task(bot_says_later("Your appointment is confirmed"))
    await call(http, emu, "getMe")
    msg = await user.expect("confirmed", timeout=5)
    await task
    assert msg.text == "Your appointment is confirmed"
    await user.expect_nothing(within=0.2)
    await call(http, emu, "sendMessage", chat_id=user.id, text="one")
    await call(http, emu, "sendMessage", chat_id=user.id, text="two")
    assert [m.text for m in user.unread()] == ["one", "two"]
    assert (await user.expect("two")).text == "two"
    assert user.unread() == []
    with pytest.raises(AssertionError, match="last 5 bot messages"):
        await user.expect("never", timeout=0.2)
    await call(http, emu, "sendMessage", chat_id=user.id, text="surprise")
    with pytest.raises(AssertionError, match="surprise"):
        await user.expect_nothing(within=0.1)
    user.mark_all_read()
    assert user.unread() == []


async def test_user_media_and_copy(emu: BotApiEmulator, http: aiohttp.ClientSession) -> None:
    user = await known_user(emu)
    doctor = await known_user(emu, first_name="Dr", user_id=555)
    photo = await user.send_photo(b"JPEGBYTES", caption="rash")
    ids = [p["file_id"] for p in photo["photo"]]
    assert len(set(ids)) == len(ids) >= 2
    _, body = await call(http, emu, "getFile", file_id=ids[-1])
    async with http.get(f"{emu.base_url}/file/bot{TOKEN}/{body['result']['file_path']}") as resp:
        assert await resp.read() == b"JPEGBYTES"
    status, body = await call(
        http,
        emu,
        "copyMessage",
        chat_id=doctor.id,
        from_chat_id=user.id,
        message_id=photo["message_id"],
    )
    assert status == 200 and set(body["result"]) == {"message_id"}
    copied = doctor.messages[-1]
    assert copied["photo"] == photo["photo"] and copied["caption"] == "rash"
    assert "forward_origin" not in copied and copied["from"]["is_bot"]
    voice = await user.send_voice(b"OGG")
    doc = await user.send_document(b"PDF", "labs.pdf", "application/pdf")
    sticker = await user.send_sticker()
    for src in (voice, doc, sticker):
        status, body = await call(
            http,
            emu,
            "copyMessage",
            chat_id=doctor.id,
            from_chat_id=user.id,
            message_id=src["message_id"],
            caption="<b>from patient</b>",
            parse_mode="HTML",
        )
        assert status == 200, body
    assert doctor.messages[-2]["caption"] == "from patient"
    assert doctor.messages[-2]["document"]["file_name"] == "labs.pdf"
    status, body = await call(http, emu, "sendPhoto", chat_id=doctor.id, photo="nonsense")
    assert body["description"] == "Bad Request: wrong file identifier/HTTP URL specified"
    status, body = await call(
        http, emu, "sendPhoto", chat_id=doctor.id, photo=ids[0], caption="x" * 1025
    )
    assert body["description"] == "Bad Request: message caption is too long"
    status, body = await call(
        http, emu, "sendLocation", chat_id=doctor.id, latitude=52.5, longitude=13.4
    )
    assert body["result"]["location"] == {"latitude": 52.5, "longitude": 13.4}
    edited = await user.edit_text((await user.send_text("typo"))["message_id"], "fixed")
    _, body = await call(http, emu, "getUpdates")
    assert body["result"][-1]["edited_message"]["text"] == "fixed" == edited["text"]


async def test_api_error_type() -> None:
    err = ApiError(429, "Too Many Requests: retry after 3", retry_after=3)
    assert err.to_json()["parameters"] == {"retry_after": 3}


# ---------------------------------------------------------------------------------------
# python-telegram-bot as client
# ---------------------------------------------------------------------------------------
async def test_ptb_full_flow(emu: BotApiEmulator, ptb: Any) -> None:
    import telegram
    from telegram import (
        BotCommand,
        BotCommandScopeChat,
        InlineKeyboardButton,
        InlineKeyboardMarkup,
        KeyboardButton,
        ReplyKeyboardMarkup,
    )

    me = await ptb.get_me()
    assert me.id == 123456 and me.username == "clinic_test_bot" and me.is_bot
    user = emu.user(first_name="Anna", username="anna")

    poll = asyncio.create_task(ptb.get_updates(timeout=5))
    await emu.wait_for_call("getUpdates")
    await user.send_command("start", "ref42")
    updates = await poll
    assert updates[0].message.text == "/start ref42"
    assert updates[0].message.entities[0].type == "bot_command"
    assert updates[0].effective_user.username == "anna"
    offset = updates[-1].update_id + 1

    sent = await ptb.send_message(
        user.id,
        "<b>Welcome</b>, choose:",
        parse_mode="HTML",
        reply_markup=InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton("Book", callback_data="book"),
                    InlineKeyboardButton("Site", url="https://example.org"),
                ]
            ]
        ),
    )
    assert sent.text == "Welcome, choose:" and sent.from_user.id == me.id
    assert sent.reply_markup.inline_keyboard[0][0].callback_data == "book"
    assert (await user.expect("Welcome")).message_id == sent.message_id

    kb = ReplyKeyboardMarkup(
        [[KeyboardButton("Share my phone", request_contact=True)]],
        resize_keyboard=True,
        one_time_keyboard=True,
    )
    await ptb.send_message(
        user.id,
        "Need your phone",
        reply_markup=kb,
        reply_to_message_id=updates[0].message.message_id,
    )
    assert (await user.expect("phone"))["reply_to_message"]["text"] == "/start ref42"
    await user.press("Share my phone")
    updates = await ptb.get_updates(offset=offset, timeout=1)
    assert updates[0].message.contact.phone_number == user.phone
    assert updates[0].message.contact.user_id == user.id
    offset = updates[-1].update_id + 1

    edited = await ptb.edit_message_text("Booked!", chat_id=user.id, message_id=sent.message_id)
    assert edited.text == "Booked!" and edited.reply_markup is None
    with pytest.raises(telegram.error.BadRequest, match=r"(?i)not modified"):
        await ptb.edit_message_text("Booked!", chat_id=user.id, message_id=sent.message_id)

    menu = await ptb.send_message(
        user.id,
        "Menu",
        reply_markup=InlineKeyboardMarkup([[InlineKeyboardButton("Cancel", callback_data="c:1")]]),
    )
    tap = await user.tap("Cancel")
    updates = await ptb.get_updates(offset=offset, timeout=1)
    cq = updates[0].callback_query
    assert cq.data == "c:1" and cq.message.message_id == menu.message_id
    assert await ptb.answer_callback_query(cq.id, text="Cancelled")
    assert (await tap.answer())["text"] == "Cancelled"
    offset = updates[-1].update_id + 1

    doc_msg = await ptb.send_document(
        user.id, document=b"%PDF report", filename="report.pdf", caption="Your report"
    )
    assert doc_msg.document.file_name == "report.pdf"
    assert (await user.expect_document())["caption"] == "Your report"
    tg_file = await ptb.get_file(doc_msg.document.file_id)
    assert tg_file.file_path.startswith(f"{emu.base_url}/file/bot{TOKEN}/")
    assert bytes(await tg_file.download_as_bytearray()) == b"%PDF report"

    doctor = emu.user(first_name="Dr House")
    await doctor.send_text("/start")
    photo = await user.send_photo(b"IMG", caption="look")
    copied = await ptb.copy_message(doctor.id, from_chat_id=user.id, message_id=photo["message_id"])
    assert copied.message_id == doctor.messages[-1].message_id
    assert doctor.messages[-1]["caption"] == "look" and "forward_origin" not in doctor.messages[-1]

    await ptb.set_my_commands(
        [BotCommand("cancel", "Cancel booking")], scope=BotCommandScopeChat(user.id)
    )
    await ptb.set_my_commands([BotCommand("start", "Start")])
    assert emu.commands_for(user.id) == [{"command": "cancel", "description": "Cancel booking"}]
    assert emu.commands_for(doctor.id) == [{"command": "start", "description": "Start"}]
    assert [c.command for c in await ptb.get_my_commands(scope=BotCommandScopeChat(user.id))] == [
        "cancel"
    ]

    user.block()
    with pytest.raises(telegram.error.Forbidden, match=r"(?i)blocked"):
        await ptb.send_message(user.id, "hello?")

    emu.fail_next("sendMessage", retry_after=5)
    with pytest.raises(telegram.error.RetryAfter) as exc_info:
        await ptb.send_message(doctor.id, "flood")
    with warnings.catch_warnings():  # PTB 22 warns that retry_after becomes a timedelta
        warnings.simplefilter("ignore")
        retry = exc_info.value.retry_after
    assert retry in (5, dtm.timedelta(seconds=5))

    with pytest.raises(telegram.error.BadRequest, match=r"(?i)chat not found"):
        await ptb.send_message(987654321, "nobody")


async def test_ptb_long_poll_timeout_and_media(emu: BotApiEmulator, ptb: Any) -> None:
    from telegram import InputMediaDocument

    started = time.monotonic()
    assert await ptb.get_updates(timeout=1) == ()
    assert time.monotonic() - started < 2.5
    user = emu.user()
    await user.send_text("hi")
    updates = await ptb.get_updates()
    assert len(updates) == 1
    emu.redeliver(updates[0].update_id)
    again = await ptb.get_updates(offset=updates[0].update_id + 1)
    assert [u.update_id for u in again] == [updates[0].update_id]
    photo = await ptb.send_photo(user.id, photo=b"\x89PNG fake", caption="x")
    assert len(photo.photo) >= 2
    same = await ptb.send_photo(user.id, photo=photo.photo[-1].file_id)
    assert same.photo[-1].file_id == photo.photo[-1].file_id
    voice = await ptb.send_voice(user.id, voice=b"OGG")
    assert voice.voice.file_id
    await ptb.send_chat_action(user.id, "typing")
    loc = await ptb.send_location(user.id, latitude=52.5, longitude=13.4)
    assert loc.location.latitude == pytest.approx(52.5)
    group = await ptb.send_media_group(
        user.id,
        [
            InputMediaDocument(b"A", filename="a.txt"),
            InputMediaDocument(b"B", filename="b.txt"),
        ],
    )
    assert [emu.file_bytes(m.document.file_id) for m in group] == [b"A", b"B"]
    assert await ptb.delete_message(user.id, group[0].message_id)


# ---------------------------------------------------------------------------------------
# aiogram as client
# ---------------------------------------------------------------------------------------
async def test_aiogram_flow(emu: BotApiEmulator, aio: Any) -> None:
    from aiogram.exceptions import (
        TelegramBadRequest,
        TelegramForbiddenError,
        TelegramRetryAfter,
    )
    from aiogram.types import (
        BufferedInputFile,
        InlineKeyboardButton,
        InlineKeyboardMarkup,
    )

    me = await aio.get_me()
    assert me.id == 123456 and me.username == "clinic_test_bot"
    user = emu.user(first_name="Olga")
    await user.send_text("hello")
    updates = await aio.get_updates(timeout=1)
    assert updates[0].message.text == "hello"

    markup = InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="Confirm", callback_data="ok:1")]]
    )
    msg = await aio.send_message(user.id, "<i>Confirm?</i>", parse_mode="HTML", reply_markup=markup)
    assert msg.text == "Confirm?" and msg.reply_markup.inline_keyboard[0][0].callback_data == "ok:1"
    tap = await user.tap("Confirm")
    updates = await aio.get_updates(offset=updates[-1].update_id + 1, timeout=1)
    assert updates[0].callback_query.data == "ok:1"
    await aio.answer_callback_query(updates[0].callback_query.id, text="Done", show_alert=True)
    assert (await tap.answer())["show_alert"] is True

    doc = await aio.send_document(
        user.id, BufferedInputFile(b"CSVDATA", filename="export.csv"), caption="export"
    )
    assert doc.document.file_name == "export.csv"
    assert emu.file_bytes(doc.document.file_id) == b"CSVDATA"
    file = await aio.get_file(doc.document.file_id)
    downloaded = await aio.download_file(file.file_path)
    assert downloaded.read() == b"CSVDATA"

    with pytest.raises(TelegramBadRequest, match="message text is empty"):
        await aio.send_message(user.id, "")
    emu.fail_next("sendMessage", retry_after=2)
    with pytest.raises(TelegramRetryAfter) as exc_info:
        await aio.send_message(user.id, "x")
    assert exc_info.value.retry_after == 2
    user.block()
    with pytest.raises(TelegramForbiddenError):
        await aio.send_message(user.id, "x")


# ---------------------------------------------------------------------------------------
# full frameworks polling against the emulator
# ---------------------------------------------------------------------------------------
async def test_ptb_application_polling(emu: BotApiEmulator) -> None:
    from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
    from telegram.ext import ApplicationBuilder, CallbackQueryHandler, CommandHandler, ContextTypes

    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        button = InlineKeyboardButton("Ping", callback_data="ping")
        await update.effective_message.reply_html(
            f"Hello <b>{context.args[0] if context.args else 'you'}</b>",
            reply_markup=InlineKeyboardMarkup([[button]]),
        )

    async def on_tap(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None
        await query.answer("pong")
        await query.edit_message_text("Ponged")

    app = (
        ApplicationBuilder()
        .token(TOKEN)
        .base_url(f"{emu.base_url}/bot")
        .base_file_url(f"{emu.base_url}/file/bot")
        .build()
    )
    app.add_handler(CommandHandler("start", start))
    app.add_handler(CallbackQueryHandler(on_tap))
    user = emu.user(first_name="Eve")
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0, timeout=1)
        try:
            await user.send_command("start", "Eve")
            msg = await user.expect("Hello Eve")
            tap = await user.tap("Ping")
            assert (await tap.answer())["text"] == "pong"
            assert (await user.expect_edit(msg.message_id)).text == "Ponged"
        finally:
            await app.updater.stop()
            await app.stop()


async def test_aiogram_dispatcher_polling(emu: BotApiEmulator, aio: Any) -> None:
    from aiogram import Dispatcher, F
    from aiogram.filters import CommandStart
    from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message

    dp = Dispatcher()

    @dp.message(CommandStart())
    async def start(message: Message) -> None:
        markup = InlineKeyboardMarkup(
            inline_keyboard=[[InlineKeyboardButton(text="Ping", callback_data="ping")]]
        )
        await message.answer("Hello from aiogram", reply_markup=markup)

    @dp.callback_query(F.data == "ping")
    async def on_tap(query: CallbackQuery) -> None:
        await query.answer("pong")

    user = emu.user(first_name="Fay")
    task = asyncio.create_task(
        dp.start_polling(aio, handle_signals=False, close_bot_session=False, polling_timeout=1)
    )
    try:
        await user.send_command("start")
        await user.expect("Hello from aiogram")
        tap = await user.tap("Ping")
        assert (await tap.answer())["text"] == "pong"
    finally:
        await dp.stop_polling()
        await asyncio.wait_for(task, 5)
