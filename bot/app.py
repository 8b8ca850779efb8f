"""Composition root: builds settings-driven parts (storage, sending path, core) and runs them.

Nothing heavy happens at import time; `run_bot` is the only entry.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.errors import StartupError
from bot.keys import check_key_settings, load_cipher
from bot.settings import Settings
from handlers.callback_signing import CallbackSigner
from handlers.dispatcher import Dispatcher, utc_now
from handlers.planning import JobPlanner
from handlers.port import Messenger
from handlers.sending import Limits, RateLimiter, SendingPath
from handlers.turn import CoreConfig
from jobs import runtime as job_runtime
from jobs.planner import SchedulerPlanner
from jobs.runtime import JobSettings
from jobs.scheduler import build_scheduler
from jobs.tasks import record_missed
from storage.crypto import Cipher, generate_key
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


async def check_database(settings: Settings) -> None:
    """Fail on an unreachable database before talking to Telegram, leaving nothing behind."""
    database = settings.sqlite_path()
    if database is not None:
        if not database.absolute().parent.is_dir():
            raise StartupError(
                f"the folder for the database file {database} does not exist. Create it or "
                "change DATABASE_URL."
            )
        return
    engine = create_engine(settings.database_url, Cipher([generate_key()]))
    try:
        await check_connection(engine, settings.database_url)
    finally:
        await engine.dispose()


def core_opener(
    settings: Settings,
) -> Callable[[Messenger], AbstractAsyncContextManager[Dispatcher]]:
    """What an adapter calls once Telegram has accepted the token: storage, then the core."""

    @asynccontextmanager
    async def open_core(messenger: Messenger) -> AsyncIterator[Dispatcher]:
        cipher = load_cipher(settings)
        engine, sessions = await open_storage(settings, cipher)
        try:
            username = await messenger.bot_username()
            # One sending path (one rate limiter) for replies and scheduled jobs alike.
            signer = CallbackSigner(cipher.subkeys(b"clinic-callback-signature"))
            sending = build_sending(settings, sessions, messenger, signer)
            config = core_config(settings, username)
            async with scheduled_jobs(settings, sessions, sending, config) as planner:
                yield build_dispatcher(
                    settings, sessions, messenger, username, planner=planner, sending=sending
                )
        finally:
            await engine.dispose()

    return open_core


@asynccontextmanager
async def scheduled_jobs(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    sending: SendingPath,
    config: CoreConfig,
) -> AsyncIterator[SchedulerPlanner]:
    """The scheduler, started in every process so the planner can write jobs to the store,
    and resumed (jobs actually run) only where RUN_SCHEDULER is true: exactly one process."""
    job_settings = JobSettings(
        reminder_offsets=settings.reminder_offsets_minutes,
        no_show_after=timedelta(minutes=settings.no_show_after_minutes),
        feedback_after=timedelta(minutes=settings.feedback_after_minutes),
        idle_after=timedelta(minutes=settings.conversation_idle_minutes),
        core=config,
    )
    # Job functions find the session factory, sending path, settings and clock here: APScheduler
    # stores only a function reference and plain ids (see jobs/runtime.py).
    job_runtime.install(job_runtime.Runtime(sessions, sending, job_settings))
    loop = asyncio.get_running_loop()
    recording: set[asyncio.Task[None]] = set()

    def on_missed(job_id: str, run_time: datetime) -> None:
        def spawn() -> None:
            task = loop.create_task(record_missed(job_id, run_time))
            recording.add(task)
            task.add_done_callback(recording.discard)

        loop.call_soon_threadsafe(spawn)

    scheduler = build_scheduler(settings.database_url, on_missed)
    scheduler.start(paused=True)
    try:
        planner = SchedulerPlanner(scheduler, sessions, job_settings)
        await planner.replan_all()
        if settings.run_scheduler:
            scheduler.resume()
            log.info("scheduler running")
        else:
            log.info("scheduler not run here (RUN_SCHEDULER=false); jobs are only planned")
        yield planner
    finally:
        await scheduler.close()
        if recording:
            await asyncio.gather(*recording, return_exceptions=True)
        job_runtime.install(None)


def build_sending(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    messenger: Messenger,
    signer: CallbackSigner | None = None,
) -> SendingPath:
    async def mark_unreachable(chat_id: int) -> None:
        async with UnitOfWork(sessions) as uow:
            await uow.users.set_unreachable(chat_id, utc_now())
            await uow.commit()

    limits = Limits(
        global_rate=settings.send_rate_global,
        per_chat_rate=settings.send_rate_per_chat,
        per_chat_burst=settings.send_burst_per_chat,
    )
    return SendingPath(messenger, RateLimiter(limits), mark_unreachable, signer=signer)


def build_dispatcher(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    messenger: Messenger,
    bot_username: str,
    planner: JobPlanner | None = None,
    sending: SendingPath | None = None,
) -> Dispatcher:
    sending = sending or build_sending(settings, sessions, messenger)
    return Dispatcher(sessions, sending, core_config(settings, bot_username), planner=planner)


def core_config(settings: Settings, bot_username: str) -> CoreConfig:
    return CoreConfig(
        admin_ids=frozenset(settings.admin_ids),
        default_timezone=settings.default_timezone,
        bot_username=bot_username,
        currency=settings.payment_currency,
        cancel_cutoff=timedelta(minutes=settings.cancel_cutoff_minutes),
        video_base_url=settings.video_room_base_url,
        clinic_name=settings.clinic_name,
        retention_keep=frozenset(settings.retention_keep),
        chat_log_retention_days=settings.chat_log_retention_days,
        session_idle=timedelta(minutes=settings.session_idle_minutes),
        incoming_per_minute=settings.incoming_per_minute,
        payment_provider_token=settings.provider_token(),
        hold_for=timedelta(minutes=settings.hold_minutes),
        refund_full_before=timedelta(hours=settings.refund_full_before_hours),
        late_cancel_refund_percent=settings.late_cancel_refund_percent,
    )


async def run_bot(settings: Settings, framework: str) -> None:
    token = settings.require_token()
    check_key_settings(settings)
    await check_database(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)

    def ready(username: str) -> None:
        log.info("ready", extra={"framework": framework, "bot": username})

    # Imported on demand: a run loads one framework, not both.
    if framework == "ptb":
        from bot.ptb_adapter import run_polling
    elif framework == "aiogram":
        from bot.aiogram_adapter import run_polling
    else:
        raise StartupError(
            f"framework {framework!r} is not available; use --framework ptb or --framework aiogram"
        )
    await run_polling(token, settings.telegram_api_base_url, core_opener(settings), stop, ready)
    log.info("stopped")
