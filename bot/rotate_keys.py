"""`python bot.py rotate-keys`: re-encrypt every sealed value with the newest key.

Safe beside a running bot (short transactions, compare-and-set writes) and resumable: run it
again after an interruption and it finishes the rest. Exit 0 when every value opens with the
newest key; exit 3 when some value no configured key opens (left untouched, listed for the
admins in `unreadable_values`) or a row kept changing under it (run it again).
"""

from __future__ import annotations

from collections.abc import Callable

from bot.errors import StartupError
from bot.keys import key_file_for, load_cipher
from bot.settings import Settings
from storage.database import check_connection, create_engine, session_factory
from storage.key_rotation import BATCH_SIZE, KeyRotation, Progress
from storage.migrate import SchemaOutdated, check_keys, head_revision, schema_revision

EXIT_UNREADABLE = 3
# Addresses printed in the summary (ids only); the full list is in unreadable_values.
SHOWN_ADDRESSES = 20


async def rotate_keys(
    settings: Settings, batch_size: int = BATCH_SIZE, say: Callable[[str], None] = print
) -> int:
    if not settings.key_list():
        key_file = key_file_for(database) if (database := settings.sqlite_path()) else None
        where = f"; the old key is in {key_file}" if key_file and key_file.is_file() else ""
        raise StartupError(
            "rotate-keys needs ENCRYPTION_KEYS with the new key first and the old ones after it "
            f"(ENCRYPTION_KEYS=<new>,<old>{where}). Make a key with `python bot.py generate-key`."
        )
    cipher = load_cipher(settings)
    database = settings.sqlite_path()
    if database is not None and not database.is_file():
        raise StartupError(f"there is no database file at {database}. Check DATABASE_URL.")
    engine = create_engine(settings.database_url, cipher)
    try:
        await check_connection(engine, settings.database_url)
        revision = await schema_revision(engine)
        if revision != head_revision():
            raise SchemaOutdated(
                f"the database schema is at revision {revision or 'none'}, the code needs "
                f"{head_revision()}. Run `python bot.py migrate` first, then rotate-keys."
            )
        sessions = session_factory(engine)
        # None of the keys opens the data at all: stop before listing everything as unreadable.
        await check_keys(sessions)

        def show(progress: Progress) -> None:
            say(
                f"{progress.table}: {progress.rows} rows checked, "
                f"{progress.reencrypted} values re-encrypted, {progress.unreadable} unreadable"
            )

        report = await KeyRotation(sessions, cipher, batch_size).run(progress=show)
    finally:
        await engine.dispose()
    say(
        f"done: {report.rows} rows checked, {report.reencrypted} values re-encrypted with the "
        f"newest key, {report.current} already were, {report.hashes} look-up hashes renewed"
    )
    if report.contended:
        say(
            f"{report.contended} rows kept changing while this ran and were left as they are: "
            "run rotate-keys again"
        )
    if report.unreadable:
        shown = ", ".join(f"{t}.{c} #{r}" for t, c, r in report.unreadable[:SHOWN_ADDRESSES])
        more = len(report.unreadable) - SHOWN_ADDRESSES
        say(
            f"unreadable: {len(report.unreadable)} values no key in ENCRYPTION_KEYS opens were "
            f"left untouched and listed for the admins: {shown}"
            + (f" and {more} more" if more > 0 else "")
        )
    if report.unreadable or report.contended:
        return EXIT_UNREADABLE
    say("every encrypted value now opens with the first key in ENCRYPTION_KEYS alone")
    return 0
