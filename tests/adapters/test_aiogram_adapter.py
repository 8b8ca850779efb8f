"""The aiogram adapter turns each Bot API update into the very event the PTB adapter makes.

Both adapters read the same JSON (as Telegram would send it); the core only ever sees the event,
so equal events mean one flow behaves the same on both frameworks.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import telegram
from aiogram import types
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
)
from aiogram.methods import SendMessage
from telegram import error

from bot import aiogram_adapter, ptb_adapter
from handlers.events import Event, EventKind, PreCheckout, SuccessfulPayment
from handlers.port import (
    BadRequest,
    MessageNotModified,
    RecipientUnavailable,
    RetryLater,
    TransportError,
)

BOT = "clinic_test_bot"
USER: dict[str, Any] = {
    "id": 1001,
    "is_bot": False,
    "first_name": "Anna",
    "last_name": "Berg",
    "username": "anna_b",
    "language_code": "de",
}
CHAT: dict[str, Any] = {"id": 1001, "type": "private", "first_name": "Anna"}
BOT_USER: dict[str, Any] = {"id": 42, "is_bot": True, "first_name": "Clinic", "username": BOT}


def message(**content: Any) -> dict[str, Any]:
    return {"message_id": 7, "date": 1_700_000_000, "chat": CHAT, "from": USER, **content}


def command(text: str) -> dict[str, Any]:
    length = len(text.split()[0])
    return message(text=text, entities=[{"type": "bot_command", "offset": 0, "length": length}])


def member_update(old: str, new: str, chat: dict[str, Any] = CHAT) -> dict[str, Any]:
    kicked = {"until_date": 0}
    return {
        "chat": chat,
        "from": USER,
        "date": 1_700_000_000,
        "old_chat_member": {"user": BOT_USER, "status": old, **(kicked if old == "kicked" else {})},
        "new_chat_member": {"user": BOT_USER, "status": new, **(kicked if new == "kicked" else {})},
    }


PHOTO = [
    {"file_id": "p-small", "file_unique_id": "u-small", "width": 90, "height": 90, "file_size": 9},
    {"file_id": "p-big", "file_unique_id": "u-big", "width": 800, "height": 800, "file_size": 99},
]
DOCUMENT = {
    "file_id": "d1",
    "file_unique_id": "du1",
    "file_name": "scan.pdf",
    "mime_type": "application/pdf",
    "file_size": 1234,
}

# (name, update JSON without update_id, what the event must say)
CASES: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("text", {"message": message(text="Anna Berg")}, {"text": "Anna Berg"}),
    (
        "command addressed to this bot",
        {"message": command(f"/start@{BOT} payload")},
        {"command": "start", "command_args": "payload"},
    ),
    (
        "command addressed to another bot",
        {"message": command("/start@other_bot")},
        {"command": None},
    ),
    (
        "callback",
        {
            "callback_query": {
                "id": "cb-1",
                "from": USER,
                "chat_instance": "-1",
                "data": "reg:tok:consent:yes",
                "message": {**message(text="Consent?"), "from": BOT_USER},
            }
        },
        {"kind": EventKind.CALLBACK, "callback_data": "reg:tok:consent:yes", "message_id": 7},
    ),
    (
        "callback on an inaccessible message",
        {
            "callback_query": {
                "id": "cb-2",
                "from": USER,
                "chat_instance": "-1",
                "data": "x",
                "message": {"chat": CHAT, "message_id": 3, "date": 0},
            }
        },
        {"kind": EventKind.CALLBACK, "message_id": 3},
    ),
    (
        "own contact",
        {
            "message": message(
                contact={"phone_number": "+4915100000001", "first_name": "Anna", "user_id": 1001}
            )
        },
        {"contact": ("+4915100000001", 1001)},
    ),
    ("location", {"message": message(location={"latitude": 52.5, "longitude": 13.4})}, {}),
    (
        "photo with caption, in an album, replying",
        {
            "message": message(
                photo=PHOTO,
                caption="this is me",
                media_group_id="album-1",
                reply_to_message={**message(text="earlier"), "message_id": 5},
            )
        },
        {"attachments": ("photo", "p-big"), "caption": "this is me", "reply_to_message_id": 5},
    ),
    ("document", {"message": message(document=DOCUMENT)}, {"attachments": ("document", "d1")}),
    (
        "voice",
        {
            "message": message(
                voice={"file_id": "v1", "file_unique_id": "vu1", "duration": 3, "mime_type": "a/o"}
            )
        },
        {"attachments": ("voice", "v1")},
    ),
    (
        "pre-checkout query",
        {
            "pre_checkout_query": {
                "id": "pcq-1",
                "from": USER,
                "currency": "XTR",
                "total_amount": 250,
                "invoice_payload": "pay-1",
            }
        },
        {
            "kind": EventKind.PRE_CHECKOUT,
            "pre_checkout": PreCheckout("pcq-1", "XTR", 250, "pay-1"),
            "message_id": None,
        },
    ),
    (
        "successful payment in Stars",
        {
            "message": message(
                successful_payment={
                    "currency": "XTR",
                    "total_amount": 250,
                    "invoice_payload": "pay-1",
                    "telegram_payment_charge_id": "stx-1",
                    "provider_payment_charge_id": "",
                }
            )
        },
        {"payment": SuccessfulPayment("XTR", 250, "pay-1", "stx-1", ""), "text": None},
    ),
    (
        "successful card payment",
        {
            "message": message(
                successful_payment={
                    "currency": "EUR",
                    "total_amount": 4990,
                    "invoice_payload": "pay-2",
                    "telegram_payment_charge_id": "tg-2",
                    "provider_payment_charge_id": "prov-2",
                }
            )
        },
        {"payment": SuccessfulPayment("EUR", 4990, "pay-2", "tg-2", "prov-2")},
    ),
    (
        "edited message",
        {"edited_message": {**message(text="Anna Berg-Lind"), "edit_date": 1_700_000_100}},
        {"kind": EventKind.EDITED_MESSAGE, "text": "Anna Berg-Lind"},
    ),
    (
        "blocked in a private chat",
        {"my_chat_member": member_update("member", "kicked")},
        {"kind": EventKind.BLOCKED},
    ),
    (
        "unblocked in a private chat",
        {"my_chat_member": member_update("kicked", "member")},
        {"kind": EventKind.UNBLOCKED},
    ),
    (
        "removed from a group: ignored",
        {
            "my_chat_member": member_update(
                "member", "left", {"id": -5, "type": "group", "title": "g"}
            )
        },
        {"ignored": True},
    ),
    (
        "channel post: ignored",
        {
            "channel_post": {
                "message_id": 1,
                "date": 0,
                "chat": {"id": -100, "type": "channel", "title": "c"},
                "text": "news",
            }
        },
        {"ignored": True},
    ),
]


def both(update: dict[str, Any]) -> tuple[Event | None, Event | None]:
    ptb = ptb_adapter.to_event(telegram.Update.de_json(update, None), BOT)  # type: ignore[arg-type]
    aio = aiogram_adapter.to_event(types.Update.model_validate(update), BOT)
    return ptb, aio


@pytest.mark.parametrize(("update", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_both_adapters_make_the_same_event(
    update: dict[str, Any], expected: dict[str, Any]
) -> None:
    ptb, aio = both({"update_id": 500, **update})
    assert aio == ptb
    if expected.get("ignored"):
        assert aio is None
        return
    assert aio is not None
    # Equal is not enough if both were wrong in the same way: check what matters per case.
    assert (aio.update_id, aio.user_id, aio.chat_id) == (500, 1001, 1001)
    assert aio.sender.language_code == "de"
    for field, value in expected.items():
        if field == "attachments":
            assert (aio.attachments[0].kind, aio.attachments[0].file_id) == value
        elif field == "contact":
            assert aio.contact is not None
            assert (aio.contact.phone_number, aio.contact.user_id) == value
        else:
            assert getattr(aio, field) == value


def test_every_attachment_kind_agrees() -> None:
    media = {"file_id": "f", "file_unique_id": "fu", "file_size": 10}
    update = {
        "update_id": 501,
        "message": message(
            audio={**media, "duration": 1, "file_name": "a.mp3", "mime_type": "audio/mpeg"},
            video={**media, "width": 1, "height": 1, "duration": 1},
            video_note={**media, "length": 1, "duration": 1},
            sticker={
                **media,
                "type": "regular",
                "width": 1,
                "height": 1,
                "is_animated": False,
                "is_video": False,
            },
            animation={**media, "width": 1, "height": 1, "duration": 1, "file_name": "g.mp4"},
            document={**DOCUMENT, "file_id": "f"},
        ),
    }
    ptb, aio = both(update)
    assert aio == ptb
    assert aio is not None
    kinds = [a.kind for a in aio.attachments]
    assert kinds == ["document", "audio", "video", "video_note", "sticker", "animation"]


SEND = SendMessage(chat_id=1, text="hi")


@pytest.mark.parametrize(
    ("aiogram_error", "ptb_error", "port_error"),
    [
        (
            TelegramRetryAfter(SEND, "Too Many Requests: retry after 3", 3),
            error.RetryAfter(timedelta(seconds=3)),
            RetryLater,
        ),
        (
            TelegramForbiddenError(SEND, "Forbidden: bot was blocked by the user"),
            error.Forbidden("Forbidden: bot was blocked by the user"),
            RecipientUnavailable,
        ),
        (
            TelegramBadRequest(SEND, "Bad Request: message is not modified: same content"),
            error.BadRequest("Bad Request: message is not modified: same content"),
            MessageNotModified,
        ),
        (
            TelegramBadRequest(SEND, "Bad Request: chat not found"),
            error.BadRequest("Bad Request: chat not found"),
            BadRequest,
        ),
        (
            TelegramNetworkError(SEND, "Request timeout error"),
            error.TimedOut("Request timeout error"),
            TransportError,
        ),
    ],
    ids=["429", "403", "not-modified", "400", "network"],
)
def test_both_adapters_translate_errors_alike(
    aiogram_error: Exception, ptb_error: Exception, port_error: type[TransportError]
) -> None:
    caught: list[TransportError] = []
    for translated, raised in (
        (aiogram_adapter._translated_errors, aiogram_error),
        (ptb_adapter._translated_errors, ptb_error),
    ):
        with pytest.raises(port_error) as info, translated():
            raise raised
        assert type(info.value) is port_error
        caught.append(info.value)
    aio, ptb = caught
    if isinstance(aio, RetryLater) and isinstance(ptb, RetryLater):
        assert aio.seconds == ptb.seconds == 3.0
    elif port_error is not TransportError:  # a bare TransportError names the library's class
        assert str(aio) == str(ptb)
