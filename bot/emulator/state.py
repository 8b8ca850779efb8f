"""In-memory world of the emulator: chats, messages, files, the update queue, callbacks.

Everything lives on one asyncio loop (server handlers and SimulatedUsers share it), so no
locks are needed; waiters are woken through :class:`Pulse` instead of polling.
"""

# Explicit timeout= parameters are the deliberate test-facing API (ASYNC109 prefers
# asyncio.timeout() at call sites, which would make every test noisier).
# ruff: noqa: ASYNC109

from __future__ import annotations

import asyncio
import copy
import itertools
import secrets
import time
from dataclasses import dataclass, field
from typing import Any


class Pulse:
    """A re-armable broadcast signal: every ``notify()`` wakes all current waiters.

    Waiters check their condition first and then wait; since nothing awaits in between on a
    single loop, a notification cannot slip through the gap.
    """

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    async def wait(self, timeout: float) -> bool:
        """Wait for the next notify; False on timeout."""
        if timeout <= 0:
            return False
        try:
            await asyncio.wait_for(self._event.wait(), timeout)
        except TimeoutError:
            return False
        return True


class StoredMessage(dict[str, Any]):
    """A Message as JSON (the dict itself, kept current after edits) plus bookkeeping."""

    def __init__(self, data: dict[str, Any], *, from_bot: bool) -> None:
        super().__init__(data)
        self.from_bot = from_bot
        self.deleted = False
        self.version = 0  # bumped on every edit so waiters can detect "a new edit"

    @property
    def message_id(self) -> int:
        return int(self["message_id"])

    @property
    def text(self) -> str:
        """Text or caption (what a user would read), empty string for pure media."""
        return str(self.get("text", self.get("caption", "")))

    def snapshot(self) -> dict[str, Any]:
        """A plain deep copy, safe to embed in updates and API results."""
        return copy.deepcopy(dict(self))


@dataclass
class StoredFile:
    file_id: str
    file_unique_id: str
    kind: str  # photo, document, voice, audio, video, video_note, sticker
    data: bytes
    file_path: str
    meta: dict[str, Any]  # the JSON object (Document, Voice, ... or one PhotoSize)
    photo_group: list[dict[str, Any]] | None = None  # all PhotoSizes of the same photo


@dataclass
class ChatState:
    chat_id: int
    user: dict[str, Any]  # the Telegram User of the private chat partner
    known: bool = False  # Telegram only lets a bot write to users who wrote to it first
    blocked: bool = False
    messages: dict[int, StoredMessage] = field(default_factory=dict)
    next_message_id: int = 1
    reply_keyboard: dict[str, Any] | None = None
    pulse: Pulse = field(default_factory=Pulse)

    def chat_json(self) -> dict[str, Any]:
        chat: dict[str, Any] = {"id": self.chat_id, "type": "private"}
        for key in ("first_name", "last_name", "username"):
            if self.user.get(key):
                chat[key] = self.user[key]
        return chat

    def allocate_message_id(self) -> int:
        # Private chats share one id sequence between both sides, as on Telegram.
        mid = self.next_message_id
        self.next_message_id += 1
        return mid

    def bot_messages(self) -> list[StoredMessage]:
        return [m for m in self.messages.values() if m.from_bot]


@dataclass
class QueuedUpdate:
    update: dict[str, Any]
    forced: bool = False  # redelivered: survive offset confirmation until handed out once
    delivered: bool = False

    @property
    def update_id(self) -> int:
        return int(self.update["update_id"])


@dataclass
class CallbackRecord:
    query_id: str
    chat_id: int
    message_id: int
    data: str
    answer: dict[str, Any] | None = None
    answered_event: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass
class InvoiceRecord:
    """What Telegram keeps of a sent invoice that the message JSON does not show."""

    payload: str
    currency: str
    total_amount: int
    provider_token: str


@dataclass
class PreCheckoutRecord:
    query_id: str
    user_id: int
    currency: str
    total_amount: int
    payload: str
    answer: dict[str, Any] | None = None
    answered_event: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass
class Charge:
    """A completed payment, as refundStarPayment looks it up."""

    telegram_charge_id: str
    user_id: int
    currency: str
    total_amount: int
    refunded: bool = False


@dataclass
class ApiCall:
    """One request the bot made; ``params`` are decoded (files appear as ``<upload ...>``)."""

    method: str
    params: dict[str, Any]
    time: float
    ok: bool = True
    error: str | None = None


@dataclass
class FaultRule:
    method: str  # lower-cased
    error_code: int
    description: str | None
    retry_after: int | None
    remaining: int
    chat_id: int | None


def now() -> int:
    return int(time.time())


class EmulatorState:
    """All mutable data of one emulator instance."""

    def __init__(self, token: str, bot_username: str, bot_first_name: str) -> None:
        self.token = token
        self.bot_id = int(token.split(":", 1)[0])
        self.bot_username = bot_username
        self.bot_first_name = bot_first_name
        self.chats: dict[int, ChatState] = {}
        self.files: dict[str, StoredFile] = {}
        self.files_by_path: dict[str, StoredFile] = {}
        self.queue: list[QueuedUpdate] = []
        self.history: dict[int, dict[str, Any]] = {}
        self.update_ids = itertools.count(1)
        self.updates_pulse = Pulse()
        self.callbacks: dict[str, CallbackRecord] = {}
        self.invoices: dict[tuple[int, int], InvoiceRecord] = {}  # (chat id, message id)
        self.pre_checkouts: dict[str, PreCheckoutRecord] = {}
        self.charges: dict[str, Charge] = {}
        self.commands: dict[tuple[tuple[Any, ...], str], list[dict[str, str]]] = {}
        self.webhook_url = ""
        self.allowed_updates: list[str] | None = None
        self.calls: list[ApiCall] = []
        self.faults: list[FaultRule] = []
        self.closing = False
        self.poll_generation = 0
        self._file_counter = itertools.count(1)
        self._user_ids = itertools.count(100001)

    def continue_after(self, update_id: int) -> None:
        """Number new updates after `update_id`: a bot that handled those before (and keeps
        their ids to drop repeats) must not take fresh updates for old ones."""
        self.update_ids = itertools.count(update_id + 1)

    # -- users / chats ---------------------------------------------------------------------

    def bot_user(self) -> dict[str, Any]:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": self.bot_first_name,
            "username": self.bot_username,
        }

    def next_user_id(self) -> int:
        uid = next(self._user_ids)
        while uid in self.chats:
            uid = next(self._user_ids)
        return uid

    def chat(self, chat_id: int) -> ChatState | None:
        return self.chats.get(chat_id)

    # -- updates ---------------------------------------------------------------------------
    def push_update(self, update: dict[str, Any], *, forced: bool = False) -> dict[str, Any]:
        update = copy.deepcopy(update)
        if "update_id" not in update:
            update = {"update_id": next(self.update_ids), **update}
        self.history[int(update["update_id"])] = copy.deepcopy(update)
        self.queue.append(QueuedUpdate(update, forced=forced))
        self.queue.sort(key=lambda q: q.update_id)
        self.updates_pulse.notify()
        return update

    def redeliver(self, update_id: int) -> None:
        if update_id not in self.history:
            raise KeyError(f"update {update_id} was never pushed")
        self.queue = [q for q in self.queue if q.update_id != update_id]
        self.push_update(self.history[update_id], forced=True)

    # -- files -----------------------------------------------------------------------------
    def store_file(
        self, kind: str, data: bytes, meta: dict[str, Any], *, extension: str = ""
    ) -> StoredFile:
        n = next(self._file_counter)
        # Real file_ids are opaque base64-ish strings; a random part keeps them unguessable.
        file_id = f"{kind[:2].upper()}AC{n:04d}{secrets.token_urlsafe(12)}"
        unique = f"AgAD{n:04d}{secrets.token_hex(3)}"
        folder = {"photo": "photos", "video_note": "video_notes", "sticker": "stickers"}.get(
            kind, f"{kind}s"
        )
        path = f"{folder}/file_{n}{extension}"
        meta = {"file_id": file_id, "file_unique_id": unique, **meta, "file_size": len(data)}
        stored = StoredFile(file_id, unique, kind, data, path, meta)
        self.files[file_id] = stored
        self.files_by_path[path] = stored
        return stored

    def store_photo(self, data: bytes) -> list[dict[str, Any]]:
        """A photo is several PhotoSizes with distinct file_ids; all share the bytes here."""
        sizes = [
            self.store_file("photo", data, {"width": w, "height": w}, extension=".jpg")
            for w in (90, 320, 800)
        ]
        group = [s.meta for s in sizes]
        for s in sizes:
            s.photo_group = group
        return copy.deepcopy(group)
