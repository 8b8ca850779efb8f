"""Fresh databases for tests: a SQLite file, or a new PostgreSQL database per use."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy.engine import make_url

PG_SKIP_REASON = (
    "PostgreSQL tests need TEST_DATABASE_URL (e.g. postgresql://postgres@127.0.0.1:5432/test); "
    ".ci/run sets it when a server answers"
)


def postgres_url() -> str | None:
    return os.environ.get("TEST_DATABASE_URL") or None


@asynccontextmanager
async def fresh_database(
    kind: str, directory: Path, server_url: str | None = None
) -> AsyncIterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{directory / 'clinic.db'}"
        return
    import asyncpg  # only needed where PostgreSQL runs

    base = make_url(server_url or postgres_url() or "")
    admin_dsn = base.set(drivername="postgresql", database=base.database or "test")
    name = f"clinic_test_{uuid.uuid4().hex[:12]}"
    dsn = admin_dsn.render_as_string(hide_password=False)
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    try:
        yield base.set(drivername="postgresql", database=name).render_as_string(hide_password=False)
    finally:
        connection = await asyncpg.connect(dsn)
        try:
            await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await connection.close()
