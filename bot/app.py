"""Composition root: builds settings-driven parts (storage, sending path, core) and runs them.

Nothing heavy happens at import time; `run_bot` is the only entry.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.errors import StartupError
from bot.keys import load_cipher
from bot.settings import Settings
from handlers.dispatcher import Dispatcher, utc_now
from handlers.port import Messenger
from handlers.sending import Limits, RateLimiter, SendingPath
from handlers.turn import CoreConfig
from storage.crypto import Cipher
from storage.database import check_connection, create_engine, session_factory
from storage.migrate import check_keys, prepare_schema
from storage.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)


async def open_storage(
    settings: Settings, cipher: Cipher
) -> tuple[AsyncEngine, async_sessionmaker[AsyncSession]]:
    engine = create_engine(settings.database_url, cipher)
    try:
        await check_connection(engine, settings.database_url)
        if await prepare_schema(engine):
            log.info("database schema created")
        sessions = session_factory(engine)
        await check_keys(sessions)
    except BaseException:
        await engine.dispose()
        raise
    return engine, sessions


def build_core(
    settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> Callable[[Messenger], Dispatcher]:
    async def mark_unreachable(chat_id: int) -> None:
        async with UnitOfWork(sessions) as uow:
            await uow.users.set_unreachable(chat_id, utc_now())
            await uow.commit()

    limits = Limits(
        global_rate=settings.send_rate_global,
        per_chat_rate=settings.send_rate_per_chat,
        per_chat_burst=settings.send_burst_per_chat,
    )
    config = CoreConfig(
        admin_ids=frozenset(settings.admin_ids), default_timezone=settings.default_timezone
    )

    def build(messenger: Messenger) -> Dispatcher:
        sending = SendingPath(messenger, RateLimiter(limits), mark_unreachable)
        return Dispatcher(sessions, sending, config)

    return build


async def run_bot(settings: Settings, framework: str) -> None:
    token = settings.require_token()
    cipher = load_cipher(settings)
    engine, sessions = await open_storage(settings, cipher)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)

    def ready(username: str) -> None:
        log.info("ready", extra={"framework": framework, "bot": username})

    try:
        if framework == "ptb":
            from bot.ptb_adapter import run_polling
        else:
            raise StartupError(f"framework {framework!r} is not available; use --framework ptb")
        await run_polling(
            token, settings.telegram_api_base_url, build_core(settings, sessions), stop, ready
        )
    finally:
        await engine.dispose()
    log.info("stopped")
