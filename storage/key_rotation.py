"""Re-encrypting every sealed value with the newest key (`python bot.py rotate-keys`).

Runs beside a serving bot. Every EncryptedText/EncryptedJSON column of every model is found in
the metadata (a new sealed column is covered without touching this file) and read as the raw
ciphertext, table by table in primary-key order, in small batches. Each batch is one short
transaction, and each row is written back only if its ciphertext is still the one read
(compare-and-set), so a concurrent write by the bot is never overwritten: the row is read again
and handled as it is now. A value the newest key already opens is left alone, so a run that was
interrupted is finished by simply running it again; no progress table is needed.

Keyed look-up hashes (the phone's) are recomputed with the newest key from the opened value.
A value no key opens fails closed: its ciphertext stays byte for byte, and its address (table,
column, row key; never content) is listed in `unreadable_values` for the admins until a later
run finds it readable again.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, MetaData, String, Text, and_, column, select, table, tuple_
from sqlalchemy import update as sql_update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.sql.expression import TableClause

from storage.crypto import Cipher, UnreadableValue
from storage.models import Base, User
from storage.types import EncryptedJSON, EncryptedText
from storage.unreadable_values import UnreadableValueRepository, ValueAddress

BATCH_SIZE = 200
# A row as read: column name -> value (a RowMapping).
RowValues = Mapping[Any, Any]
# A row another writer keeps changing under us is left for the next run after this many tries.
ATTEMPTS_PER_ROW = 3
# Keyed hashes stored beside a searchable sealed value: (table, sealed column) -> hash column.
LOOKUP_HASHES: Mapping[tuple[str, str], str] = {(User.__tablename__, "phone"): "phone_hash"}


@dataclass(frozen=True)
class SealedTable:
    """A table with sealed columns, seen as plain text (no decrypting column type)."""

    name: str
    primary_key: tuple[str, ...]
    sealed: tuple[str, ...]
    hashes: Mapping[str, str]  # sealed column -> its look-up hash column
    raw: TableClause

    def key_of(self, row: RowValues) -> str:
        return ",".join(str(row[name]) for name in self.primary_key)

    def is_row(self, row: RowValues) -> ColumnElement[bool]:
        return and_(*(self.raw.c[name] == row[name] for name in self.primary_key))

    def after(self, row: RowValues) -> ColumnElement[bool]:
        if len(self.primary_key) == 1:
            name = self.primary_key[0]
            return self.raw.c[name] > row[name]
        keys = [self.raw.c[name] for name in self.primary_key]
        return tuple_(*keys) > tuple_(*(row[name] for name in self.primary_key))


def sealed_tables(metadata: MetaData = Base.metadata) -> list[SealedTable]:
    """Every table holding an encrypted column, found by column type."""
    found = []
    for source in metadata.sorted_tables:
        sealed = tuple(
            c.name for c in source.columns if isinstance(c.type, EncryptedText | EncryptedJSON)
        )
        if not sealed:
            continue
        hashes = {
            name: hash_column
            for (table_name, name), hash_column in LOOKUP_HASHES.items()
            if table_name == source.name and name in sealed
        }
        primary_key = tuple(c.name for c in source.primary_key.columns)
        raw = table(
            source.name,
            *(column(name, source.c[name].type) for name in primary_key),
            *(column(name, Text()) for name in sealed),
            *(column(name, String()) for name in hashes.values()),
        )
        found.append(SealedTable(source.name, primary_key, sealed, hashes, raw))
    return found


@dataclass(frozen=True)
class Progress:
    """After each batch: how far this table is (counts only, no content)."""

    table: str
    rows: int
    reencrypted: int
    unreadable: int


@dataclass
class RotationReport:
    rows: int = 0
    reencrypted: int = 0  # values sealed again with the newest key
    current: int = 0  # values the newest key already opened
    hashes: int = 0  # look-up hashes recomputed
    unreadable: list[ValueAddress] = field(default_factory=list)
    # Rows another writer kept changing mid-run: left for the next run.
    contended: int = 0
    complete: bool = False


@dataclass
class _RowPlan:
    changes: dict[str, str] = field(default_factory=dict)
    expected: dict[str, str] = field(default_factory=dict)  # compare-and-set on these
    reencrypted: int = 0
    current: int = 0
    hashes: int = 0
    unreadable: list[str] = field(default_factory=list)


class KeyRotation:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        cipher: Cipher,
        batch_size: int = BATCH_SIZE,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        tables: Sequence[SealedTable] | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch size must be at least 1")
        self._sessions = sessions
        self._cipher = cipher
        self._batch_size = batch_size
        self._clock = clock
        self._tables = list(tables) if tables is not None else sealed_tables()

    async def run(
        self,
        progress: Callable[[Progress], None] | None = None,
        max_batches: int | None = None,
    ) -> RotationReport:
        """Rotate everything; `max_batches` stops early (as an interruption would)."""
        report = RotationReport()
        async with self._sessions() as session, session.begin():
            listed = await UnreadableValueRepository(session).addresses()
        seen: set[ValueAddress] = set()
        batches = 0
        for sealed in self._tables:
            rows = reencrypted = unreadable = 0
            last: RowValues | None = None
            while True:
                if max_batches is not None and batches >= max_batches:
                    return report
                done, last = await self._batch(sealed, last, report, listed, seen)
                batches += 1
                rows += done.rows
                reencrypted += done.reencrypted
                unreadable += done.unreadable
                if progress is not None and done.rows:
                    progress(Progress(sealed.name, rows, reencrypted, unreadable))
                if last is None:
                    break
        # Listed values not met again belong to rows deleted since: nothing left to show.
        gone = listed - seen
        if gone:
            async with self._sessions() as session, session.begin():
                await UnreadableValueRepository(session).forget(gone)
        report.complete = True
        return report

    async def _batch(
        self,
        sealed: SealedTable,
        after: RowValues | None,
        report: RotationReport,
        listed: set[ValueAddress],
        seen: set[ValueAddress],
    ) -> tuple[Progress, RowValues | None]:
        """One short transaction over the next rows; returns its counts and where it ended."""
        before = (report.reencrypted, len(report.unreadable))
        found: list[ValueAddress] = []
        readable: list[ValueAddress] = []
        async with self._sessions() as session, session.begin():
            query = select(sealed.raw).order_by(*(sealed.raw.c[n] for n in sealed.primary_key))
            if after is not None:
                query = query.where(sealed.after(after))
            rows = (await session.execute(query.limit(self._batch_size))).mappings().all()
            for row in rows:
                plan = await self._rotate_row(session, sealed, row, report)
                key = sealed.key_of(row)
                bad = set(plan.unreadable) if plan is not None else set()
                for name in sealed.sealed:
                    address = (sealed.name, name, key)
                    if name in bad:
                        found.append(address)
                    elif address in listed:
                        readable.append(address)
            repository = UnreadableValueRepository(session)
            await repository.record([a for a in found if a not in listed], self._clock())
            await repository.forget(readable)
        seen.update(found)
        seen.update(readable)
        report.unreadable.extend(found)
        report.rows += len(rows)
        done = Progress(
            sealed.name,
            len(rows),
            report.reencrypted - before[0],
            len(report.unreadable) - before[1],
        )
        more = len(rows) == self._batch_size
        return done, (rows[-1] if more else None)

    async def _rotate_row(
        self,
        session: AsyncSession,
        sealed: SealedTable,
        row: RowValues,
        report: RotationReport,
    ) -> _RowPlan | None:
        """Write the row's new ciphertexts if nobody changed it since it was read.

        Returns what was done, or None when the row vanished meanwhile."""
        plan = _RowPlan()
        for _ in range(ATTEMPTS_PER_ROW):
            plan = self._plan(sealed, row)
            if plan.changes:
                statement = (
                    sql_update(sealed.raw)
                    .where(sealed.is_row(row))
                    .where(*(sealed.raw.c[n] == old for n, old in plan.expected.items()))
                    .values(plan.changes)
                )
                result = await session.execute(statement)
                if result.rowcount != 1:  # type: ignore[attr-defined]
                    # Written by someone else meanwhile: take it as it is now.
                    fresh = await session.execute(select(sealed.raw).where(sealed.is_row(row)))
                    again = fresh.mappings().first()
                    if again is None:
                        return None
                    row = again
                    continue
            report.reencrypted += plan.reencrypted
            report.current += plan.current
            report.hashes += plan.hashes
            return plan
        report.contended += 1
        return plan

    def _plan(self, sealed: SealedTable, row: RowValues) -> _RowPlan:
        plan = _RowPlan()
        for name in sealed.sealed:
            token = row[name]
            if token is None:
                continue
            plain = self._cipher.open_with_newest(token)
            if plain is None:
                try:
                    plain = self._cipher.decrypt(token)
                except UnreadableValue:
                    plan.unreadable.append(name)  # fail closed: left exactly as it is
                    continue
                plan.changes[name] = self._cipher.encrypt(plain)
                plan.expected[name] = token
                plan.reencrypted += 1
            else:
                plan.current += 1
            hash_column = sealed.hashes.get(name)
            if hash_column is not None:
                wanted = self._cipher.lookup_hash(plain)
                if row[hash_column] != wanted:
                    plan.changes[hash_column] = wanted
                    plan.expected[name] = token
                    plan.hashes += 1
        return plan
