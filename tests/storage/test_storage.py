"""Storage on a real database: SQLite always, PostgreSQL when TEST_DATABASE_URL is set."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, StatementError

from storage.crypto import Cipher, generate_key
from storage.database import create_engine, session_factory
from storage.migrate import KeysDoNotOpenData, SchemaOutdated, check_keys, prepare_schema
from storage.models import Conversation, User
from storage.unit_of_work import UnitOfWork
from tests.conftest import Storage

NOW = datetime(2026, 3, 8, 6, 30, tzinfo=UTC)


def make_user(telegram_id: int, name: str = "Ana María Ñúñez") -> User:
    return User(
        telegram_id=telegram_id,
        role="patient",
        language="en",
        full_name=name,
        date_of_birth="1990-05-17",
        timezone="Europe/Berlin",
        consent_version="v1",
        consent_at=NOW,
        registered_at=NOW,
        created_at=NOW,
        updated_at=NOW,
    )


async def add_user(storage: Storage, user: User, phone: str) -> None:
    async with UnitOfWork(storage.sessions) as uow:
        uow.users.set_phone(user, phone)
        uow.users.add(user)
        await uow.commit()


async def test_fresh_database_is_migrated_once(database_url: str, cipher: Cipher) -> None:
    engine = create_engine(database_url, cipher)
    try:
        assert await prepare_schema(engine) is True
        assert await prepare_schema(engine) is False
    finally:
        await engine.dispose()


async def test_database_with_unknown_tables_is_not_migrated_silently(
    database_url: str, cipher: Cipher
) -> None:
    engine = create_engine(database_url, cipher)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE something_else (id INTEGER)"))
        with pytest.raises(SchemaOutdated, match=r"python bot\.py migrate"):
            await prepare_schema(engine)
    finally:
        await engine.dispose()


async def test_health_data_reaches_the_database_only_as_ciphertext(storage: Storage) -> None:
    await add_user(storage, make_user(1001, "राहुल शर्मा"), "+4915112345678")
    async with storage.engine.connect() as conn:
        row = (
            await conn.execute(
                text("SELECT full_name, phone, date_of_birth, phone_hash FROM users")
            )
        ).one()
    raw = " ".join(str(v) for v in row)
    for plaintext in ("राहुल", "4915112345678", "1990-05-17"):
        assert plaintext not in raw
    async with UnitOfWork(storage.sessions) as uow:
        user = await uow.users.by_telegram_id(1001)
        assert user is not None
        assert (user.full_name, user.phone, user.date_of_birth) == (
            "राहुल शर्मा",
            "+4915112345678",
            "1990-05-17",
        )


async def test_datetimes_come_back_as_the_same_aware_instant(storage: Storage) -> None:
    kolkata_time = datetime(2026, 11, 1, 12, 0, tzinfo=timezone(timedelta(hours=5, minutes=30)))
    user = make_user(1002)
    user.consent_at = kolkata_time
    await add_user(storage, user, "+4915112345679")
    async with UnitOfWork(storage.sessions) as uow:
        stored = await uow.users.by_telegram_id(1002)
        assert stored is not None and stored.consent_at is not None
        assert stored.consent_at.tzinfo is not None
        assert stored.consent_at.utcoffset() == timedelta(0)
        assert stored.consent_at == kolkata_time


async def test_naive_datetimes_are_refused(storage: Storage) -> None:
    user = make_user(1003)
    user.created_at = datetime(2026, 1, 1, 12, 0)  # noqa: DTZ001 - the point of the test
    with pytest.raises(StatementError, match="naive datetime"):
        await add_user(storage, user, "+4915112345670")


async def test_phone_is_found_by_keyed_hash_and_is_unique(storage: Storage) -> None:
    await add_user(storage, make_user(1004), "+447946000001")
    async with UnitOfWork(storage.sessions) as uow:
        owner = await uow.users.phone_owner("+447946000001")
        assert owner is not None and owner.telegram_id == 1004
        assert await uow.users.phone_owner("+447946000002") is None
    with pytest.raises(IntegrityError):
        await add_user(storage, make_user(1005), "+447946000001")


async def test_update_ids_are_claimed_once(storage: Storage) -> None:
    async with UnitOfWork(storage.sessions) as uow:
        assert await uow.processed_updates.claim(77, NOW) is True
        assert await uow.processed_updates.claim(77, NOW) is False
        await uow.commit()
    async with UnitOfWork(storage.sessions) as uow:
        assert await uow.processed_updates.claim(77, NOW) is False
        await uow.processed_updates.prune(NOW + timedelta(seconds=1))
        assert await uow.processed_updates.claim(77, NOW) is True


async def test_conversation_state_survives_a_new_engine(storage: Storage, cipher: Cipher) -> None:
    async with UnitOfWork(storage.sessions) as uow:
        await uow.conversations.save(
            Conversation(
                telegram_id=5,
                flow="rg",
                step="dob",
                token="abc",
                data={"name": "Zoë"},
                updated_at=NOW,
            )
        )
        await uow.commit()
    async with UnitOfWork(storage.sessions) as uow:
        conv = await uow.conversations.get(5)
        assert conv is not None
        conv.data["dob"] = "1990-01-01"  # in-place change must be saved
        await uow.commit()
    async with storage.engine.connect() as conn:
        raw = (await conn.execute(text("SELECT data FROM conversations"))).scalar_one()
        assert "Zoë" not in raw
    other = create_engine(storage.url, cipher)
    try:
        async with UnitOfWork(session_factory(other)) as uow:
            conv = await uow.conversations.get(5)
            assert conv is not None
            assert (conv.step, conv.data) == ("dob", {"name": "Zoë", "dob": "1990-01-01"})
    finally:
        await other.dispose()


async def test_a_key_that_does_not_open_the_data_stops_start_up(storage: Storage, key: str) -> None:
    await add_user(storage, make_user(1006), "+447946000003")
    stranger = create_engine(storage.url, Cipher([generate_key()]))
    try:
        with pytest.raises(KeysDoNotOpenData, match="nothing was changed"):
            await check_keys(session_factory(stranger))
    finally:
        await stranger.dispose()
    rotated = create_engine(storage.url, Cipher([generate_key(), key]))
    try:
        await check_keys(session_factory(rotated))  # the old key still listed: fine
        async with UnitOfWork(session_factory(rotated)) as uow:
            user = await uow.users.by_telegram_id(1006)
            assert user is not None and user.full_name == "Ana María Ñúñez"
            assert await uow.users.phone_owner("+447946000003") is not None
    finally:
        await rotated.dispose()


async def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(storage: Storage) -> None:
    if storage.engine.dialect.name != "sqlite":
        pytest.skip("SQLite pragmas")
    async with storage.engine.connect() as conn:
        assert (await conn.execute(text("PRAGMA journal_mode"))).scalar_one() == "wal"
        assert (await conn.execute(text("PRAGMA busy_timeout"))).scalar_one() >= 5000


async def test_migrations_build_exactly_the_models(storage: Storage) -> None:
    """A model changed without a migration (or the reverse) fails here, not in production."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from storage.models import Base

    def differences(connection: object) -> list[object]:
        # APScheduler's job store owns its table; the migrations leave it out on purpose.
        def include_object(obj, name, type_, reflected, compare_to):  # type: ignore[no-untyped-def]
            return not (type_ == "table" and name == "apscheduler_jobs")

        context = MigrationContext.configure(
            connection,  # type: ignore[arg-type]
            opts={"compare_type": False, "include_object": include_object},
        )
        return list(compare_metadata(context, Base.metadata))

    async with storage.engine.connect() as conn:
        diff = await conn.run_sync(differences)
    assert diff == []


async def test_upgrading_from_0005_keeps_payments_and_admits_unmatched_charges(
    database_url: str, cipher: Cipher
) -> None:
    """0006 makes a payment's appointment, patient and doctor optional (for charges no invoice
    explains) on a database that already holds payments; the way down drops only those rows."""
    from alembic import command

    from storage import migrate

    def to(revision: str, down: bool = False):  # type: ignore[no-untyped-def]
        def run(connection: object) -> None:
            config = migrate._config()
            config.attributes["connection"] = connection
            (command.downgrade if down else command.upgrade)(config, revision)

        return run

    row = (
        "INSERT INTO payments (appointment_id, patient_id, doctor_id, payload, amount_minor, "
        "currency, status, invoiced_at, refund_minor) VALUES "
        "({anchor}, NULL, NULL, '{payload}', 250, 'XTR', 'paid', '2026-12-01', 0)"
    )
    engine = create_engine(database_url, cipher)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(to("0005"))
            with pytest.raises(IntegrityError):
                async with conn.begin_nested():
                    await conn.execute(text(row.format(anchor="NULL", payload="old")))
        async with engine.begin() as conn:
            await conn.run_sync(to("head"))
            await conn.execute(text(row.format(anchor="NULL", payload="a")))
            await conn.execute(text(row.format(anchor="NULL", payload="b")))
            count = "SELECT count(*) FROM payments WHERE appointment_id IS NULL"
            assert (await conn.execute(text(count))).scalar() == 2
        async with engine.begin() as conn:
            await conn.run_sync(to("0005", down=True))
            assert (await conn.execute(text("SELECT count(*) FROM payments"))).scalar() == 0
    finally:
        await engine.dispose()
