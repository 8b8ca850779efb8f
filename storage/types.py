"""Column types: encrypted text/JSON and timezone-aware UTC datetimes.

The cipher travels on the engine's dialect (set by `storage.database.create_engine`), so each
engine carries its own keys and no module-level state is needed.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Text, inspect
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from storage.crypto import Cipher, UnreadableValue

CIPHER_ATTRIBUTE = "clinic_cipher"


def cipher_of(dialect: Dialect) -> Cipher:
    cipher = getattr(dialect, CIPHER_ATTRIBUTE, None)
    if cipher is None:
        raise RuntimeError("engine has no cipher: create it with storage.database.create_engine")
    return cipher  # type: ignore[no-any-return]


UNOPENED_TEXT = "⚠ (cannot be opened)"


class Unopened(str):
    """What a sealed text reads as when no configured key opens it. One such value must not
    take down every screen that lists its row (a doctor's patient list, an admin's search), so
    it reads as this marker, never as the ciphertext; and it is refused on the way back to the
    database, so the stored value is never overwritten with the marker (fail closed)."""

    def __new__(cls) -> Unopened:
        return super().__new__(cls, UNOPENED_TEXT)


class EncryptedText(TypeDecorator[str]):
    """Text sealed with Fernet before it reaches the database."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        if isinstance(value, Unopened):
            raise UnreadableValue("a value no key opened cannot be written back")
        return cipher_of(dialect).encrypt(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        try:
            return cipher_of(dialect).decrypt(value)
        except UnreadableValue:
            # Not logged here (no row id to name, and start-up's key check reads one on
            # purpose); `python bot.py rotate-keys` lists the rows for the admins.
            return Unopened()


def has_unopened(row: object) -> bool:
    """Whether any sealed text already loaded on this ORM row could not be opened."""
    state = inspect(row)
    return any(
        isinstance(state.dict.get(attribute.key), Unopened)
        for attribute in state.mapper.column_attrs
        if isinstance(attribute.columns[0].type, EncryptedText)
    )


class EncryptedJSON(TypeDecorator[Any]):
    """A JSON document sealed with Fernet (conversation data holds what users typed)."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return cipher_of(dialect).encrypt(json.dumps(value, ensure_ascii=False))

    def process_result_value(self, value: str | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        return json.loads(cipher_of(dialect).decrypt(value))


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC in, aware UTC out, on SQLite (which stores naive text) and PostgreSQL alike."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: store aware datetimes only")
        value = value.astimezone(UTC)
        # SQLite keeps no offset; store naive UTC so text comparison orders correctly.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)
