"""Schema migrations (Alembic) and the start-up checks that guard the stored data."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, select
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from storage.models import KeyCanary
from storage.types import Unopened

MIGRATIONS = Path(__file__).parent / "migrations"
CANARY_TEXT = "clinic-key-check"
# Tables that belong to libraries, not to these migrations: APScheduler's job store creates
# and owns its own table.
FOREIGN_TABLES = frozenset({"apscheduler_jobs"})


def include_object(
    obj: object, name: str | None, type_: str, reflected: bool, compare_to: object
) -> bool:
    """For Alembic's autogenerate and comparisons: skip tables the migrations do not own."""
    return not (type_ == "table" and name in FOREIGN_TABLES)


class SchemaOutdated(Exception):
    """The database holds data at an older schema; migrating it is an explicit step."""


class KeysDoNotOpenData(Exception):
    """The configured keys cannot open what is already stored."""


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def head_revision() -> str | None:
    return ScriptDirectory.from_config(_config()).get_current_head()


def _current(connection: Connection) -> tuple[str | None, bool]:
    revision = MigrationContext.configure(connection).get_current_revision()
    has_tables = bool(inspect(connection).get_table_names())
    return revision, has_tables


def _upgrade(connection: Connection) -> None:
    config = _config()
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


async def schema_revision(engine: AsyncEngine) -> str | None:
    """The revision the database is at; None for one Alembic has never touched."""
    async with engine.connect() as conn:
        return (await conn.run_sync(_current))[0]


async def upgrade(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.run_sync(_upgrade)


async def prepare_schema(engine: AsyncEngine) -> bool:
    """Migrate an empty database; refuse to silently migrate one that holds data.

    Returns True when it created the schema.
    """
    async with engine.connect() as conn:
        revision, has_tables = await conn.run_sync(_current)
    if revision == head_revision():
        return False
    if revision is None and not has_tables:
        await upgrade(engine)
        return True
    raise SchemaOutdated(
        f"the database schema is at revision {revision or 'unknown'}, the code needs "
        f"{head_revision()}. Back up the database, then run: python bot.py migrate"
    )


async def check_keys(sessions: async_sessionmaker[AsyncSession]) -> None:
    """Prove the keys open the stored data, or seal the canary on a fresh database."""
    async with sessions() as session, session.begin():
        canary = await session.scalar(select(KeyCanary).where(KeyCanary.id == 1))
        if canary is not None and isinstance(canary.sealed, Unopened):
            raise KeysDoNotOpenData(
                "none of the keys in ENCRYPTION_KEYS (or the key file) opens the data already "
                "in this database. Put the key the data was written with back into "
                "ENCRYPTION_KEYS (newest first); nothing was changed."
            )
        if canary is None:
            session.add(KeyCanary(id=1, sealed=CANARY_TEXT, created_at=datetime.now(UTC)))
        elif canary.sealed != CANARY_TEXT:
            raise KeysDoNotOpenData("the key check value is corrupt; nothing was changed.")
