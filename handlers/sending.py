"""The one sending path every adapter and job shares.

Keeps under Telegram's limits (about 30 messages a second overall, one a second per chat, with a
small burst so a reply of two messages is not delayed), waits out 429 retry_after (neither
framework retries sendMessage by itself), and reports a user who blocked the bot (403) once so
they are marked unreachable instead of retried forever.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from handlers.callback_signing import CallbackSigner
from handlers.port import (
    BotCommand,
    Document,
    InlineKeyboard,
    Invoice,
    Markup,
    MessageNotModified,
    Messenger,
    RecipientUnavailable,
    RetryLater,
    SentMessage,
)

log = logging.getLogger(__name__)
T = TypeVar("T")
M = TypeVar("M", bound="Markup | None")

MAX_RETRY_AFTER_ATTEMPTS = 5
MAX_RETRY_AFTER_SECONDS = 120.0


class Undeliverable(Exception):
    """The recipient can't be reached (blocked the bot) or Telegram kept refusing."""


class Blocked(Undeliverable):
    """403: the recipient blocked the bot or deleted the account (already marked unreachable)."""


class TokenBucket:
    """A reservation bucket: each caller takes a token now and is told how long to wait."""

    def __init__(self, rate: float, capacity: float, clock: Callable[[], float]) -> None:
        self.rate = rate
        self.capacity = capacity
        self._clock = clock
        self._tokens = capacity
        self._updated = clock()

    def reserve(self) -> float:
        now = self._clock()
        self._tokens = min(self.capacity, self._tokens + (now - self._updated) * self.rate)
        self._updated = now
        self._tokens -= 1
        return 0.0 if self._tokens >= 0 else -self._tokens / self.rate

    def idle(self) -> bool:
        elapsed = self._clock() - self._updated
        return self._tokens + elapsed * self.rate >= self.capacity


@dataclass(frozen=True)
class Limits:
    global_rate: float = 30.0
    per_chat_rate: float = 1.0
    per_chat_burst: int = 3


class RateLimiter:
    def __init__(
        self,
        limits: Limits,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._limits = limits
        self._clock = clock
        self._sleep = sleep
        self._global = TokenBucket(limits.global_rate, max(1.0, limits.global_rate), clock)
        self._chats: dict[int, TokenBucket] = {}
        self._paused_until: dict[int, float] = {}

    async def acquire(self, chat_id: int, per_chat: bool = True) -> None:
        if not per_chat:
            pause = self._paused_until.get(chat_id, 0.0) - self._clock()
            wait = max(self._global.reserve(), pause)
            if wait > 0:
                await self._sleep(wait)
            return
        bucket = self._chats.get(chat_id)
        if bucket is None:
            if len(self._chats) > 10_000:
                self._chats = {k: b for k, b in self._chats.items() if not b.idle()}
            bucket = TokenBucket(
                self._limits.per_chat_rate, self._limits.per_chat_burst, self._clock
            )
            self._chats[chat_id] = bucket
        pause = self._paused_until.get(chat_id, 0.0) - self._clock()
        wait = max(bucket.reserve(), self._global.reserve(), pause)
        if wait > 0:
            await self._sleep(wait)

    def pause(self, chat_id: int, seconds: float) -> None:
        self._paused_until[chat_id] = self._clock() + seconds


class SendingPath:
    """Wraps a Messenger with the limits and error policy; same methods, safe to call anywhere."""

    def __init__(
        self,
        messenger: Messenger,
        limiter: RateLimiter,
        on_unreachable: Callable[[int], Awaitable[None]],
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        signer: CallbackSigner | None = None,
    ) -> None:
        self.messenger = messenger
        self._limiter = limiter
        self._on_unreachable = on_unreachable
        self._sleep = sleep
        # Signs every inline button for the chat it is sent to; the dispatcher checks taps.
        self.signer = signer

    def _signed(self, chat_id: int, markup: M) -> M:
        if self.signer is None:
            return markup
        return self.signer.sign_markup(chat_id, markup)  # type: ignore[return-value]

    async def _deliver(
        self, chat_id: int, call: Callable[[], Awaitable[T]], limited: str = "message"
    ) -> T:
        """`limited`: "message" counts for the chat and overall, "edit" overall only, "" not."""
        for _attempt in range(MAX_RETRY_AFTER_ATTEMPTS):
            if limited:
                await self._limiter.acquire(chat_id, per_chat=limited == "message")
            try:
                return await call()
            except RetryLater as exc:
                wait = min(exc.seconds, MAX_RETRY_AFTER_SECONDS)
                log.warning("telegram asked to wait", extra={"chat_id": chat_id, "seconds": wait})
                self._limiter.pause(chat_id, wait)
                await self._sleep(wait)
            except RecipientUnavailable:
                log.info("recipient unreachable", extra={"chat_id": chat_id})
                await self._on_unreachable(chat_id)
                raise Blocked(f"chat {chat_id} blocked the bot") from None
        raise Undeliverable(f"chat {chat_id}: still rate limited after retries")

    async def send_text(
        self, chat_id: int, text: str, markup: Markup | None = None, reply_to: int | None = None
    ) -> SentMessage:
        markup = self._signed(chat_id, markup)
        return await self._deliver(
            chat_id, lambda: self.messenger.send_text(chat_id, text, markup, reply_to)
        )

    async def edit_text(
        self, chat_id: int, message_id: int, text: str, markup: InlineKeyboard | None = None
    ) -> None:
        markup = self._signed(chat_id, markup)

        async def call() -> None:
            with contextlib.suppress(MessageNotModified):  # already shows what we wanted
                await self.messenger.edit_text(chat_id, message_id, text, markup)

        # An edit adds no message to the chat: it counts toward the overall rate only.
        await self._deliver(chat_id, call, "edit")

    async def edit_markup(
        self, chat_id: int, message_id: int, markup: InlineKeyboard | None
    ) -> None:
        markup = self._signed(chat_id, markup)

        async def call() -> None:
            with contextlib.suppress(MessageNotModified):
                await self.messenger.edit_markup(chat_id, message_id, markup)

        await self._deliver(chat_id, call, "edit")

    async def edit_caption(self, chat_id: int, message_id: int, caption: str) -> None:
        async def call() -> None:
            with contextlib.suppress(MessageNotModified):
                await self.messenger.edit_caption(chat_id, message_id, caption)

        await self._deliver(chat_id, call, "edit")

    async def answer_callback(
        self, chat_id: int, callback_id: str, text: str | None = None, alert: bool = False
    ) -> None:
        # Answers are not messages: they don't count against the chat's budget.
        await self._deliver(
            chat_id, lambda: self.messenger.answer_callback(callback_id, text, alert), ""
        )

    async def delete_message(self, chat_id: int, message_id: int) -> None:
        await self._deliver(chat_id, lambda: self.messenger.delete_message(chat_id, message_id), "")

    async def copy_message(
        self,
        chat_id: int,
        from_chat_id: int,
        message_id: int,
        caption: str | None = None,
        reply_to: int | None = None,
    ) -> SentMessage:
        return await self._deliver(
            chat_id,
            lambda: self.messenger.copy_message(
                chat_id, from_chat_id, message_id, caption, reply_to
            ),
        )

    async def copy_messages(
        self, chat_id: int, from_chat_id: int, message_ids: list[int]
    ) -> list[SentMessage]:
        return await self._deliver(
            chat_id, lambda: self.messenger.copy_messages(chat_id, from_chat_id, message_ids)
        )

    async def send_document(
        self, chat_id: int, document: Document, caption: str | None = None
    ) -> SentMessage:
        return await self._deliver(
            chat_id, lambda: self.messenger.send_document(chat_id, document, caption)
        )

    async def send_photo(
        self, chat_id: int, photo: Document, caption: str | None = None
    ) -> SentMessage:
        return await self._deliver(
            chat_id, lambda: self.messenger.send_photo(chat_id, photo, caption)
        )

    async def send_document_by_id(
        self, chat_id: int, file_id: str, caption: str | None = None, kind: str = "document"
    ) -> SentMessage:
        return await self._deliver(
            chat_id, lambda: self.messenger.send_document_by_id(chat_id, file_id, caption, kind)
        )

    async def send_chat_action(self, chat_id: int, action: str) -> None:
        await self._deliver(chat_id, lambda: self.messenger.send_chat_action(chat_id, action), "")

    async def download(self, chat_id: int, file_id: str) -> bytes:
        return await self._deliver(chat_id, lambda: self.messenger.download(file_id), "")

    async def set_chat_commands(self, chat_id: int, commands: list[BotCommand]) -> None:
        await self._deliver(
            chat_id, lambda: self.messenger.set_chat_commands(chat_id, commands), ""
        )

    async def send_invoice(self, chat_id: int, invoice: Invoice) -> SentMessage:
        return await self._deliver(chat_id, lambda: self.messenger.send_invoice(chat_id, invoice))

    async def answer_pre_checkout_query(
        self, chat_id: int, query_id: str, ok: bool, error_message: str | None = None
    ) -> None:
        # Telegram waits 10 seconds for this answer: it never queues behind the chat's budget.
        await self._deliver(
            chat_id,
            lambda: self.messenger.answer_pre_checkout_query(query_id, ok, error_message),
            "",
        )

    async def refund_star_payment(self, user_id: int, telegram_charge_id: str) -> None:
        await self._deliver(
            user_id, lambda: self.messenger.refund_star_payment(user_id, telegram_charge_id), ""
        )
