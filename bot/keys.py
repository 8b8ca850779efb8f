"""Where the encryption keys come from: ENCRYPTION_KEYS, or a key file beside a SQLite file."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from bot.settings import Settings, SettingsError
from storage.crypto import Cipher, KeyError_, generate_key


def key_file_for(database: Path) -> Path:
    return database.with_name(database.name + ".key")


def check_key_settings(settings: Settings) -> None:
    """Catch malformed or missing keys before anything touches the network or the disk."""
    if settings.key_list() or settings.sqlite_path() is None:
        load_cipher(settings)


def load_cipher(settings: Settings) -> Cipher:
    keys = settings.key_list()
    if not keys:
        keys = [_key_from_file(settings)]
    try:
        return Cipher(keys)
    except KeyError_ as exc:
        raise SettingsError(
            f"ENCRYPTION_KEYS is invalid: {exc}. Make a key with `python bot.py generate-key`."
        ) from None


def _key_from_file(settings: Settings) -> str:
    database = settings.sqlite_path()
    if database is None:
        raise SettingsError(
            "ENCRYPTION_KEYS is not set. A server database needs its key in the environment: "
            "make one with `python bot.py generate-key` and set ENCRYPTION_KEYS=<key>."
        )
    key_file = key_file_for(database)
    if key_file.exists():
        return key_file.read_text(encoding="ascii").strip()
    if database.exists() and database.stat().st_size > 0:
        raise SettingsError(
            f"ENCRYPTION_KEYS is not set and {key_file} is missing, but {database} already holds "
            "data. Restore the key file or set ENCRYPTION_KEYS to the key the data was written "
            "with; nothing was changed."
        )
    key = generate_key()
    key_file.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="ascii") as handle:
        handle.write(key + "\n")
    print(
        "\n" + "!" * 78 + f"\n  NEW ENCRYPTION KEY CREATED: {key_file}\n"
        "  Health data in this database is encrypted with it. Back it up now:\n"
        "  without this file the data can never be read again.\n" + "!" * 78 + "\n",
        file=sys.stderr,
    )
    return key
