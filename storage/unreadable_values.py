"""Encrypted values that no configured key opens: listed for the admins, never overwritten.

`rotate-keys` records them (table, column, row key: ids only, never the value) and forgets them
once a later run finds them readable again.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import delete, func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from storage.inserts import insert_unless_present
from storage.models import UnreadableValue

# (table name, column name, row key)
ValueAddress = tuple[str, str, str]


class UnreadableValueRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def recent(self, limit: int = 50) -> Sequence[UnreadableValue]:
        """Newest first: what the admins should look at (ids only, no content)."""
        rows = await self._session.scalars(
            select(UnreadableValue)
            .order_by(UnreadableValue.found_at.desc(), UnreadableValue.id.desc())
            .limit(limit)
        )
        return rows.all()

    async def count(self) -> int:
        found = await self._session.scalar(select(func.count()).select_from(UnreadableValue))
        return int(found or 0)

    async def addresses(self) -> set[ValueAddress]:
        rows = await self._session.execute(
            select(UnreadableValue.table_name, UnreadableValue.column_name, UnreadableValue.row_key)
        )
        return {(t, c, r) for t, c, r in rows.all()}

    async def record(self, addresses: Iterable[ValueAddress], found_at: datetime) -> None:
        """Remember these values as unreadable; one already listed keeps its first finding."""
        values = [
            {"table_name": t, "column_name": c, "row_key": r, "found_at": found_at}
            for t, c, r in addresses
        ]
        if not values:
            return
        await insert_unless_present(
            self._session, UnreadableValue, values, ["table_name", "column_name", "row_key"]
        )

    async def forget(self, addresses: Iterable[ValueAddress]) -> None:
        """These values open again (or are gone): no longer listed."""
        wanted = list(addresses)
        if not wanted:
            return
        columns = (UnreadableValue.table_name, UnreadableValue.column_name, UnreadableValue.row_key)
        await self._session.execute(delete(UnreadableValue).where(tuple_(*columns).in_(wanted)))
