"""Alembic environment: runs on a connection handed over by `storage.migrate`.

Run from the alembic CLI, it builds its own engine from DATABASE_URL (no cipher needed:
migrations move schema, not sealed values).
"""

from __future__ import annotations

import asyncio
import os

from alembic import context
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from storage.database import async_url
from storage.migrate import include_object  # leaves APScheduler's own table out
from storage.models import Base

target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        include_object=include_object,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_cli() -> None:
    engine = create_async_engine(async_url(os.environ.get("DATABASE_URL", "sqlite:///clinic.db")))
    async with engine.begin() as conn:
        await conn.run_sync(_run)
    await engine.dispose()


connection = context.config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    asyncio.run(_run_cli())
