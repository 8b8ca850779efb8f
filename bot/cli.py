"""Command line: `python bot.py [--framework ptb|aiogram] [run|migrate|generate-key|rotate-keys|
sandbox]`."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from bot import logs
from bot.errors import StartupError
from bot.settings import SETTING_HELP, SettingsError, load_settings
from storage.crypto import generate_key
from storage.database import DatabaseUnavailable
from storage.key_rotation import BATCH_SIZE
from storage.migrate import KeysDoNotOpenData, SchemaOutdated

# Each of these ends start-up with its message alone: it is written for the person starting it.
PLAIN_ERRORS = (SettingsError, StartupError, DatabaseUnavailable, SchemaOutdated, KeysDoNotOpenData)

SETTINGS_EPILOG = (
    "settings (environment variables, or a .env file in the working directory):\n"
    + ("\n".join(f"  {name:<22} {text}" for name, text in SETTING_HELP.items()))
    + (
        "\n\ndefaults: DATABASE_URL=sqlite:///clinic.db (in the working directory), "
        "TELEGRAM_API_BASE_URL=https://api.telegram.org, DEFAULT_TIMEZONE=UTC, LOG_LEVEL=INFO.\n"
        "Without ENCRYPTION_KEYS a SQLite database gets a key file beside it (clinic.db.key) on "
        "the first run."
    )
)


def _positive(text: str) -> int:
    """A count of at least 1; anything else is argparse's one-line error and exit 2."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is too small: at least 1")
    return value


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog="python bot.py",
        description="Telemedicine consultation bot for Telegram.",
        epilog=SETTINGS_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    root.add_argument(
        "--framework",
        choices=["ptb", "aiogram"],
        default="ptb",
        help=(
            "the Telegram framework the bot runs on: ptb (python-telegram-bot, the default) or "
            "aiogram (aiogram 3); both behave the same"
        ),
    )
    commands = root.add_subparsers(dest="command", metavar="COMMAND")
    run = commands.add_parser("run", help="run the bot with long polling (the default)")
    commands.add_parser("migrate", help="bring the database schema up to date (Alembic)")
    commands.add_parser("generate-key", help="print a new encryption key for ENCRYPTION_KEYS")
    rotate = commands.add_parser(
        "rotate-keys",
        help="re-encrypt all stored data with the first key in ENCRYPTION_KEYS (safe while the "
        "bot runs; run again to finish an interrupted rotation)",
        description=(
            "Re-encrypts every encrypted value with the first (newest) key in ENCRYPTION_KEYS, "
            "in small batches, while the bot keeps serving. Exit 0: every value opens with the "
            "newest key alone, so the old keys can be removed. Exit 3: some values no key opens "
            "were left untouched and listed for the admins; keep the old keys."
        ),
    )
    rotate.add_argument(
        "--batch-size",
        type=_positive,
        default=BATCH_SIZE,
        help=f"rows per transaction ({BATCH_SIZE})",
    )
    sandbox = commands.add_parser(
        "sandbox",
        help="try the bot without Telegram: a local chat page in the browser (no token needed)",
        description=(
            "Runs the real bot against a local Telegram stand-in and serves a chat page on "
            "127.0.0.1, where you can be a patient, a doctor or the admin. No token, no network."
        ),
    )
    sandbox.add_argument(
        "--port", type=int, default=8080, help="port of the chat page on 127.0.0.1 (8080)"
    )
    # Also accepted after the subcommands that run the bot (`bot.py run --framework aiogram`);
    # SUPPRESS keeps the global flag's value when it is given before the subcommand instead.
    for runs_the_bot in (run, sandbox):
        runs_the_bot.add_argument(
            "--framework",
            choices=["ptb", "aiogram"],
            default=argparse.SUPPRESS,
            help="the Telegram framework the bot runs on (same as the global flag)",
        )
    sandbox.add_argument(
        "--seed-demo",
        action="store_true",
        help="fill in a small clinic: three doctors, two patients (only once per --data-dir)",
    )
    sandbox.add_argument(
        "--data-dir",
        type=Path,
        default=Path("sandbox-data"),
        help="folder for the sandbox's database, key file and personas (./sandbox-data); "
        "running again with the same folder keeps the data",
    )
    return root


async def _migrate(database_url: str) -> str:
    """Bring the schema to the newest revision; returns what was done, in one line."""
    from storage.crypto import Cipher
    from storage.database import check_connection, create_engine
    from storage.migrate import head_revision, schema_revision, upgrade

    # Migrations move schema, never sealed values: a throwaway cipher is enough.
    engine = create_engine(database_url, Cipher([generate_key()]))
    try:
        await check_connection(engine, database_url)
        before = await schema_revision(engine)
        await upgrade(engine)
    finally:
        await engine.dispose()
    head = head_revision()
    if before == head:
        return f"database schema is up to date (revision {head})"
    if before is None:
        return f"database schema created (revision {head})"
    return f"database schema upgraded from revision {before} to {head}"


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.command == "generate-key":
        print(generate_key())
        return 0
    try:
        settings = load_settings()
        logs.configure(settings.log_level)
        if args.command == "migrate":
            print(asyncio.run(_migrate(settings.database_url)))
            return 0
        if args.command == "rotate-keys":
            from bot.rotate_keys import rotate_keys

            return asyncio.run(rotate_keys(settings, args.batch_size))
        if args.command == "sandbox":
            from bot.sandbox import SandboxOptions, run_sandbox

            options = SandboxOptions(args.framework, args.port, args.data_dir, args.seed_demo)
            asyncio.run(run_sandbox(options, settings))
            return 0
        from bot.app import run_bot

        asyncio.run(run_bot(settings, args.framework))
        return 0
    except PLAIN_ERRORS as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
