"""One turn: an event, the database unit of work, and the replies to send after commit.

Flows never send directly: they queue actions on the turn, the dispatcher commits the
transaction and only then sends, so no network call happens inside a database transaction and
nothing is announced that was not saved.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from clinic.retention import DEFAULT_KEEP
from handlers.events import Event
from handlers.i18n import Translator
from handlers.port import BotCommand, Document, InlineKeyboard, Invoice, Markup
from storage.models import Conversation, User
from storage.unit_of_work import UnitOfWork


@dataclass(frozen=True)
class CoreConfig:
    admin_ids: frozenset[int]
    default_timezone: str
    bot_username: str = "clinic_bot"
    currency: str = "EUR"
    cancel_cutoff: timedelta = timedelta(hours=1)
    video_base_url: str = "https://meet.jit.si"
    clinic_name: str = "Telemedicine Clinic"
    # /delete_me keeps these (clinic.retention.ITEMS), detached from the patient's name.
    retention_keep: frozenset[str] = frozenset(DEFAULT_KEEP)
    # Relayed chats of consultations closed longer ago are purged (jobs/chat_purge.py); 0 = never.
    chat_log_retention_days: int = 365
    session_idle: timedelta = timedelta(minutes=10)  # an unlocked PIN session locks after this
    incoming_per_minute: int = 20  # per user; 0 = no limit
    # Payments (handlers/payments.py): off unless currency XTR (Stars) or a provider token.
    payment_provider_token: str = field(default="", repr=False)
    hold_for: timedelta = timedelta(minutes=15)  # a paid slot is held this long for payment
    refund_full_before: timedelta = timedelta(hours=24)
    late_cancel_refund_percent: int = 0


@dataclass(frozen=True)
class Reply:
    text: str
    markup: Markup | None = None
    reply_to: int | None = None  # a message in the same chat this one answers


@dataclass(frozen=True)
class Edit:
    message_id: int
    text: str
    markup: InlineKeyboard | None = None


@dataclass(frozen=True)
class Answer:
    text: str | None = None
    alert: bool = False


@dataclass(frozen=True)
class Delete:
    message_id: int


@dataclass(frozen=True)
class SetCommands:
    commands: tuple[BotCommand, ...]


@dataclass(frozen=True)
class SendDocument:
    document: Document
    caption: str | None = None


@dataclass(frozen=True)
class SendStoredFile:
    """Send again, by its Telegram file id, a file the bot already holds (a record upload)."""

    file_id: str
    kind: str = "document"  # "photo" or "document"
    caption: str | None = None


@dataclass(frozen=True)
class Notify:
    """A message to someone other than the sender (the doctor, the admins, the patient)."""

    chat_id: int
    text: str
    markup: Markup | None = None
    document: Document | None = None


@dataclass(frozen=True)
class CopyOut:
    """Relay one message to the other side of a consultation (copyMessage: no sender shown).

    The chat log row exists already (saved in the turn's transaction); once sent, the
    dispatcher stores the copy's id on it so replies and edits can be mapped later."""

    relayed_id: int
    to_chat: int
    from_chat: int
    message_id: int
    reply_to: int | None = None
    header: str | None = None
    undelivered_text: str = ""
    kind: str = "text"
    file_id: str | None = None
    album: str | None = None  # media_group_id: the parts of one album are sent together


@dataclass(frozen=True)
class SendInvoice:
    """An invoice to the turn's chat (handlers/payments.py made the Payment row already)."""

    invoice: Invoice


@dataclass(frozen=True)
class AnswerPreCheckout:
    query_id: str
    ok: bool
    error_message: str | None = None


@dataclass(frozen=True)
class RefundStars:
    """refundStarPayment after commit; the outcome is stored on the payment and told.

    On success the patient gets `refunded_text`; on failure the payment is marked owed, the
    patient gets `owed_text` and every admin chat its notice (`admin_notices`)."""

    payment_id: int | None
    user_id: int
    telegram_charge_id: str
    refunded_text: str
    owed_text: str
    admin_notices: tuple[tuple[int, str], ...] = ()


@dataclass(frozen=True)
class EditCopy:
    to_chat: int
    message_id: int
    text: str
    caption: bool = False


@dataclass(frozen=True)
class SendPhoto:
    """A picture the bot makes (a chart): rendered after commit, off the event loop, so no
    transaction waits on it; `render` returns PNG bytes."""

    filename: str
    render: Callable[[], bytes]
    caption: str | None = None


@dataclass(frozen=True)
class StartBroadcast:
    """Start sending a saved Broadcast row in the background (handlers/broadcast_sender.py)."""

    broadcast_id: int


Action = (
    Reply
    | Edit
    | Answer
    | Delete
    | SetCommands
    | SendDocument
    | SendStoredFile
    | Notify
    | CopyOut
    | EditCopy
    | SendInvoice
    | AnswerPreCheckout
    | RefundStars
    | SendPhoto
    | StartBroadcast
)


@dataclass
class Turn:
    event: Event
    uow: UnitOfWork
    t: Translator
    config: CoreConfig
    now: datetime
    user: User | None
    conversation: Conversation | None
    actions: list[Action] = field(default_factory=list)

    @property
    def zone_name(self) -> str:
        """The time zone the sender reads times in: their own, else the clinic's."""
        return self.user.timezone if self.user else self.config.default_timezone

    def reply(self, text: str, markup: Markup | None = None, reply_to: int | None = None) -> None:
        self.actions.append(Reply(text, markup, reply_to))

    def edit(self, message_id: int, text: str, markup: InlineKeyboard | None = None) -> None:
        self.actions.append(Edit(message_id, text, markup))

    def answer(self, text: str | None = None, alert: bool = False) -> None:
        self.actions.append(Answer(text, alert))

    def delete(self, message_id: int) -> None:
        self.actions.append(Delete(message_id))

    def send_document(self, document: Document, caption: str | None = None) -> None:
        self.actions.append(SendDocument(document, caption))

    def send_stored_file(
        self, file_id: str, kind: str = "document", caption: str | None = None
    ) -> None:
        self.actions.append(SendStoredFile(file_id, kind, caption))

    def notify(
        self,
        chat_id: int,
        text: str,
        markup: Markup | None = None,
        document: Document | None = None,
    ) -> None:
        self.actions.append(Notify(chat_id, text, markup, document))

    def relay(self, action: CopyOut | EditCopy) -> None:
        self.actions.append(action)

    def set_commands(self, commands: list[BotCommand]) -> None:
        self.actions.append(SetCommands(tuple(commands)))

    def send_photo(
        self, filename: str, render: Callable[[], bytes], caption: str | None = None
    ) -> None:
        self.actions.append(SendPhoto(filename, render, caption))

    def start_broadcast(self, broadcast_id: int) -> None:
        self.actions.append(StartBroadcast(broadcast_id))

    @property
    def is_admin(self) -> bool:
        return self.event.user_id in self.config.admin_ids
