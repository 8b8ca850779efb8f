"""The project's own incoming event: what the adapters translate every framework update into."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class EventKind(StrEnum):
    MESSAGE = "message"
    EDITED_MESSAGE = "edited_message"
    CALLBACK = "callback"
    BLOCKED = "blocked"  # the user stopped or blocked the bot
    UNBLOCKED = "unblocked"
    PRE_CHECKOUT = "pre_checkout"  # Telegram asks whether to accept a payment (answer in 10 s)


@dataclass(frozen=True, slots=True)
class Sender:
    id: int
    first_name: str = ""
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = None


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file the user sent: photo, document, voice, audio, video, video_note, sticker."""

    kind: str
    file_id: str
    file_unique_id: str = ""
    file_name: str | None = None
    mime_type: str | None = None
    file_size: int | None = None


@dataclass(frozen=True, slots=True)
class SharedContact:
    phone_number: str
    user_id: int | None
    first_name: str = ""


@dataclass(frozen=True, slots=True)
class SharedLocation:
    latitude: float
    longitude: float


@dataclass(frozen=True, slots=True)
class PreCheckout:
    id: str
    currency: str
    total_amount: int
    invoice_payload: str


@dataclass(frozen=True, slots=True)
class SuccessfulPayment:
    currency: str
    total_amount: int
    invoice_payload: str
    telegram_charge_id: str
    provider_charge_id: str = ""


@dataclass(frozen=True, slots=True)
class Event:
    update_id: int
    kind: EventKind
    sender: Sender
    chat_id: int
    message_id: int | None = None
    text: str | None = None
    caption: str | None = None
    command: str | None = None  # without the slash and without @botname
    command_args: str = ""
    callback_id: str | None = None
    callback_data: str | None = None
    contact: SharedContact | None = None
    location: SharedLocation | None = None
    attachments: tuple[Attachment, ...] = field(default_factory=tuple)
    reply_to_message_id: int | None = None
    media_group_id: str | None = None
    pre_checkout: PreCheckout | None = None  # with kind PRE_CHECKOUT
    payment: SuccessfulPayment | None = None  # a message carrying a successful payment

    @property
    def user_id(self) -> int:
        return self.sender.id


def split_command(text: str, bot_username: str | None = None) -> tuple[str | None, str]:
    """('start', 'payload') for '/start payload'; (None, '') for anything else."""
    if not text.startswith("/"):
        return None, ""
    head, _, rest = text.partition(" ")
    name, _, addressee = head[1:].partition("@")
    if not name or (addressee and bot_username and addressee.lower() != bot_username.lower()):
        return None, ""
    return name.lower(), rest.strip()
