"""Shared fixtures: databases on SQLite (always) and PostgreSQL (when TEST_DATABASE_URL is set)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from storage.crypto import Cipher, generate_key
from storage.database import create_engine, session_factory
from storage.migrate import check_keys, upgrade
from tests.support.databases import PG_SKIP_REASON, fresh_database, postgres_url


@pytest.fixture(params=["sqlite", "postgresql"])
def db_kind(request: pytest.FixtureRequest) -> str:
    if request.param == "postgresql" and not postgres_url():
        pytest.skip(PG_SKIP_REASON)
    return str(request.param)


@pytest.fixture
async def database_url(db_kind: str, tmp_path: Path) -> AsyncIterator[str]:
    async with fresh_database(db_kind, tmp_path) as url:
        yield url


@pytest.fixture
def key() -> str:
    return generate_key()


@pytest.fixture
def cipher(key: str) -> Cipher:
    return Cipher([key])


@dataclass
class Storage:
    url: str
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]


@pytest.fixture
async def storage(database_url: str, cipher: Cipher) -> AsyncIterator[Storage]:
    engine = create_engine(database_url, cipher)
    await upgrade(engine)
    sessions = session_factory(engine)
    await check_keys(sessions)
    yield Storage(database_url, engine, sessions)
    await engine.dispose()
