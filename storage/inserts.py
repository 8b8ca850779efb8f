"""INSERT … ON CONFLICT DO NOTHING on either database: the claim that makes repeated work
(a redelivered update, a job run twice, a second tap) a no-op without a race."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession


async def insert_unless_present(
    session: AsyncSession,
    model: type[Any],
    values: Mapping[str, Any] | Sequence[Mapping[str, Any]],
    unique: Sequence[str],
) -> bool:
    """Insert the row(s) unless one with the same `unique` columns exists; True when at least
    one row went in. Both dialects spell this the same, but each needs its own insert()."""
    dialect = session.bind.dialect.name if session.bind else "sqlite"
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = insert(model).values(values).on_conflict_do_nothing(index_elements=list(unique))
    result = await session.execute(statement)
    return bool(result.rowcount)  # type: ignore[attr-defined]
