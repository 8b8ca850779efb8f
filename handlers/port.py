"""The Telegram port: outgoing actions and the errors a transport may raise.

Adapters implement `Messenger`; everything else speaks only these types. Texts are HTML
(Telegram's parse mode), so user text must be escaped before it is put into one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True, slots=True)
class InlineButton:
    text: str
    callback_data: str | None = None
    url: str | None = None


@dataclass(frozen=True, slots=True)
class InlineKeyboard:
    rows: tuple[tuple[InlineButton, ...], ...]


@dataclass(frozen=True, slots=True)
class ReplyButton:
    text: str
    request_contact: bool = False
    request_location: bool = False


@dataclass(frozen=True, slots=True)
class ReplyKeyboard:
    rows: tuple[tuple[ReplyButton, ...], ...]
    one_time: bool = True
    placeholder: str | None = None


@dataclass(frozen=True, slots=True)
class RemoveKeyboard:
    pass


Markup = InlineKeyboard | ReplyKeyboard | RemoveKeyboard


@dataclass(frozen=True, slots=True)
class SentMessage:
    chat_id: int
    message_id: int


@dataclass(frozen=True, slots=True)
class BotCommand:
    command: str
    description: str


@dataclass(frozen=True, slots=True)
class Document:
    filename: str
    data: bytes = field(repr=False)
    mime_type: str = "application/octet-stream"


@dataclass(frozen=True, slots=True)
class Invoice:
    """A Telegram invoice: one price. Texts are plain (not HTML); `amount` is in the
    currency's smallest unit (Stars: whole stars). No provider token for currency XTR."""

    title: str
    description: str
    payload: str
    currency: str
    amount: int
    label: str
    provider_token: str = ""


class TransportError(Exception):
    """A send failed for a reason the Bot API reported."""


class RetryLater(TransportError):
    """429: Telegram asks us to wait `seconds` before the next call."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"retry after {seconds}s")
        self.seconds = seconds


class RecipientUnavailable(TransportError):
    """403: the user blocked the bot or deleted the account; never retry."""


class MessageNotModified(TransportError):
    """An edit to identical content: the message already shows what we wanted."""


class BadRequest(TransportError):
    """400 for any other reason (a gone message, a bad callback id...)."""


class Messenger(Protocol):
    async def send_text(
        self,
        chat_id: int,
        text: str,
        markup: Markup | None = None,
        reply_to: int | None = None,
    ) -> SentMessage: ...

    async def edit_text(
        self, chat_id: int, message_id: int, text: str, markup: InlineKeyboard | None = None
    ) -> None: ...

    async def edit_markup(
        self, chat_id: int, message_id: int, markup: InlineKeyboard | None
    ) -> None: ...

    async def edit_caption(self, chat_id: int, message_id: int, caption: str) -> None: ...

    async def answer_callback(
        self, callback_id: str, text: str | None = None, alert: bool = False
    ) -> None: ...

    async def delete_message(self, chat_id: int, message_id: int) -> None: ...

    async def copy_message(
        self,
        chat_id: int,
        from_chat_id: int,
        message_id: int,
        caption: str | None = None,
        reply_to: int | None = None,
    ) -> SentMessage: ...

    async def copy_messages(
        self, chat_id: int, from_chat_id: int, message_ids: list[int]
    ) -> list[SentMessage]: ...

    async def send_document(
        self, chat_id: int, document: Document, caption: str | None = None
    ) -> SentMessage: ...

    async def send_photo(
        self, chat_id: int, photo: Document, caption: str | None = None
    ) -> SentMessage:
        """Upload a picture the bot made (a chart, PNG bytes) and show it as a photo."""
        ...

    async def send_document_by_id(
        self, chat_id: int, file_id: str, caption: str | None = None, kind: str = "document"
    ) -> SentMessage:
        """Send again a file Telegram already holds (kind "photo" or "document")."""
        ...

    async def send_chat_action(self, chat_id: int, action: str) -> None: ...

    async def set_chat_commands(self, chat_id: int, commands: list[BotCommand]) -> None: ...

    async def bot_username(self) -> str: ...

    async def download(self, file_id: str) -> bytes: ...

    async def send_invoice(self, chat_id: int, invoice: Invoice) -> SentMessage: ...

    async def answer_pre_checkout_query(
        self, query_id: str, ok: bool, error_message: str | None = None
    ) -> None: ...

    async def refund_star_payment(self, user_id: int, telegram_charge_id: str) -> None: ...
