"""Sends a confirmed broadcast in the background, after the turn that confirmed it committed.

Recipients are read in pages through a fresh unit of work each (no transaction stays open while
sending); every message goes through the one sending path, so the overall and per-chat limits,
429 retry_after and 403 handling are the same as for replies. Progress is shown by editing ONE
status message in the admin's chat, at most every 10 sends and every 2 seconds, and the row's
counters are saved after each page. Users known to have blocked the bot are not tried again and
count as blocked; banned and erased users are not in the audience at all.

On shutdown a running broadcast is stopped (never waited for: thousands of messages take
minutes); its row says "interrupted" with what was sent, and the status message says so.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handlers.i18n import Translator, translator
from handlers.port import TransportError
from handlers.sending import Blocked, SendingPath, Undeliverable
from storage.models import Broadcast
from storage.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)

PAGE = 200
EDIT_EVERY_SENDS = 10
EDIT_EVERY_SECONDS = 2.0


def broadcast_body(text: str) -> str:
    """The admin's plain text as it goes out (and is previewed): shown literally, not as HTML."""
    return html.escape(text, quote=False)


def audience_label(t: Translator, audience: str) -> str:
    labels = {
        "patients": t("patients"),
        "doctors": t("doctors"),
        "everyone": t("everyone (patients and doctors)"),
    }
    return labels.get(audience, audience)


def progress_text(t: Translator, row: Broadcast) -> str:
    counts = {
        "audience": audience_label(t, row.audience),
        "done": row.delivered + row.blocked + row.failed,
        "total": row.total,
        "delivered": row.delivered,
        "blocked": row.blocked,
        "failed": row.failed,
    }
    if row.status == "done":
        return t(
            "📣 Broadcast to {audience} finished.\n"
            "Delivered: {delivered}\nBlocked the bot: {blocked}\nFailed: {failed}",
            **counts,
        )
    if row.status == "interrupted":
        return t(
            "📣 Broadcast to {audience} stopped: the bot was shut down after {done} of "
            "{total}.\nDelivered: {delivered}\nBlocked the bot: {blocked}\nFailed: {failed}",
            **counts,
        )
    return t(
        "📣 Sending to {audience}: {done} of {total}…\n"
        "Delivered: {delivered}\nBlocked the bot: {blocked}\nFailed: {failed}",
        **counts,
    )


@dataclass
class _Counts:
    delivered: int = 0
    blocked: int = 0
    failed: int = 0


class BroadcastSender:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        sending: SendingPath,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._sessions = sessions
        self._sending = sending
        self._clock = clock
        self._now = now
        self._tasks: dict[int, asyncio.Task[None]] = {}

    def start(self, broadcast_id: int) -> None:
        if broadcast_id in self._tasks:
            return  # already running here
        task = asyncio.create_task(self._run(broadcast_id))
        self._tasks[broadcast_id] = task
        task.add_done_callback(lambda _t: self._tasks.pop(broadcast_id, None))

    async def wait(self) -> None:
        """Until every running broadcast has finished (tests)."""
        while self._tasks:
            await asyncio.gather(*self._tasks.values(), return_exceptions=True)

    async def stop(self) -> None:
        """Shutdown: stop what is running; each records itself as interrupted."""
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _run(self, broadcast_id: int) -> None:
        counts = _Counts()
        try:
            await self._send_all(broadcast_id, counts)
        except asyncio.CancelledError:
            await self._finish(broadcast_id, counts, "interrupted")
            raise
        except Exception:
            log.exception("broadcast failed", extra={"broadcast_id": broadcast_id})
            await self._finish(broadcast_id, counts, "interrupted")

    async def _send_all(self, broadcast_id: int, counts: _Counts) -> None:
        async with UnitOfWork(self._sessions) as uow:
            row = await uow.admin.broadcast(broadcast_id)
            if row is None or row.status != "sending":
                return
            audience, body = row.audience, broadcast_body(row.text)
        log.info("broadcast started", extra={"broadcast_id": broadcast_id})
        after, since_edit, last_edit = 0, 0, self._clock()
        while True:
            async with UnitOfWork(self._sessions) as uow:
                page = await uow.admin.recipients(audience, after, PAGE)
            if not page:
                break
            for user_id, chat_id, unreachable in page:
                after = user_id
                await self._send_one(chat_id, body, unreachable, counts)
                since_edit += 1
                if (
                    since_edit >= EDIT_EVERY_SENDS
                    and self._clock() - last_edit >= EDIT_EVERY_SECONDS
                ):
                    await self._save(broadcast_id, counts, "sending")
                    since_edit, last_edit = 0, self._clock()
            await self._save(broadcast_id, counts, "sending", edit=False)
        await self._finish(broadcast_id, counts, "done")
        log.info(
            "broadcast finished",
            extra={
                "broadcast_id": broadcast_id,
                "delivered": counts.delivered,
                "blocked": counts.blocked,
                "failed": counts.failed,
            },
        )

    async def _send_one(self, chat_id: int, body: str, unreachable: bool, counts: _Counts) -> None:
        if unreachable:
            counts.blocked += 1  # blocked the bot earlier: not tried again
            return
        try:
            await self._sending.send_text(chat_id, body)
        except Blocked:
            counts.blocked += 1
        except (Undeliverable, TransportError):
            counts.failed += 1
        else:
            counts.delivered += 1

    async def _finish(self, broadcast_id: int, counts: _Counts, status: str) -> None:
        with contextlib.suppress(Exception):
            await self._save(broadcast_id, counts, status, finished=True)

    async def _save(
        self,
        broadcast_id: int,
        counts: _Counts,
        status: str,
        edit: bool = True,
        finished: bool = False,
    ) -> None:
        async with UnitOfWork(self._sessions) as uow:
            row = await uow.admin.broadcast(broadcast_id)
            if row is None:
                return
            row.delivered, row.blocked, row.failed = counts.delivered, counts.blocked, counts.failed
            row.status = status
            if finished:
                row.finished_at = self._now()
            chat, message = row.status_chat_id, row.status_message_id
            text = None
            if edit and chat is not None and message is not None:
                # Read each time: the admin may switch language while a long send runs.
                admin = await uow.users.by_telegram_id(row.created_by)
                text = progress_text(translator(admin.language if admin else "en"), row)
            await uow.commit()
        if text is not None and chat is not None and message is not None:
            try:
                await self._sending.edit_text(chat, message, text)
            except (Undeliverable, TransportError) as exc:
                log.info(
                    "broadcast status not shown",
                    extra={"broadcast_id": broadcast_id, "reason": type(exc).__name__},
                )
