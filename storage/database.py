"""Engine and session factory: URL mapping, SQLite pragmas, connectivity check."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.ext.asyncio import create_async_engine as _create_async_engine

from storage.crypto import Cipher
from storage.types import CIPHER_ATTRIBUTE

SQLITE_BUSY_TIMEOUT_MS = 15_000


class DatabaseUnavailable(Exception):
    """The database cannot be reached; the message is one line a person can act on."""


def async_url(url: str) -> str:
    """Map plain sqlite:// and postgresql:// URLs to the async drivers."""
    url = re.sub(r"^postgres(ql)?://", "postgresql+asyncpg://", url)
    url = re.sub(r"^postgresql\+psycopg2?://", "postgresql+asyncpg://", url)
    url = re.sub(r"^sqlite://", "sqlite+aiosqlite://", url)
    return url


def safe_url(url: str) -> str:
    """The URL with any password hidden, for messages and logs."""
    return make_url(async_url(url)).render_as_string(hide_password=True)


def create_engine(url: str, cipher: Cipher, **kwargs: Any) -> AsyncEngine:
    engine = _create_async_engine(async_url(url), **kwargs)
    setattr(engine.sync_engine.dialect, CIPHER_ATTRIBUTE, cipher)
    if engine.dialect.name == "sqlite":
        _configure_sqlite(engine)
    return engine


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control from the driver so BEGIN IMMEDIATE can be issued.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        # Deleted or overwritten values are zeroed in the file, not left in free space
        # (an erased patient leaves no trace; see PrivacyRepository.compact for the WAL).
        cursor.execute("PRAGMA secure_delete=ON")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        # IMMEDIATE takes the write lock up front: two writers queue on busy_timeout
        # instead of failing when a read transaction tries to upgrade to a write.
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


async def check_connection(engine: AsyncEngine, url: str) -> None:
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception as exc:  # any driver's connection error: report it in one line
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DatabaseUnavailable(
            f"cannot reach the database at {safe_url(url)} ({reason}). "
            "Check DATABASE_URL and that the server is running."
        ) from None
