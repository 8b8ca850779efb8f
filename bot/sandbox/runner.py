"""Starts the sandbox: emulator, the real bot (the same `run_bot` as `python bot.py`), chat page.

All three share one asyncio loop. The bot gets ordinary settings that point it at the emulator,
so it cannot tell the sandbox from Telegram; nothing in handlers/ knows the sandbox exists.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr

from bot.app import open_storage, run_bot
from bot.emulator import BotApiEmulator
from bot.errors import StartupError
from bot.keys import load_cipher
from bot.settings import Settings
from clinic.payments import STARS
from storage.unit_of_work import UnitOfWork

from .demo import ADMIN_ID, add_admin, seed_demo
from .personas import PersonaBook
from .web import SandboxWeb, start_web, stop_web

log = logging.getLogger(__name__)

HOST = "127.0.0.1"  # loopback only: the sandbox is for the person at this computer
# A well-formed token for the emulator alone; it opens nothing on Telegram.
SANDBOX_TOKEN = "777000:sandbox-local-only"  # noqa: S105
READY_TIMEOUT_SECONDS = 120.0  # the bot's first long poll; a database migration comes before


@dataclass(frozen=True)
class SandboxOptions:
    framework: str = "ptb"
    port: int = 8080
    data_dir: Path = Path("sandbox-data")
    seed_demo: bool = False


def sandbox_settings(base: Settings, api_root: str, data_dir: Path) -> Settings:
    """The user's settings (time zone, log level, limits) aimed at the emulator and data_dir.

    Payments are on: unless PAYMENT_CURRENCY (or a card PAYMENT_PROVIDER_TOKEN) was set, the
    sandbox charges in Telegram Stars, which need no provider token."""
    update: dict[str, object] = {
        "bot_token": SecretStr(SANDBOX_TOKEN),
        "telegram_api_base_url": api_root,
        "database_url": f"sqlite:///{data_dir / 'sandbox.db'}",
        "admin_ids": (ADMIN_ID,),
        # The key lives in sandbox.db.key beside the database, made on the first run.
        "encryption_keys": None,
    }
    if "payment_currency" not in base.model_fields_set and base.payment_provider_token is None:
        update["payment_currency"] = STARS
    return base.model_copy(update=update)


async def _prepare(settings: Settings, book: PersonaBook, seed: bool) -> int | None:
    """Seed the demo clinic if asked; returns the newest update id the bot has handled in
    this data folder, so the emulator numbers new updates after it."""
    engine, sessions = await open_storage(settings, load_cipher(settings))
    try:
        if seed and await seed_demo(sessions, book, settings.payment_currency):
            log.info("sandbox demo clinic seeded")
        async with UnitOfWork(sessions) as uow:
            return await uow.processed_updates.newest()
    finally:
        await engine.dispose()


async def run_sandbox(options: SandboxOptions, base: Settings) -> None:
    """Run until Ctrl+C or SIGTERM; prints the page's address once the bot is polling."""
    loop = asyncio.get_running_loop()
    main = asyncio.current_task()
    assert main is not None
    stopping = False

    def stop_early() -> None:
        # Before run_bot installs its own handlers (which finish in-flight work), a signal
        # simply ends start-up; the finally blocks below still close everything.
        nonlocal stopping
        stopping = True
        main.cancel()

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop_early)

    data_dir = options.data_dir.resolve()
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StartupError(f"cannot create the sandbox folder {data_dir}: {exc}") from None
    emulator = BotApiEmulator(
        token=SANDBOX_TOKEN, bot_username="clinic_sandbox_bot", bot_first_name="Clinic"
    )
    await emulator.start(HOST, 0)
    web_app: SandboxWeb | None = None
    web_runner = None
    bot_task: asyncio.Task[None] | None = None
    try:
        settings = sandbox_settings(base, emulator.base_url, data_dir)
        book = PersonaBook(data_dir / "personas.json", emulator)
        book.load()
        add_admin(book)
        handled = await _prepare(settings, book, options.seed_demo)
        if handled is not None:
            # A restart with the same folder: the bot drops update ids it has handled before.
            emulator.state.continue_after(handled)
        web_app = SandboxWeb(emulator, book)
        try:
            web_runner, address = await start_web(web_app, HOST, options.port)
        except OSError as exc:
            raise StartupError(
                f"the sandbox page cannot listen on {HOST}:{options.port} ({exc.strerror}); "
                "pick another port with --port"
            ) from None
        bot_task = asyncio.create_task(run_bot(settings, options.framework))
        await _until_polling(emulator, bot_task)
        print(f"Sandbox: open {address} (Ctrl+C stops)", flush=True)
        await bot_task  # run_bot returns once a signal asked it to stop
    except asyncio.CancelledError:
        if not stopping:
            raise
    finally:
        if bot_task is not None and not bot_task.done():
            bot_task.cancel()
            await asyncio.gather(bot_task, return_exceptions=True)
        if web_app is not None and web_runner is not None:
            await stop_web(web_app, web_runner)
        await emulator.stop()
        sys.stdout.flush()


async def _until_polling(emulator: BotApiEmulator, bot_task: asyncio.Task[None]) -> None:
    """Wait for the bot's first getUpdates, or for the bot to fail starting (its error wins)."""
    polling = asyncio.create_task(
        emulator.wait_for_call("getUpdates", timeout=READY_TIMEOUT_SECONDS)
    )
    try:
        await asyncio.wait({polling, bot_task}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        polling.cancel()
    if bot_task.done():
        bot_task.result()  # re-raises the bot's start-up error as the person should see it
        raise StartupError("the bot stopped before it started polling the sandbox")
    if polling.cancelled() or polling.exception() is not None:
        raise StartupError(
            f"the bot did not start polling within {READY_TIMEOUT_SECONDS:.0f}s; see the log above"
        )
