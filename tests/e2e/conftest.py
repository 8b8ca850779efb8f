"""End-to-end world: the Bot API emulator in the test process, `python bot.py` as a child.

One bot process per test module (and per database kind and framework), so the suite stays fast.
Every test runs once on python-telegram-bot and once on aiogram: the adapters must agree.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.emulator import BotApiEmulator
from handlers.callback_signing import CallbackSigner
from storage.crypto import Cipher, generate_key
from storage.database import create_engine, session_factory
from storage.types import cipher_of
from tests.support.bot_process import BotProcess
from tests.support.databases import PG_SKIP_REASON, fresh_database, postgres_url

TOKEN = "123456:TEST-e2e-token-abcdef"
ADMIN_ID = 424242
FRAMEWORKS = ["ptb", "aiogram"]


@dataclass
class World:
    emulator: BotApiEmulator
    bot: BotProcess
    database_url: str
    db_kind: str
    workdir: Path
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]

    def database_files(self) -> list[Path]:
        return sorted(self.workdir.glob("clinic.db*"))

    def signed(self, chat_id: int, data: str) -> str:
        """Button data as the bot signs it for that chat: for a test that must push data no
        button on screen carries (a stale tap, or checks that hold behind the signature)."""
        cipher = cipher_of(self.engine.dialect)
        return CallbackSigner(cipher.subkeys(b"clinic-callback-signature")).sign(chat_id, data)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def e2e_db_kind(request: pytest.FixtureRequest) -> str:
    if request.param == "postgresql" and not postgres_url():
        pytest.skip(PG_SKIP_REASON)
    return str(request.param)


@pytest.fixture(scope="module", params=FRAMEWORKS)
def framework(request: pytest.FixtureRequest) -> str:
    """The Telegram framework the bot process runs on (`python bot.py --framework ...`)."""
    return str(request.param)


@pytest.fixture(scope="module")
def bot_env() -> dict[str, str]:
    """Settings a test module adds for its bot process: override this fixture in the module."""
    return {}


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(
    e2e_db_kind: str,
    framework: str,
    bot_env: dict[str, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[World]:
    workdir = tmp_path_factory.mktemp(f"bot-{e2e_db_kind}-{framework}")
    key = generate_key()
    emulator = BotApiEmulator(token=TOKEN, bot_username="clinic_test_bot")
    await emulator.start()
    async with fresh_database(e2e_db_kind, workdir) as database_url:
        bot = BotProcess(
            {
                "BOT_TOKEN": TOKEN,
                "TELEGRAM_API_BASE_URL": emulator.base_url,
                "DATABASE_URL": database_url,
                "ENCRYPTION_KEYS": key,
                "ADMIN_IDS": str(ADMIN_ID),
                "DEFAULT_TIMEZONE": "Europe/Berlin",
                "LOG_LEVEL": "INFO",
                # Scripted users answer instantly; a person never outpaces the default burst
                # or the incoming limit (tests/e2e/test_flood_e2e.py keeps the default).
                "SEND_BURST_PER_CHAT": "30",
                "INCOMING_PER_MINUTE": "1000",
                **bot_env,
            },
            cwd=workdir,
            args=["--framework", framework],
        )
        await bot.start()
        engine = create_engine(database_url, Cipher([key]))
        try:
            yield World(
                emulator,
                bot,
                database_url,
                e2e_db_kind,
                workdir,
                engine,
                session_factory(engine),
            )
        finally:
            await bot.stop()
            await engine.dispose()
            await emulator.stop()
