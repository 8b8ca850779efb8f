"""One turn: an event, the database unit of work, and the replies to send after commit.

Flows never send directly: they queue actions on the turn, the dispatcher commits the
transaction and only then sends, so no network call happens inside a database transaction and
nothing is announced that was not saved.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from handlers.events import Event
from handlers.i18n import Translator
from handlers.port import BotCommand, Document, InlineKeyboard, Markup
from storage.models import Conversation, User
from storage.unit_of_work import UnitOfWork


@dataclass(frozen=True)
class CoreConfig:
    admin_ids: frozenset[int]
    default_timezone: str
    bot_username: str = "clinic_bot"
    currency: str = "EUR"
    cancel_cutoff: timedelta = timedelta(hours=1)


@dataclass(frozen=True)
class Reply:
    text: str
    markup: Markup | None = None


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
class Notify:
    """A message to someone other than the sender (the doctor, the admins, the patient)."""

    chat_id: int
    text: str
    markup: Markup | None = None
    document: Document | None = None


Action = Reply | Edit | Answer | Delete | SetCommands | SendDocument | Notify


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

    def reply(self, text: str, markup: Markup | None = None) -> None:
        self.actions.append(Reply(text, markup))

    def edit(self, message_id: int, text: str, markup: InlineKeyboard | None = None) -> None:
        self.actions.append(Edit(message_id, text, markup))

    def answer(self, text: str | None = None, alert: bool = False) -> None:
        self.actions.append(Answer(text, alert))

    def delete(self, message_id: int) -> None:
        self.actions.append(Delete(message_id))

    def send_document(self, document: Document, caption: str | None = None) -> None:
        self.actions.append(SendDocument(document, caption))

    def notify(
        self,
        chat_id: int,
        text: str,
        markup: Markup | None = None,
        document: Document | None = None,
    ) -> None:
        self.actions.append(Notify(chat_id, text, markup, document))

    def set_commands(self, commands: list[BotCommand]) -> None:
        self.actions.append(SetCommands(tuple(commands)))

    @property
    def is_admin(self) -> bool:
        return self.event.user_id in self.config.admin_ids
