"""Many patients tap "Book" on the same slot at the same moment: exactly one gets it.

Each tap runs in its own transaction on its own connection (aiosqlite threads, or separate
PostgreSQL sessions), so the database really sees them at once.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from handlers.port import InlineKeyboard
from handlers.scheduling import SlotUnavailable, book, free_slots_for
from storage.models import Appointment
from storage.seeding import seed_doctor, seed_patient
from storage.unit_of_work import UnitOfWork
from tests.conftest import Storage
from tests.support.harness import Clock, make_harness

NOW = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)
DOCTOR = 900
PATIENTS = list(range(1000, 1012))


async def test_racing_taps_on_one_slot_book_exactly_once(storage: Storage) -> None:
    await seed_doctor(storage.sessions, DOCTOR, "Dr Race", "Cardiology")
    for patient in PATIENTS:
        await seed_patient(storage.sessions, patient, f"Patient {patient - 999}")
    harness = make_harness(storage, clock=Clock(NOW))
    # Everyone walks up to the confirmation of the same (first) slot.
    for patient in PATIENTS:
        await harness.send(patient, "/book")
        await harness.tap(patient, "Cardiology")
        await harness.tap(patient, "Dr Race · Cardiology · €50.00")
        message_id, data = next(
            (m.message_id, b.callback_data or "")
            for m in reversed([m for m in harness.messenger.sent if m.chat_id == patient])
            if isinstance(m.markup, InlineKeyboard)
            for row in m.markup.rows
            for b in row
            if (b.callback_data or "").split(":")[-1].startswith("d2")
        )
        await harness.tap_data(patient, message_id, data)
        await harness.tap(patient, "13:00")
        await harness.tap(patient, "Skip")
        assert "Please check your booking" in harness.last(patient)
    # All at once:
    taps = []
    for patient in PATIENTS:
        message_id, data = harness.messenger.button_data(patient, "✅ Book")
        taps.append(harness.events.callback(patient, message_id, data))
    await asyncio.gather(*(harness.dispatcher.handle(tap) for tap in taps))

    booked = [p for p in PATIENTS if any("Booked!" in t for t in harness.messenger.texts_to(p))]
    taken = [
        p
        for p in PATIENTS
        if any("that time was just taken" in t for t in harness.messenger.texts_to(p))
    ]
    assert len(booked) == 1
    assert sorted(taken) == sorted(set(PATIENTS) - set(booked))
    async with UnitOfWork(storage.sessions) as uow:
        count = await uow.appointments.count_active_at(
            await _doctor_id(uow), NOW + timedelta(hours=2)
        )
    assert count == 1


async def _doctor_id(uow: UnitOfWork) -> int:
    user = await uow.users.by_telegram_id(DOCTOR)
    assert user is not None
    doctor = await uow.doctors.by_user(user.id)
    assert doctor is not None
    return doctor.id


async def test_the_service_alone_under_a_thundering_herd(storage: Storage) -> None:
    doctor_id = await seed_doctor(storage.sessions, DOCTOR, "Dr Herd", "Cardiology")
    patient_ids = [await seed_patient(storage.sessions, p) for p in PATIENTS]
    async with UnitOfWork(storage.sessions) as uow:
        doctor = await uow.doctors.get(doctor_id)
        assert doctor is not None
        slot = (await free_slots_for(uow, doctor, NOW))[0]

    async def attempt(patient_id: int) -> str:
        async with UnitOfWork(storage.sessions) as uow:
            patient = await uow.users.by_telegram_id(PATIENTS[patient_ids.index(patient_id)])
            assert patient is not None
            try:
                await book(uow, doctor_id, patient, slot.start, None, NOW)
            except SlotUnavailable:
                return "taken"
            await uow.commit()
            return "booked"

    results = await asyncio.gather(*(attempt(p) for p in patient_ids))
    assert sorted(results) == ["booked"] + ["taken"] * (len(PATIENTS) - 1)


async def test_the_database_itself_refuses_a_second_active_booking(storage: Storage) -> None:
    """Even code that skips every check cannot put two active appointments on one slot."""
    doctor_id = await seed_doctor(storage.sessions, DOCTOR, "Dr Index", "Cardiology")
    first, second = [await seed_patient(storage.sessions, p) for p in PATIENTS[:2]]
    start = NOW + timedelta(days=1)

    def appointment(patient_id: int, status: str = "booked") -> Appointment:
        return Appointment(
            doctor_id=doctor_id,
            patient_id=patient_id,
            starts_at=start,
            ends_at=start + timedelta(minutes=30),
            status=status,
            created_at=NOW,
            updated_at=NOW,
            late_cancellation=False,
        )

    async def insert(row: Appointment) -> None:
        async with UnitOfWork(storage.sessions) as uow:
            uow.appointments.add(row)
            await uow.commit()

    await insert(appointment(first))
    with pytest.raises(IntegrityError):
        await insert(appointment(second))
    await insert(appointment(second, status="cancelled"))  # inactive rows do not count
    async with storage.sessions() as session:
        total = await session.scalar(select(func.count()).select_from(Appointment))
    assert total == 2
