"""Start-up as a person sees it: one plain line for every problem, never a traceback."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from cryptography.fernet import Fernet

from bot.emulator import BotApiEmulator
from bot.settings import SETTING_HELP
from storage.crypto import generate_key
from tests.support.bot_process import BotProcess, run_to_exit

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.e2e]

TOKEN = "654321:STARTUP-token-abcdef"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def emulator() -> AsyncIterator[BotApiEmulator]:
    emu = BotApiEmulator(token=TOKEN, bot_username="startup_bot")
    await emu.start()
    yield emu
    await emu.stop()


def one_plain_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    assert lines[0].startswith("error: ")
    return lines[0]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_help_documents_every_flag_and_setting(tmp_path: Path) -> None:
    code, out, _ = await run_to_exit(["--help"], {}, tmp_path)
    assert code == 0
    for name in SETTING_HELP:
        assert name in out
    for word in ("--framework", "migrate", "generate-key", "run"):
        assert word in out


async def test_generate_key_prints_a_fernet_key(tmp_path: Path) -> None:
    code, out, _ = await run_to_exit(["generate-key"], {}, tmp_path)
    assert code == 0
    Fernet(out.strip().encode())  # raises if it is not a key


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "BOT_TOKEN is not set"),
        ({"BOT_TOKEN": "not-a-token"}, "BOT_TOKEN does not look like a bot token"),
        ({"BOT_TOKEN": TOKEN, "ENCRYPTION_KEYS": "abc"}, "ENCRYPTION_KEYS is invalid"),
        ({"BOT_TOKEN": TOKEN, "ADMIN_IDS": "me"}, "ADMIN_IDS is invalid"),
        ({"BOT_TOKEN": TOKEN, "DEFAULT_TIMEZONE": "Moon/Base"}, "DEFAULT_TIMEZONE is invalid"),
        (
            {
                "BOT_TOKEN": TOKEN,
                "DATABASE_URL": "postgresql://nobody@127.0.0.1:9/none",
                "ENCRYPTION_KEYS": generate_key(),
            },
            "cannot reach the database",
        ),
        (
            {"BOT_TOKEN": TOKEN, "DATABASE_URL": "postgresql://nobody@127.0.0.1:9/none"},
            "ENCRYPTION_KEYS is not set",
        ),
    ],
)
async def test_bad_settings_stop_with_one_line(
    tmp_path: Path, env: dict[str, str], expected: str
) -> None:
    code, _, err = await run_to_exit([], env, tmp_path)
    assert code == 2
    assert expected in one_plain_line(err)


# `framework` (tests/e2e/conftest.py) runs each test that asks for it on ptb and on aiogram.
async def test_a_token_telegram_rejects(
    tmp_path: Path, emulator: BotApiEmulator, framework: str
) -> None:
    env = {"BOT_TOKEN": "111:SOMEONE-elses-token", "TELEGRAM_API_BASE_URL": emulator.base_url}
    code, _, err = await run_to_exit(["--framework", framework], env, tmp_path)
    assert code == 2
    assert "Telegram rejected BOT_TOKEN" in one_plain_line(err)


async def test_an_unreachable_bot_api(tmp_path: Path, framework: str) -> None:
    env = {"BOT_TOKEN": TOKEN, "TELEGRAM_API_BASE_URL": f"http://127.0.0.1:{free_port()}"}
    code, _, err = await run_to_exit(["--framework", framework], env, tmp_path)
    assert code == 2
    assert "cannot reach the Bot API" in one_plain_line(err)


async def test_key_file_is_created_loudly_and_a_wrong_key_is_refused(
    tmp_path: Path, emulator: BotApiEmulator, framework: str
) -> None:
    env = {"BOT_TOKEN": TOKEN, "TELEGRAM_API_BASE_URL": emulator.base_url}
    args = ["--framework", framework]
    bot = BotProcess(env, tmp_path, args)
    await bot.start()
    assert await bot.stop() == 0
    key_file = tmp_path / "clinic.db.key"
    assert key_file.exists()
    assert "NEW ENCRYPTION KEY CREATED" in bot.log_text()
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"

    # The same key file again: starts quietly.
    again = BotProcess(env, tmp_path, args)
    await again.start()
    assert await again.stop() == 0
    assert "NEW ENCRYPTION KEY CREATED" not in again.log_text()

    code, _, err = await run_to_exit(args, {**env, "ENCRYPTION_KEYS": generate_key()}, tmp_path)
    assert code == 2
    assert "none of the keys" in one_plain_line(err)

    key_file.rename(tmp_path / "elsewhere.key")
    code, _, err = await run_to_exit(args, env, tmp_path)
    assert code == 2
    assert "already holds data" in one_plain_line(err)
    assert not key_file.exists(), "no new key may be made for existing data"


async def test_migrate_command_then_start(tmp_path: Path, emulator: BotApiEmulator) -> None:
    key = generate_key()
    env = {"BOT_TOKEN": TOKEN, "TELEGRAM_API_BASE_URL": emulator.base_url, "ENCRYPTION_KEYS": key}
    code, out, err = await run_to_exit(["migrate"], env, tmp_path)
    assert code == 0, err
    assert out.startswith("database schema created (revision ")
    code, out, _ = await run_to_exit(["migrate"], env, tmp_path)
    assert code == 0
    assert out.startswith("database schema is up to date (revision ")
    bot = BotProcess(env, tmp_path)
    await bot.start()
    assert await bot.stop() == 0


async def test_migrate_says_which_revisions_it_moved_between(tmp_path: Path) -> None:
    """An old database (here at revision 0004) is upgraded, and the line says from where."""
    from alembic import command

    from storage.crypto import Cipher
    from storage.database import create_engine
    from storage.migrate import _config, head_revision

    url = f"sqlite:///{tmp_path / 'clinic.db'}"
    engine = create_engine(url, Cipher([generate_key()]))

    def to_0004(connection: object) -> None:
        config = _config()
        config.attributes["connection"] = connection
        command.upgrade(config, "0004")

    async with engine.begin() as conn:
        await conn.run_sync(to_0004)
    await engine.dispose()
    code, out, err = await run_to_exit(["migrate"], {"DATABASE_URL": url}, tmp_path)
    assert code == 0, err
    assert out.strip() == f"database schema upgraded from revision 0004 to {head_revision()}"
