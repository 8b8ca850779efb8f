"""Key rotation on a real database: SQLite always, PostgreSQL when TEST_DATABASE_URL is set."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import StatementError

from clinic.profile import ProfileError
from storage.crypto import Cipher, UnreadableValue, generate_key
from storage.database import create_engine, session_factory
from storage.key_rotation import (
    KeyRotation,
    Progress,
    RotationReport,
    SealedTable,
    sealed_tables,
)
from storage.migrate import check_keys
from storage.models import Appointment, User
from storage.seeding import seed_patient
from storage.types import UNOPENED_TEXT, Unopened, has_unopened
from storage.unit_of_work import UnitOfWork
from tests.conftest import Storage
from tests.support.sealed_data import PATIENTS, raw_values, seed_clinic, under


@pytest.fixture
async def rotated(storage: Storage, key: str) -> AsyncIterator[tuple[Storage, str]]:
    """The same database opened with a new key B in front of the old key A."""
    new_key = generate_key()
    engine = create_engine(storage.url, Cipher([new_key, key]))
    yield Storage(storage.url, engine, session_factory(engine)), new_key
    await engine.dispose()


def rotation(storage: Storage, keys: list[str], batch_size: int = 4) -> KeyRotation:
    return KeyRotation(storage.sessions, Cipher(keys), batch_size=batch_size)


async def test_sealed_columns_are_found_by_type() -> None:
    columns = {(s.name, c) for s in sealed_tables() for c in s.sealed}
    for expected in [
        ("users", "full_name"),
        ("users", "phone"),
        ("conversations", "data"),
        ("appointments", "reason"),
        ("relayed_messages", "content"),
        ("prescriptions", "medicine"),
        ("key_canary", "sealed"),
        ("broadcasts", "text"),
    ]:
        assert expected in columns
    assert ("users", "phone_hash") not in columns
    assert not [s for s in sealed_tables() if s.name == "unreadable_values"]


async def test_after_rotation_every_value_opens_with_the_new_key_alone(
    storage: Storage, key: str, rotated: tuple[Storage, str]
) -> None:
    await seed_clinic(storage.sessions)
    before = await raw_values(storage.sessions)
    assert under(before, key) == set(before)
    tables = {table for table, _, _ in before}
    assert {"users", "conversations", "appointments", "relayed_messages", "prescriptions"} <= tables
    assert {"consultations", "feedback", "broadcasts", "key_canary"} <= tables

    new_storage, new_key = rotated
    seen: list[Progress] = []
    report = await rotation(new_storage, [new_key, key]).run(progress=seen.append)

    assert report.complete and not report.unreadable and not report.contended
    assert report.reencrypted == len(before)
    assert report.hashes == len(PATIENTS)
    assert seen and all(p.table in tables for p in seen)
    after = await raw_values(storage.sessions)
    assert set(after) == set(before)
    assert under(after, new_key) == set(after)  # zero failures with B alone

    # The bot on B alone: start-up check, look-ups by phone and every record read.
    engine = create_engine(storage.url, Cipher([new_key]))
    try:
        sessions = session_factory(engine)
        await check_keys(sessions)
        async with UnitOfWork(sessions) as uow:
            for telegram_id, phone in PATIENTS:
                found = await uow.users.find_by_phone(phone)
                assert found is not None and found.telegram_id == telegram_id
                assert found.phone == phone
            conversation = await uow.conversations.get(PATIENTS[0][0])
            assert conversation is not None
            assert conversation.data["reason"] == "Palpitations at night"
        async with sessions() as session:
            reasons = set((await session.scalars(select(Appointment.reason))).all())
            assert reasons == {"Chest pain when climbing"}
    finally:
        await engine.dispose()

    # Nothing left to do: a second run changes nothing.
    again = await rotation(new_storage, [new_key, key]).run()
    assert again.complete and again.reencrypted == 0 and again.hashes == 0
    assert again.current == len(before)
    assert await raw_values(storage.sessions) == after


async def test_an_interrupted_rotation_is_finished_by_running_it_again(
    storage: Storage, key: str, rotated: tuple[Storage, str]
) -> None:
    await seed_clinic(storage.sessions)
    total = len(await raw_values(storage.sessions))
    new_storage, new_key = rotated

    first = await rotation(new_storage, [new_key, key], batch_size=2).run(max_batches=3)
    assert not first.complete
    halfway = await raw_values(storage.sessions)
    done, left = under(halfway, new_key), under(halfway, key)
    assert done and left and len(done) + len(left) == total
    assert first.reencrypted == len(done)

    second = await rotation(new_storage, [new_key, key], batch_size=2).run()
    assert second.complete and not second.unreadable
    assert second.reencrypted == len(left)  # only the rest: done values are not sealed again
    finished = await raw_values(storage.sessions)
    assert under(finished, new_key) == set(finished)
    assert {a: finished[a] for a in done} == {a: halfway[a] for a in done}


async def test_a_value_no_key_opens_is_left_untouched_and_listed(
    storage: Storage, key: str, rotated: tuple[Storage, str]
) -> None:
    await seed_clinic(storage.sessions)
    lost_key = generate_key()
    foreign = Cipher([lost_key]).encrypt("sealed with a key nobody configured")
    async with storage.sessions() as session, session.begin():
        appointment_id = await session.scalar(select(Appointment.id).order_by(Appointment.id))
        user_id = await session.scalar(select(User.id).where(User.telegram_id == PATIENTS[1][0]))
    new_storage, new_key = rotated
    sealed = {s.name: s for s in sealed_tables()}
    async with storage.sessions() as session, session.begin():
        for table, column, row_id in [
            ("appointments", "reason", appointment_id),
            ("users", "full_name", user_id),
        ]:
            raw = sealed[table].raw
            await session.execute(update(raw).where(raw.c.id == row_id).values({column: foreign}))

    report = await rotation(new_storage, [new_key, key]).run()
    unreadable = {
        ("appointments", "reason", str(appointment_id)),
        ("users", "full_name", str(user_id)),
    }
    assert report.complete and set(report.unreadable) == unreadable
    after = await raw_values(storage.sessions)
    assert {a: after[a] for a in unreadable} == {a: foreign for a in unreadable}  # byte for byte
    assert under(after, new_key) == set(after) - unreadable

    async with UnitOfWork(new_storage.sessions) as uow:
        listed = await uow.unreadable.recent(10)
        assert {(u.table_name, u.column_name, u.row_key) for u in listed} == unreadable
        assert await uow.unreadable.count() == 2
        # Fails closed: it reads as a marker, never as ciphertext, and the row's other values
        # still open; writing the marker back is refused, so the stored value stays as it was.
        patient = await uow.users.find_by_phone(PATIENTS[1][1])
        assert patient is not None and has_unopened(patient)
        assert isinstance(patient.full_name, Unopened) and foreign not in patient.full_name
        assert patient.full_name == UNOPENED_TEXT and patient.phone == PATIENTS[1][1]
        patient.date_of_birth = patient.full_name  # as a careless handler might copy it
        with pytest.raises(StatementError) as refused:
            await uow.flush()
        assert isinstance(refused.value.orig, UnreadableValue)
    assert (await raw_values(storage.sessions))[("users", "full_name", str(user_id))] == foreign
    # The patient's phone still opens and is found; the hash was renewed.
    async with UnitOfWork(new_storage.sessions) as uow:
        found = await uow.users.phone_owner(PATIENTS[2][1])
        assert found is not None and found.full_name is not None

    # Running again finds the same values, listed once.
    again = await rotation(new_storage, [new_key, key]).run()
    assert set(again.unreadable) == unreadable and again.reencrypted == 0
    async with UnitOfWork(new_storage.sessions) as uow:
        assert await uow.unreadable.count() == 2

    # The lost key turns up: the values are rotated and no longer listed.
    found_again = await rotation(new_storage, [new_key, key, lost_key]).run()
    assert found_again.complete and not found_again.unreadable
    assert found_again.reencrypted == 2
    assert under(await raw_values(storage.sessions), new_key) == set(after)
    async with UnitOfWork(new_storage.sessions) as uow:
        assert await uow.unreadable.recent(10) == []


async def test_a_row_changed_since_it_was_read_is_not_overwritten(
    storage: Storage, key: str, rotated: tuple[Storage, str]
) -> None:
    await seed_clinic(storage.sessions)
    new_storage, new_key = rotated
    sealed = next(s for s in sealed_tables() if s.name == "appointments")
    async with storage.sessions() as session:
        stale = (await session.execute(select(sealed.raw).order_by(sealed.raw.c.id))).mappings()
        stale_row = stale.first()
    assert stale_row is not None
    # The running bot (already on B, A) writes the value after rotate-keys read it.
    async with new_storage.sessions() as session, session.begin():
        await session.execute(
            update(Appointment)
            .where(Appointment.id == stale_row["id"])
            .values(reason="Written by the bot meanwhile")
        )
    rotate = rotation(new_storage, [new_key, key])
    async with new_storage.sessions() as session, session.begin():
        report = RotationReport()
        plan = await rotate._rotate_row(session, sealed, stale_row, report)
    assert plan is not None and report.reencrypted == 0 and report.current == 1
    async with new_storage.sessions() as session:
        appointment = await session.get(Appointment, stale_row["id"])
        assert appointment is not None and appointment.reason == "Written by the bot meanwhile"


async def test_rotation_runs_while_the_bot_keeps_writing(
    storage: Storage, key: str, rotated: tuple[Storage, str]
) -> None:
    await seed_clinic(storage.sessions)
    new_storage, new_key = rotated
    rounds = 15

    async def bot_writes() -> None:
        for round_ in range(rounds):
            async with new_storage.sessions() as session, session.begin():
                for appointment in (await session.scalars(select(Appointment))).all():
                    appointment.reason = f"round {round_}"
            await asyncio.sleep(0)

    report, _ = await asyncio.gather(
        rotation(new_storage, [new_key, key], batch_size=1).run(), bot_writes()
    )
    assert report.complete and not report.unreadable and not report.contended
    after = await raw_values(storage.sessions)
    assert under(after, new_key) == set(after)
    async with new_storage.sessions() as session:
        reasons = set((await session.scalars(select(Appointment.reason))).all())
    assert reasons == {f"round {rounds - 1}"}  # the bot's last write, never a stale one


async def test_find_by_phone_reads_the_number_as_registration_does(storage: Storage) -> None:
    await seed_patient(storage.sessions, 6001, phone="+4915112345678")
    async with UnitOfWork(storage.sessions) as uow:
        for typed in ["+49 151 1234 5678", "004915112345678", "4915112345678", " +4915112345678 "]:
            found = await uow.users.find_by_phone(typed)
            assert found is not None and found.telegram_id == 6001, typed
        assert await uow.users.find_by_phone("+4915112345679") is None
        for bad in ["", "call me", "0151 1234 5678", "☎" * 5000]:
            with pytest.raises(ProfileError):
                await uow.users.find_by_phone(bad)


async def test_tables_are_walked_in_batches_each_its_own_transaction(
    storage: Storage, key: str, rotated: tuple[Storage, str]
) -> None:
    await seed_clinic(storage.sessions)
    new_storage, new_key = rotated
    users: SealedTable = next(s for s in sealed_tables() if s.name == "users")
    seen: list[Progress] = []
    await KeyRotation(
        new_storage.sessions, Cipher([new_key, key]), batch_size=3, tables=[users]
    ).run(progress=seen.append)
    # 7 users (6 patients, 1 doctor) in batches of 3: progress after each batch.
    assert [p.rows for p in seen] == [3, 6, 7]
    assert seen[-1].reencrypted == 6 * 3 + 1  # name, birth date, phone; the doctor's name
