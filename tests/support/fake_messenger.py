"""An in-memory Messenger that records what the core sent, for handler tests without network."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from handlers.events import (
    Attachment,
    Event,
    EventKind,
    PreCheckout,
    Sender,
    SharedContact,
    SuccessfulPayment,
    split_command,
)
from handlers.port import (
    BotCommand,
    Document,
    InlineKeyboard,
    Invoice,
    Markup,
    MessageNotModified,
    SentMessage,
    TransportError,
)


@dataclass
class Sent:
    chat_id: int
    message_id: int
    text: str
    markup: Markup | None = None
    edits: list[str] = field(default_factory=list)
    reply_to: int | None = None


class FakeMessenger:
    def __init__(self) -> None:
        self.sent: list[Sent] = []
        self.answers: dict[str, tuple[str | None, bool]] = {}
        self.commands: dict[int, list[BotCommand]] = {}
        self.deleted: list[tuple[int, int]] = []
        self.failures: list[TransportError] = []
        self.files_sent: list[tuple[int, str, str, str | None]] = []
        self.invoices: list[tuple[int, Invoice]] = []
        self.documents: list[tuple[int, Document]] = []
        self.pre_checkout_answers: dict[str, tuple[bool, str | None]] = {}
        self.star_refunds: list[tuple[int, str]] = []
        self.photos_sent: list[tuple[int, Document, str | None]] = []
        self.calls = 0
        self._ids = itertools.count(1)

    def _maybe_fail(self) -> None:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)

    async def send_text(
        self, chat_id: int, text: str, markup: Markup | None = None, reply_to: int | None = None
    ) -> SentMessage:
        self._maybe_fail()
        message = Sent(chat_id, next(self._ids), text, markup)
        message.reply_to = reply_to
        self.sent.append(message)
        return SentMessage(chat_id, message.message_id)

    async def edit_text(
        self, chat_id: int, message_id: int, text: str, markup: InlineKeyboard | None = None
    ) -> None:
        self._maybe_fail()
        message = next(m for m in self.sent if m.message_id == message_id)
        if message.text == text and message.markup == markup:
            raise MessageNotModified("message is not modified")
        message.text, message.markup = text, markup
        message.edits.append(text)

    async def edit_markup(
        self, chat_id: int, message_id: int, markup: InlineKeyboard | None
    ) -> None:
        self._maybe_fail()
        next(m for m in self.sent if m.message_id == message_id).markup = markup

    async def edit_caption(self, chat_id: int, message_id: int, caption: str) -> None:
        self._maybe_fail()
        message = next(m for m in self.sent if m.message_id == message_id)
        message.text = caption
        message.edits.append(caption)

    async def answer_callback(
        self, callback_id: str, text: str | None = None, alert: bool = False
    ) -> None:
        self._maybe_fail()
        self.answers[callback_id] = (text, alert)

    async def delete_message(self, chat_id: int, message_id: int) -> None:
        self._maybe_fail()
        self.deleted.append((chat_id, message_id))

    async def copy_message(
        self,
        chat_id: int,
        from_chat_id: int,
        message_id: int,
        caption: str | None = None,
        reply_to: int | None = None,
    ) -> SentMessage:
        self._maybe_fail()
        message = Sent(chat_id, next(self._ids), f"(copy of {from_chat_id}:{message_id})")
        message.reply_to = reply_to
        self.sent.append(message)
        return SentMessage(chat_id, message.message_id)

    async def copy_messages(
        self, chat_id: int, from_chat_id: int, message_ids: list[int]
    ) -> list[SentMessage]:
        return [await self.copy_message(chat_id, from_chat_id, m) for m in message_ids]

    async def send_document(
        self, chat_id: int, document: Document, caption: str | None = None
    ) -> SentMessage:
        self.documents.append((chat_id, document))
        return await self.send_text(chat_id, caption or document.filename)

    async def send_photo(
        self, chat_id: int, photo: Document, caption: str | None = None
    ) -> SentMessage:
        self.photos_sent.append((chat_id, photo, caption))
        return await self.send_text(chat_id, caption or photo.filename)

    async def send_document_by_id(
        self, chat_id: int, file_id: str, caption: str | None = None, kind: str = "document"
    ) -> SentMessage:
        self.files_sent.append((chat_id, kind, file_id, caption))
        return await self.send_text(chat_id, caption or f"({kind} {file_id})")

    async def send_chat_action(self, chat_id: int, action: str) -> None:
        self._maybe_fail()

    async def set_chat_commands(self, chat_id: int, commands: list[BotCommand]) -> None:
        self._maybe_fail()
        self.commands[chat_id] = commands

    async def bot_username(self) -> str:
        return "clinic_test_bot"

    async def download(self, file_id: str) -> bytes:
        self._maybe_fail()
        return f"bytes of {file_id}".encode()

    async def send_invoice(self, chat_id: int, invoice: Invoice) -> SentMessage:
        self._maybe_fail()
        self.invoices.append((chat_id, invoice))
        return await self.send_text(chat_id, f"(invoice {invoice.title}: {invoice.amount})")

    async def answer_pre_checkout_query(
        self, query_id: str, ok: bool, error_message: str | None = None
    ) -> None:
        self._maybe_fail()
        self.pre_checkout_answers[query_id] = (ok, error_message)

    async def refund_star_payment(self, user_id: int, telegram_charge_id: str) -> None:
        self._maybe_fail()
        self.star_refunds.append((user_id, telegram_charge_id))

    def texts_to(self, chat_id: int) -> list[str]:
        return [m.text for m in self.sent if m.chat_id == chat_id]

    def last_to(self, chat_id: int) -> Sent:
        return [m for m in self.sent if m.chat_id == chat_id][-1]

    def button_data(self, chat_id: int, label: str) -> tuple[int, str]:
        """(message id, callback data) of the newest button with that label in the chat."""
        for message in reversed([m for m in self.sent if m.chat_id == chat_id]):
            if isinstance(message.markup, InlineKeyboard):
                for row in message.markup.rows:
                    for button in row:
                        if button.text == label and button.callback_data:
                            return message.message_id, button.callback_data
        raise AssertionError(f"no button {label!r} in chat {chat_id}")


class EventFactory:
    """Builds events as a user would cause them, with increasing update ids."""

    def __init__(self) -> None:
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(10_000)

    def text(
        self, user_id: int, text: str, language: str = "en", reply_to: int | None = None
    ) -> Event:
        command, args = split_command(text, "clinic_test_bot")
        return Event(
            update_id=next(self._update_ids),
            kind=EventKind.MESSAGE,
            sender=Sender(user_id, "Test", language_code=language),
            chat_id=user_id,
            message_id=next(self._message_ids),
            text=text,
            command=command,
            command_args=args,
            reply_to_message_id=reply_to,
        )

    def edited(self, user_id: int, message_id: int, text: str) -> Event:
        return Event(
            update_id=next(self._update_ids),
            kind=EventKind.EDITED_MESSAGE,
            sender=Sender(user_id, "Test"),
            chat_id=user_id,
            message_id=message_id,
            text=text,
        )

    def callback(self, user_id: int, message_id: int, data: str) -> Event:
        update_id = next(self._update_ids)
        return Event(
            update_id=update_id,
            kind=EventKind.CALLBACK,
            sender=Sender(user_id, "Test"),
            chat_id=user_id,
            message_id=message_id,
            callback_id=f"cb{update_id}",
            callback_data=data,
        )

    def contact(self, user_id: int, phone: str, owner: int | None) -> Event:
        return Event(
            update_id=next(self._update_ids),
            kind=EventKind.MESSAGE,
            sender=Sender(user_id, "Test"),
            chat_id=user_id,
            message_id=next(self._message_ids),
            contact=SharedContact(phone, owner, "Test"),
        )

    def photo(self, user_id: int) -> Event:
        return Event(
            update_id=next(self._update_ids),
            kind=EventKind.MESSAGE,
            sender=Sender(user_id, "Test"),
            chat_id=user_id,
            message_id=next(self._message_ids),
            attachments=(Attachment("photo", "photo-file-id", "u1"),),
        )

    def pre_checkout(self, user_id: int, payload: str, amount: int, currency: str = "XTR") -> Event:
        update_id = next(self._update_ids)
        return Event(
            update_id=update_id,
            kind=EventKind.PRE_CHECKOUT,
            sender=Sender(user_id, "Test"),
            chat_id=user_id,
            pre_checkout=PreCheckout(f"pc{update_id}", currency, amount, payload),
        )

    def paid(
        self,
        user_id: int,
        payload: str,
        amount: int,
        charge: str,
        currency: str = "XTR",
        provider_charge: str = "",
    ) -> Event:
        return Event(
            update_id=next(self._update_ids),
            kind=EventKind.MESSAGE,
            sender=Sender(user_id, "Test"),
            chat_id=user_id,
            message_id=next(self._message_ids),
            payment=SuccessfulPayment(currency, amount, payload, charge, provider_charge),
        )
