"""Scripted Telegram users that push updates and observe what the bot sends back.

All waiting is done on the chat's :class:`Pulse`, which the server notifies whenever the bot
sends, edits or deletes something in the chat, so tests never poll with sleeps.
"""

# Explicit timeout= parameters are the deliberate test-facing API (ASYNC109 prefers
# asyncio.timeout() at call sites, which would make every test noisier).
# ruff: noqa: ASYNC109

from __future__ import annotations

import asyncio
import copy
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .state import CallbackRecord, Charge, ChatState, PreCheckoutRecord, StoredMessage, now

if TYPE_CHECKING:
    from .server import BotApiEmulator

_SELF: Any = object()  # sentinel: "the user's own id" for share_contact


class Tap:
    """A pushed callback_query; ``await tap.answer()`` yields what the bot answered."""

    def __init__(self, record: CallbackRecord, update: dict[str, Any]) -> None:
        self.record = record
        self.update = update

    @property
    def query_id(self) -> str:
        return self.record.query_id

    @property
    def answered(self) -> bool:
        return self.record.answer is not None

    async def answer(self, timeout: float = 10.0) -> dict[str, Any]:
        """Wait for answerCallbackQuery: {"text", "show_alert", "url", "cache_time"}."""
        try:
            await asyncio.wait_for(self.record.answered_event.wait(), timeout)
        except TimeoutError:
            raise AssertionError(
                f"bot did not answer callback query {self.query_id} (data={self.record.data!r}) "
                f"within {timeout}s"
            ) from None
        assert self.record.answer is not None
        return dict(self.record.answer)


@dataclass
class PaymentAttempt:
    """What came of `SimulatedUser.pay`: the bot's pre-checkout answer and, if it said yes,
    the successful_payment that was sent (``payment``) and its charge id."""

    ok: bool
    error_message: str | None
    payment: dict[str, Any] | None = None
    message: dict[str, Any] | None = None

    @property
    def charge_id(self) -> str:
        assert self.payment is not None, "the payment did not go ahead"
        return str(self.payment["telegram_payment_charge_id"])


def _describe(msg: StoredMessage) -> str:
    kind = next(
        (
            k
            for k in (
                "photo",
                "document",
                "voice",
                "audio",
                "video",
                "sticker",
                "location",
                "contact",
                "invoice",
            )
            if k in msg
        ),
        "",
    )
    flags = " [deleted]" if msg.deleted else ""
    label = f"<{kind}> " if kind else ""
    return f"#{msg.message_id}{flags} {label}{msg.text!r}"


class SimulatedUser:
    """One Telegram user talking to the bot in a private chat (chat id == user id)."""

    def __init__(
        self,
        emulator: BotApiEmulator,
        first_name: str,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "en",
        user_id: int | None = None,
    ) -> None:
        self.emulator = emulator
        self.state = emulator.state
        self.id = user_id if user_id is not None else self.state.next_user_id()
        self.first_name = first_name
        self.last_name = last_name
        self.username = username
        self.language_code = language_code
        # A stable, plausible German mobile number derived from the id.
        self.phone = f"+49151{self.id % 10**8:08d}"
        self._read_upto = 0  # message_id of the last bot message consumed by expect()
        self._seen_versions: dict[int, int] = {}
        if self.id not in self.state.chats:
            self.state.chats[self.id] = ChatState(self.id, self.as_user())

    # -- identity ------------------------------------------------------------------------------
    def as_user(self) -> dict[str, Any]:
        user: dict[str, Any] = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        if self.last_name:
            user["last_name"] = self.last_name
        if self.username:
            user["username"] = self.username
        if self.language_code:
            user["language_code"] = self.language_code
        return user

    @property
    def chat_id(self) -> int:
        return self.id

    @property
    def chat(self) -> ChatState:
        return self.state.chats[self.id]

    # -- sending -------------------------------------------------------------------------------
    def _post(self, content: dict[str, Any], *, update_type: str = "message") -> dict[str, Any]:
        chat = self.chat
        chat.known = True
        data: dict[str, Any] = {
            "message_id": chat.allocate_message_id(),
            "from": self.as_user(),
            "chat": chat.chat_json(),
            "date": now(),
            **content,
        }
        msg = StoredMessage(data, from_bot=False)
        chat.messages[msg.message_id] = msg
        self.emulator.push_update({update_type: msg.snapshot()})
        return msg.snapshot()

    async def send_text(self, text: str, *, reply_to: int | None = None) -> dict[str, Any]:
        content: dict[str, Any] = {"text": text}
        if text.startswith("/"):
            command = text.split(maxsplit=1)[0] if text.split() else text
            content["entities"] = [
                {
                    "type": "bot_command",
                    "offset": 0,
                    "length": len(command.encode("utf-16-le")) // 2,
                }
            ]
        if reply_to is not None:
            content["reply_to_message"] = self.chat.messages[reply_to].snapshot()
        return self._post(content)

    async def send_command(self, command: str, payload: str | None = None) -> dict[str, Any]:
        command = command.lstrip("/")
        return await self.send_text(f"/{command} {payload}" if payload else f"/{command}")

    async def share_contact(
        self,
        phone_number: str | None = None,
        *,
        user_id: int | None = _SELF,
        first_name: str | None = None,
        last_name: str | None = None,
    ) -> dict[str, Any]:
        """Share a contact; default is the user's own (as a request_contact button does)."""
        contact: dict[str, Any] = {
            "phone_number": phone_number or self.phone,
            "first_name": first_name or self.first_name,
        }
        if last_name or (user_id is _SELF and self.last_name):
            contact["last_name"] = last_name or self.last_name
        uid = self.id if user_id is _SELF else user_id
        if uid is not None:
            contact["user_id"] = uid
        return self._post({"contact": contact})

    async def send_location(
        self, latitude: float = 52.520008, longitude: float = 13.404954
    ) -> dict[str, Any]:
        return self._post({"location": {"latitude": latitude, "longitude": longitude}})

    async def send_photo(
        self,
        data: bytes = b"\xff\xd8\xff\xe0fake-jpeg",
        caption: str | None = None,
        media_group_id: str | None = None,
    ) -> dict[str, Any]:
        content: dict[str, Any] = {"photo": self.state.store_photo(data)}
        if caption:
            content["caption"] = caption
        if media_group_id:
            content["media_group_id"] = media_group_id  # one part of an album
        return self._post(content)

    async def send_document(
        self,
        data: bytes = b"%PDF-1.4 fake",
        file_name: str = "document.pdf",
        mime_type: str = "application/pdf",
        caption: str | None = None,
    ) -> dict[str, Any]:
        ext = "." + file_name.rsplit(".", 1)[-1] if "." in file_name else ""
        stored = self.state.store_file(
            "document", data, {"file_name": file_name, "mime_type": mime_type}, extension=ext
        )
        content: dict[str, Any] = {"document": copy.deepcopy(stored.meta)}
        if caption:
            content["caption"] = caption
        return self._post(content)

    async def send_voice(
        self, data: bytes = b"OggS fake voice", duration: int = 3
    ) -> dict[str, Any]:
        stored = self.state.store_file(
            "voice", data, {"duration": duration, "mime_type": "audio/ogg"}, extension=".oga"
        )
        return self._post({"voice": copy.deepcopy(stored.meta)})

    async def send_media(
        self,
        kind: str,
        data: bytes = b"fake media",
        meta: dict[str, Any] | None = None,
        caption: str | None = None,
        media_group_id: str | None = None,
    ) -> dict[str, Any]:
        """Any other file kind (audio, video, video_note, animation) as a Message of that kind."""
        defaults: dict[str, dict[str, Any]] = {
            "audio": {"duration": 5, "mime_type": "audio/mpeg"},
            "video": {"duration": 3, "width": 320, "height": 240, "mime_type": "video/mp4"},
            "video_note": {"duration": 3, "length": 240},
            "animation": {"duration": 2, "width": 320, "height": 240},
        }
        stored = self.state.store_file(kind, data, meta or defaults.get(kind, {}))
        content: dict[str, Any] = {kind: copy.deepcopy(stored.meta)}
        if caption:
            content["caption"] = caption
        if media_group_id:
            content["media_group_id"] = media_group_id
        return self._post(content)

    async def send_sticker(self, emoji: str = "👍") -> dict[str, Any]:
        meta = {
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": emoji,
        }
        stored = self.state.store_file("sticker", b"RIFF fake webp", meta, extension=".webp")
        return self._post({"sticker": copy.deepcopy(stored.meta)})

    async def edit_text(self, message_id: int, new_text: str) -> dict[str, Any]:
        msg = self.chat.messages.get(message_id)
        if msg is None or msg.from_bot:
            raise AssertionError(f"user {self.id} has no own message #{message_id} to edit")
        msg["text"] = new_text
        msg["edit_date"] = now()
        msg.version += 1
        self.emulator.push_update({"edited_message": msg.snapshot()})
        return msg.snapshot()

    # -- payments ------------------------------------------------------------------------------
    def invoices(self) -> list[StoredMessage]:
        return [m for m in self.messages if "invoice" in m and not m.deleted]

    async def expect_invoice(self, timeout: float = 10.0) -> StoredMessage:
        def find() -> StoredMessage | None:
            return next((m for m in self.unread() if "invoice" in m), None)

        msg = await self._wait_until(find, timeout)
        if msg is None:
            raise AssertionError(self._timeout_report("invoice", timeout))
        self._read_upto = msg.message_id
        return msg  # type: ignore[no-any-return]

    async def pay(
        self,
        invoice_message: dict[str, Any] | int,
        *,
        amount: int | None = None,
        currency: str | None = None,
        timeout: float = 10.0,
    ) -> PaymentAttempt:
        """Tap Pay: a pre_checkout_query, the bot's answer, and on yes a successful_payment.

        ``amount``/``currency`` tamper with what the payment form sends (the invoice's own by
        default)."""
        mid = invoice_message if isinstance(invoice_message, int) else invoice_message["message_id"]
        invoice = self.state.invoices.get((self.id, int(mid)))
        if invoice is None:
            raise AssertionError(f"message #{mid} in chat {self.id} is not an invoice")
        total = invoice.total_amount if amount is None else amount
        paid_currency = currency or invoice.currency
        query_id = f"{self.id}{secrets.randbelow(10**9):09d}"
        record = PreCheckoutRecord(query_id, self.id, paid_currency, total, invoice.payload)
        self.state.pre_checkouts[query_id] = record
        self.emulator.push_update(
            {
                "pre_checkout_query": {
                    "id": query_id,
                    "from": self.as_user(),
                    "currency": paid_currency,
                    "total_amount": total,
                    "invoice_payload": invoice.payload,
                }
            }
        )
        try:
            await asyncio.wait_for(record.answered_event.wait(), timeout)
        except TimeoutError:
            raise AssertionError(
                f"bot did not answer pre-checkout query {query_id} within {timeout}s"
            ) from None
        assert record.answer is not None
        if not record.answer["ok"]:
            return PaymentAttempt(False, record.answer["error_message"])
        stars = paid_currency == "XTR"
        charge_id = ("stxTEST" if stars else "tgTEST") + secrets.token_hex(12)
        payment = {
            "currency": paid_currency,
            "total_amount": total,
            "invoice_payload": invoice.payload,
            "telegram_payment_charge_id": charge_id,
            "provider_payment_charge_id": "" if stars else f"prov_{secrets.token_hex(8)}",
        }
        self.state.charges[charge_id] = Charge(charge_id, self.id, paid_currency, total)
        message = self._post({"successful_payment": payment})
        return PaymentAttempt(True, None, payment, message)

    async def deliver_payment_again(self, attempt: PaymentAttempt) -> dict[str, Any]:
        """The same successful_payment once more, as a new message in a new update."""
        assert attempt.payment is not None, "the payment did not go ahead"
        return self._post({"successful_payment": dict(attempt.payment)})

    # -- keyboards -----------------------------------------------------------------------------
    @staticmethod
    def _buttons(message: dict[str, Any]) -> list[dict[str, Any]]:
        markup = message.get("reply_markup") or {}
        return [b for row in markup.get("inline_keyboard", []) for b in row]

    def inline_buttons(self, message: dict[str, Any] | int) -> list[str]:
        if isinstance(message, int):
            message = self.chat.messages[message]
        return [b["text"] for b in self._buttons(message)]

    def _push_callback(self, msg: StoredMessage, data: str) -> Tap:
        query_id = f"{self.id}{secrets.randbelow(10**9):09d}"
        record = CallbackRecord(query_id, self.id, msg.message_id, data)
        self.state.callbacks[query_id] = record
        query = {
            "id": query_id,
            "from": self.as_user(),
            "message": msg.snapshot(),
            "chat_instance": f"-{self.id}{self.state.bot_id}"[:19],
            "data": data,
        }
        update = self.emulator.push_update({"callback_query": query})
        return Tap(record, update)

    async def tap(self, label: str, message_id: int | None = None) -> Tap:
        """Press the inline button ``label`` on the newest (or given) bot message showing it."""
        candidates = [m for m in reversed(self.chat.bot_messages()) if not m.deleted]
        if message_id is not None:
            candidates = [m for m in candidates if m.message_id == message_id]
        for msg in candidates:
            for button in self._buttons(msg):
                if button.get("text") == label:
                    if "callback_data" not in button:
                        raise AssertionError(
                            f"button {label!r} on #{msg.message_id} is not a callback "
                            f"button: {button}"
                        )
                    return self._push_callback(msg, button["callback_data"])
        available = {m.message_id: self.inline_buttons(m) for m in candidates if self._buttons(m)}
        raise AssertionError(
            f"no inline button {label!r}; available buttons by message: {available}"
        )

    async def tap_data(self, data: str, message_id: int) -> Tap:
        """Send arbitrary (possibly forged) callback data against a bot message."""
        msg = self.chat.messages.get(message_id)
        if msg is None:
            raise AssertionError(f"no message #{message_id} in chat {self.id}")
        return self._push_callback(msg, data)

    @property
    def reply_keyboard(self) -> dict[str, Any] | None:
        return copy.deepcopy(self.chat.reply_keyboard)

    def reply_buttons(self) -> list[str]:
        kb = self.chat.reply_keyboard or {}
        return [b["text"] for row in kb.get("keyboard", []) for b in row]

    async def press(self, label: str) -> dict[str, Any]:
        """Press a button of the currently shown reply keyboard."""
        kb = self.chat.reply_keyboard
        if kb is None:
            raise AssertionError(
                f"no reply keyboard is shown to user {self.id}; cannot press {label!r}"
            )
        for row in kb["keyboard"]:
            for button in row:
                if button["text"] != label:
                    continue
                if button.get("request_contact"):
                    return await self.share_contact(self.phone)
                if button.get("request_location"):
                    return await self.send_location()
                return await self.send_text(label)
        raise AssertionError(
            f"no reply keyboard button {label!r}; available: {self.reply_buttons()}"
        )

    # -- blocking ------------------------------------------------------------------------------
    def _member_update(self, old: str, new: str) -> None:
        bot = self.state.bot_user()
        new_member: dict[str, Any] = {"user": bot, "status": new}
        if new == "kicked":
            new_member["until_date"] = 0
        old_member: dict[str, Any] = {"user": bot, "status": old}
        if old == "kicked":
            old_member["until_date"] = 0
        self.emulator.push_update(
            {
                "my_chat_member": {
                    "chat": self.chat.chat_json(),
                    "from": self.as_user(),
                    "date": now(),
                    "old_chat_member": old_member,
                    "new_chat_member": new_member,
                }
            }
        )

    def block(self) -> None:
        if not self.chat.blocked:
            self.chat.blocked = True
            self._member_update("member", "kicked")

    def unblock(self) -> None:
        if self.chat.blocked:
            self.chat.blocked = False
            self._member_update("kicked", "member")

    # -- observing -----------------------------------------------------------------------------
    @property
    def messages(self) -> list[StoredMessage]:
        """Bot messages in this chat, current state (edits applied, ``.deleted`` flagged)."""
        return self.chat.bot_messages()

    @property
    def last_message(self) -> StoredMessage | None:
        live = [m for m in self.messages if not m.deleted]
        return live[-1] if live else None

    def unread(self) -> list[StoredMessage]:
        return [m for m in self.messages if m.message_id > self._read_upto]

    def mark_all_read(self) -> None:
        msgs = self.messages
        if msgs:
            self._read_upto = msgs[-1].message_id
        for m in msgs:
            self._seen_versions[m.message_id] = m.version

    async def _wait_until(self, find: Callable[[], Any], timeout: float) -> Any:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            found = find()
            if found is not None:
                return found
            if not await self.chat.pulse.wait(deadline - loop.time()):
                return find()

    async def wait_for_text(self, contains: str, *, timeout: float = 10.0) -> StoredMessage:
        """Any bot message (read or not) containing ``contains``; marks nothing read, so many
        waiters can watch one chat at once (a doctor receiving many patients' messages)."""

        def find() -> StoredMessage | None:
            return next((m for m in self.messages if contains in m.text), None)

        msg = await self._wait_until(find, timeout)
        if msg is None:
            raise AssertionError(self._timeout_report(f"message containing {contains!r}", timeout))
        return msg  # type: ignore[no-any-return]

    def _timeout_report(self, what: str, timeout: float) -> str:
        unread = [_describe(m) for m in self.unread()]
        last = [_describe(m) for m in self.messages[-5:]]
        return (
            f"user {self.id}: no {what} within {timeout}s. "
            f"unread: {unread}; last 5 bot messages: {last}"
        )

    async def expect(self, contains: str | None = None, *, timeout: float = 10.0) -> StoredMessage:
        """Next unread bot message whose text/caption contains ``contains``; marks it read."""

        def find() -> StoredMessage | None:
            for m in self.unread():
                if contains is None or contains in m.text:
                    return m
            return None

        msg = await self._wait_until(find, timeout)
        if msg is None:
            raise AssertionError(self._timeout_report(f"message containing {contains!r}", timeout))
        self._read_upto = msg.message_id
        return msg

    async def expect_document(self, timeout: float = 10.0) -> StoredMessage:
        def find() -> StoredMessage | None:
            return next((m for m in self.unread() if "document" in m), None)

        msg = await self._wait_until(find, timeout)
        if msg is None:
            raise AssertionError(self._timeout_report("document", timeout))
        self._read_upto = msg.message_id
        return msg

    async def expect_edit(
        self, message_id: int, contains: str | None = None, timeout: float = 10.0
    ) -> StoredMessage:
        """Wait for an edit of ``message_id`` not yet consumed by a previous expect_edit."""

        def find() -> StoredMessage | None:
            msg = self.chat.messages.get(message_id)
            if msg is None or msg.version <= self._seen_versions.get(message_id, 0):
                return None
            if contains is not None and contains not in msg.text:
                return None
            return msg

        msg = await self._wait_until(find, timeout)
        if msg is None:
            current = self.chat.messages.get(message_id)
            state = _describe(current) if current is not None else "<missing>"
            raise AssertionError(
                f"user {self.id}: no edit of #{message_id} containing {contains!r} "
                f"within {timeout}s; current: {state}"
            )
        self._seen_versions[message_id] = msg.version
        return msg

    async def expect_deleted(self, message_id: int, *, timeout: float = 10.0) -> None:
        def find() -> bool | None:
            msg = self.chat.messages.get(message_id)
            return True if msg is not None and msg.deleted else None

        if await self._wait_until(find, timeout) is None:
            raise AssertionError(
                f"user {self.id}: message #{message_id} was not deleted within {timeout}s"
            )

    async def expect_nothing(self, within: float = 0.5) -> None:
        """Assert the bot sends no new message (and none is still unread) during ``within``."""
        await self._wait_until(lambda: self.unread() or None, within)
        if self.unread():
            raise AssertionError(
                f"user {self.id}: expected no bot messages, "
                f"got {[_describe(m) for m in self.unread()]}"
            )
