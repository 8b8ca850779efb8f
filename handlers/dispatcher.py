"""The core every adapter feeds: per-user ordering, once-only handling, one transaction a turn.

Adapters call `submit(event)` in the order updates arrive. Each user has a lane: their updates
are handled one at a time, in order, while different users run concurrently. The lane is an
in-process lock today (`UserLanes`); several workers would swap in a database lock.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections import Counter
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handlers.albums import AlbumCollector
from handlers.broadcast_sender import BroadcastSender
from handlers.events import Event, EventKind
from handlers.flood import IncomingLimit, Verdict
from handlers.i18n import language_for, plain, translator
from handlers.planning import JobPlanner, NoPlanning
from handlers.port import BadRequest, Document, SentMessage, TransportError
from handlers.refunds import carry_out_star_refund
from handlers.router import route
from handlers.sending import SendingPath, Undeliverable
from handlers.turn import (
    Action,
    Answer,
    AnswerPreCheckout,
    CopyOut,
    CoreConfig,
    Delete,
    Edit,
    EditCopy,
    Notify,
    RefundStars,
    Reply,
    SendDocument,
    SendInvoice,
    SendPhoto,
    SendStoredFile,
    SetCommands,
    StartBroadcast,
    Turn,
)
from storage.crypto import UnreadableValue
from storage.types import has_unopened
from storage.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)

PROCESSED_UPDATES_KEPT = timedelta(days=2)


def utc_now() -> datetime:
    return datetime.now(UTC)


Lane = int | tuple[str, int]


def lane_of(event: Event) -> Lane:
    """A user's updates run in order in their lane. A pre-checkout query has a lane of its own:
    Telegram waits only 10 seconds for its answer, so it never queues behind the payer's other
    work (it only reads, and the payment it precedes comes after its answer)."""
    if event.kind is EventKind.PRE_CHECKOUT:
        return ("pre-checkout", event.user_id)
    return event.user_id


class UserLanes:
    """Runs each lane's work strictly in submission order; lanes run side by side."""

    def __init__(self) -> None:
        self._queues: dict[Lane, asyncio.Queue[Event]] = {}
        self._workers: dict[Lane, asyncio.Task[None]] = {}
        self._idle = asyncio.Event()
        self._idle.set()

    def submit(self, event: Event, handle: Callable[[Event], asyncio.Future[None]]) -> None:
        lane = lane_of(event)
        queue = self._queues.get(lane)
        if queue is None:
            queue = self._queues[lane] = asyncio.Queue()
        queue.put_nowait(event)
        if lane not in self._workers:
            self._idle.clear()
            self._workers[lane] = asyncio.create_task(self._work(lane, queue, handle))

    async def _work(
        self,
        lane: Lane,
        queue: asyncio.Queue[Event],
        handle: Callable[[Event], asyncio.Future[None]],
    ) -> None:
        try:
            while not queue.empty():
                await handle(queue.get_nowait())
        finally:
            # Nothing awaits between the empty check and removal, so no event is stranded.
            del self._workers[lane]
            del self._queues[lane]
            if not self._workers:
                self._idle.set()

    async def drain(self) -> None:
        await self._idle.wait()


class CopiesInFlight:
    """Chats with a relayed copy being sent whose mapping is not stored yet (one process)."""

    SETTLE_SECONDS = 10.0

    def __init__(self) -> None:
        self._counts: Counter[int] = Counter()
        self._changed = asyncio.Condition()

    @contextlib.asynccontextmanager
    async def copying(self, *chats: int) -> AsyncIterator[None]:
        self._counts.update(chats)
        try:
            yield
        finally:
            self._counts.subtract(chats)
            async with self._changed:
                self._changed.notify_all()

    async def settled(self, chat_id: int) -> None:
        if not self._counts[chat_id]:
            return
        async with self._changed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self._changed.wait_for(lambda: not self._counts[chat_id]), self.SETTLE_SECONDS
                )


class Dispatcher:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        sending: SendingPath,
        config: CoreConfig,
        clock: Callable[[], datetime] = utc_now,
        planner: JobPlanner | None = None,
    ) -> None:
        self._sessions = sessions
        self._planner: JobPlanner = planner or NoPlanning()
        self._sending = sending
        self._config = config
        self._clock = clock
        self._lanes = UserLanes()
        self._albums = AlbumCollector(self._copy_album)
        # Broadcasts run as background tasks, started after the confirming turn committed.
        self.broadcasts = BroadcastSender(sessions, sending)
        self._in_flight = CopiesInFlight()
        self._handled = 0
        self._incoming = IncomingLimit(config.incoming_per_minute)
        self._refused: dict[int, Verdict] = {}

    def submit(self, event: Event) -> None:
        if self._limited(event):
            # Judged on arrival, before the lane: a queue of refused updates costs nothing.
            verdict = self._incoming.check(event.user_id, event.media_group_id)
            if verdict is not Verdict.HANDLE:
                self._refused[event.update_id] = verdict
        self._lanes.submit(event, self._handle_safely)  # type: ignore[arg-type]

    def _limited(self, event: Event) -> bool:
        """What a person sends counts; service updates (blocked, payments) and admins don't."""
        return (
            event.kind in (EventKind.MESSAGE, EventKind.EDITED_MESSAGE, EventKind.CALLBACK)
            and event.payment is None  # a successful_payment: money taken, never refused
            and event.user_id not in self._config.admin_ids
        )

    async def _refuse(self, event: Event, verdict: Verdict) -> None:
        t = translator(language_for(event.sender.language_code))
        text = t(
            "You are sending messages faster than I can handle them. Please wait a minute; "
            "anything I did not answer, send again then."
        )
        with contextlib.suppress(Undeliverable, TransportError, BadRequest):
            if event.callback_id:
                say = verdict is Verdict.REFUSE_AND_SAY
                await self._sending.answer_callback(
                    event.chat_id, event.callback_id, text if say else None, alert=say
                )
            elif verdict is Verdict.REFUSE_AND_SAY:
                await self._sending.send_text(event.chat_id, text)

    async def drain(self) -> None:
        await self._lanes.drain()
        await self._albums.flush_all()
        await self.broadcasts.stop()  # shutting down: a running broadcast records where it got

    async def _handle_safely(self, event: Event) -> None:
        verdict = self._refused.pop(event.update_id, None)
        if verdict is not None:
            await self._refuse(event, verdict)
            return
        try:
            await self.handle(event)
        except Exception:
            # The last line of defence: log ids only, never content.
            log.exception("update failed", extra={"update_id": event.update_id})

    async def handle(self, event: Event) -> None:
        signer = self._sending.signer
        if event.kind is EventKind.CALLBACK and signer is not None:
            # Only data the bot signed for this chat goes further; anything else reads as
            # an invalid button.
            verified = signer.verify(event.chat_id, event.callback_data)
            event = dataclasses.replace(event, callback_data=verified or "")
        if event.reply_to_message_id is not None or event.kind is EventKind.EDITED_MESSAGE:
            # A reply to (or an edit of) a relayed message is routed by the stored mapping
            # of copies; a copy still being sent from another person's lane is not in it yet.
            await self._in_flight.settled(event.chat_id)
        now = self._clock()
        unreadable = False
        async with UnitOfWork(self._sessions) as uow:
            if not await uow.processed_updates.claim(event.update_id, now):
                log.info("duplicate update dropped", extra={"update_id": event.update_id})
                return
            language = language_for(event.sender.language_code)
            actions: list[Action] = []
            try:
                user = await uow.users.by_telegram_id(event.user_id)
                if user is not None and has_unopened(user):
                    raise UnreadableValue("the sender's own profile")
                conversation = await uow.conversations.get(event.user_id)
            except UnreadableValue:
                # Fail closed: no key opens this user's own data, so nothing is handled and
                # nothing overwritten; `rotate-keys` lists the rows for the admins.
                log.error("sender's data cannot be opened", extra={"update_id": event.update_id})
                unreadable = True
            if not unreadable:
                language = user.language if user else language
                turn = Turn(
                    event=event,
                    uow=uow,
                    t=translator(language),
                    config=self._config,
                    now=now,
                    user=user,
                    conversation=conversation,
                )
                try:
                    await route(turn)
                    await uow.commit()
                    actions = turn.actions
                except Exception:
                    log.exception("handler failed", extra={"update_id": event.update_id})
                    actions = []
                    uow.changed_appointments.clear()
                    uow.changed_doctors.clear()
        if not actions and event.kind is not EventKind.BLOCKED:
            actions = await self._apologise(event, now, language, unreadable)
        await self._perform(event, actions)
        # Planning after the replies: a reminder already due must not beat "Booked!" to the chat.
        if uow.changed_appointments or uow.changed_doctors:
            try:
                await self._planner.changed(uow.changed_appointments, uow.changed_doctors)
            except Exception:
                # The change is saved; start-up re-planning catches up what this missed.
                log.exception("planning failed", extra={"update_id": event.update_id})
        self._handled += 1
        if self._handled % 1000 == 0:
            await self._prune(now)

    async def _apologise(
        self, event: Event, now: datetime, language: str, unreadable: bool = False
    ) -> list[Action]:
        """After a failure: the update still counts as handled, and the user hears why."""
        async with UnitOfWork(self._sessions) as uow:
            await uow.processed_updates.claim(event.update_id, now)
            await uow.commit()
        t = translator(language)
        text = t("Sorry, something went wrong on our side. Please try again in a moment.")
        if unreadable:
            text = t(
                "Sorry, part of your stored data cannot be opened right now, so I can't help "
                "with this. The clinic's admins can see the problem; please contact the clinic."
            )
        if event.kind is EventKind.CALLBACK:
            return [Answer(text, alert=True)]
        if event.kind is EventKind.MESSAGE:
            return [Reply(text)]
        if event.kind is EventKind.PRE_CHECKOUT and event.pre_checkout is not None:
            # Unanswered, the payment form would spin for 10 seconds: refuse it plainly.
            return [AnswerPreCheckout(event.pre_checkout.id, False, plain(text))]
        return []

    async def _perform(self, event: Event, actions: list[Action]) -> None:
        answered = False
        chat = event.chat_id
        for action in actions:
            try:
                if isinstance(action, Reply):
                    await self._sending.send_text(chat, action.text, action.markup, action.reply_to)
                elif isinstance(action, Edit):
                    await self._sending.edit_text(
                        chat, action.message_id, action.text, action.markup
                    )
                elif isinstance(action, Answer) and event.callback_id and not answered:
                    answered = True
                    await self._sending.answer_callback(
                        chat, event.callback_id, action.text, action.alert
                    )
                elif isinstance(action, Delete):
                    await self._sending.delete_message(chat, action.message_id)
                elif isinstance(action, SetCommands):
                    await self._sending.set_chat_commands(chat, list(action.commands))
                elif isinstance(action, SendDocument):
                    await self._sending.send_document(chat, action.document, action.caption)
                elif isinstance(action, SendStoredFile):
                    await self._sending.send_document_by_id(
                        chat, action.file_id, action.caption, action.kind
                    )
                elif isinstance(action, Notify):
                    await self._notify(event, action)
                elif isinstance(action, CopyOut) and action.album:
                    self._albums.add(event, action)
                elif isinstance(action, CopyOut):
                    await self._albums.flush_chat(action.from_chat)
                    await self._copy_out(event, action)
                elif isinstance(action, SendPhoto):
                    await self._send_photo(event, action)
                elif isinstance(action, StartBroadcast):
                    self.broadcasts.start(action.broadcast_id)
                elif isinstance(action, EditCopy):
                    await self._edit_copy(event, action)
                elif isinstance(action, SendInvoice):
                    await self._sending.send_invoice(chat, action.invoice)
                elif isinstance(action, AnswerPreCheckout):
                    await self._sending.answer_pre_checkout_query(
                        chat, action.query_id, action.ok, action.error_message
                    )
                elif isinstance(action, RefundStars):
                    await carry_out_star_refund(self._sessions, self._sending, self._clock, action)
            except Undeliverable:
                return  # marked unreachable by the sending path; nothing more to send
            except BadRequest as exc:
                log.warning(
                    "telegram refused an action",
                    extra={
                        "update_id": event.update_id,
                        "action": type(action).__name__,
                        "reason": str(exc)[:120],
                    },
                )
            except TransportError as exc:
                log.warning(
                    "sending failed",
                    extra={"update_id": event.update_id, "reason": type(exc).__name__},
                )
        if event.callback_id and not answered:
            # Every callback is answered, or the button keeps spinning.
            with contextlib.suppress(Undeliverable, TransportError):
                await self._sending.answer_callback(chat, event.callback_id)

    async def _send_photo(self, event: Event, action: SendPhoto) -> None:
        """Rendered here, after commit and in a worker thread, so no transaction waits on it."""
        try:
            data = await asyncio.to_thread(action.render)
        except Exception:
            log.exception("picture not rendered", extra={"update_id": event.update_id})
            return
        photo = Document(action.filename, data, "image/png")
        await self._sending.send_photo(event.chat_id, photo, action.caption)

    async def _notify(self, event: Event, action: Notify) -> None:
        """Someone else's chat: their failure (blocked bot) must not stop the sender's replies."""
        try:
            await self._sending.send_text(action.chat_id, action.text, action.markup)
            if action.document is not None:
                await self._sending.send_document(action.chat_id, action.document)
        except (Undeliverable, TransportError) as exc:
            log.info(
                "notification not delivered",
                extra={"update_id": event.update_id, "reason": type(exc).__name__},
            )

    async def _copy_out(self, event: Event, action: CopyOut) -> None:
        async with self._in_flight.copying(action.from_chat, action.to_chat):
            await self._copy_out_now(event, action)

    async def _copy_out_now(self, event: Event, action: CopyOut) -> None:
        """Carry a message across; if the other side can't get it, the sender is told."""
        try:
            if action.header:
                await self._sending.send_text(action.to_chat, action.header)
            sent = await self._copy_or_voice_as_file(action)
        except (Undeliverable, TransportError) as exc:
            log.info(
                "relay not delivered",
                extra={"update_id": event.update_id, "reason": type(exc).__name__},
            )
            await self._mark_undelivered([action.relayed_id])
            with contextlib.suppress(Undeliverable, TransportError):
                await self._sending.send_text(event.chat_id, action.undelivered_text)
            return
        async with UnitOfWork(self._sessions) as uow:
            relayed = await uow.consultations.relayed(action.relayed_id)
            if relayed is not None:
                relayed.copy_chat_id, relayed.copy_message_id = sent.chat_id, sent.message_id
            await uow.commit()

    async def _copy_album(self, parts: list[tuple[Event, CopyOut]]) -> None:
        first = parts[0][1]
        async with self._in_flight.copying(first.from_chat, first.to_chat):
            await self._copy_album_now(parts)

    async def _copy_album_now(self, parts: list[tuple[Event, CopyOut]]) -> None:
        event, first = parts[0]
        ordered = sorted(parts, key=lambda part: part[1].message_id)
        try:
            header = next((a.header for _, a in ordered if a.header), None)
            if header:
                await self._sending.send_text(first.to_chat, header)
            sent = await self._sending.copy_messages(
                first.to_chat, first.from_chat, [a.message_id for _, a in ordered]
            )
        except (Undeliverable, TransportError) as exc:
            log.info(
                "album not delivered",
                extra={"update_id": event.update_id, "reason": type(exc).__name__},
            )
            await self._mark_undelivered([a.relayed_id for _, a in ordered])
            with contextlib.suppress(Undeliverable, TransportError):
                await self._sending.send_text(event.chat_id, first.undelivered_text)
            return
        async with UnitOfWork(self._sessions) as uow:
            for (_, action), copy in zip(ordered, sent, strict=False):
                relayed = await uow.consultations.relayed(action.relayed_id)
                if relayed is not None:
                    relayed.copy_chat_id, relayed.copy_message_id = copy.chat_id, copy.message_id
            await uow.commit()

    async def _mark_undelivered(self, relayed_ids: list[int]) -> None:
        async with UnitOfWork(self._sessions) as uow:
            for relayed_id in relayed_ids:
                relayed = await uow.consultations.relayed(relayed_id)
                if relayed is not None:
                    relayed.delivered = False
            await uow.commit()

    async def _copy_or_voice_as_file(self, action: CopyOut) -> SentMessage:
        try:
            return await self._sending.copy_message(
                action.to_chat, action.from_chat, action.message_id, reply_to=action.reply_to
            )
        except BadRequest as exc:
            # A recipient whose privacy settings refuse voice messages still gets the
            # recording, as an audio file.
            if action.kind != "voice" or not action.file_id:
                raise
            if "voice_messages_forbidden" not in str(exc).lower():
                raise
            data = await self._sending.download(action.to_chat, action.file_id)
            return await self._sending.send_document(
                action.to_chat, Document("voice-message.ogg", data, "audio/ogg")
            )

    async def _edit_copy(self, event: Event, action: EditCopy) -> None:
        try:
            if action.caption:
                await self._sending.edit_caption(action.to_chat, action.message_id, action.text)
            else:
                await self._sending.edit_text(action.to_chat, action.message_id, action.text)
        except (Undeliverable, TransportError) as exc:
            log.info(
                "relayed edit not delivered",
                extra={"update_id": event.update_id, "reason": type(exc).__name__},
            )

    async def _prune(self, now: datetime) -> None:
        async with UnitOfWork(self._sessions) as uow:
            await uow.processed_updates.prune(now - PROCESSED_UPDATES_KEPT)
            await uow.commit()
