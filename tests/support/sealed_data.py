"""Health data of every kind sealed under one key, and the raw ciphertexts read back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.crypto import Cipher
from storage.key_rotation import sealed_tables
from storage.models import Appointment, Broadcast, Conversation, Feedback
from storage.seeding import seed_doctor, seed_patient
from storage.unit_of_work import UnitOfWork
from tests.support.clinic_records import Rx, Said, seed_closed_consultation

Address = tuple[str, str, str]  # table, column, row key

START = datetime(2026, 2, 2, 9, 0, tzinfo=UTC)
PATIENTS = [(5001 + i, f"+4915112345{600 + i}") for i in range(6)]
DOCTOR = 7001


async def seed_clinic(sessions: async_sessionmaker[AsyncSession]) -> None:
    """Health data of every kind, all sealed with the storage's key (key A)."""
    doctor_id = await seed_doctor(sessions, DOCTOR, "Dr Mira Kaur", "Cardiology")
    for index, (telegram_id, phone) in enumerate(PATIENTS):
        await seed_patient(sessions, telegram_id, f"Пациент {index} 患者", phone=phone)
        await seed_closed_consultation(
            sessions,
            doctor_id,
            telegram_id,
            START + timedelta(days=index),
            private_notes="Suspected arrhythmia",
            chat=[Said(True, "My chest hurts 💔"), Said(False, "Since when?", "photo", ["f1"])],
            prescriptions=[Rx("Bisoprolol", instructions="with food")],
        )
    async with UnitOfWork(sessions) as uow:
        await uow.conversations.save(
            Conversation(
                telegram_id=PATIENTS[0][0],
                flow="booking",
                step="reason",
                token="abc123",
                data={"reason": "Palpitations at night", "doctor": doctor_id},
                updated_at=START,
            )
        )
        await uow.commit()
    async with sessions() as session, session.begin():
        await session.execute(update(Appointment).values(reason="Chest pain when climbing"))
        first = await session.scalar(select(Appointment.id).order_by(Appointment.id))
        session.add(Feedback(appointment_id=first, rating=5, comment="Very kind", created_at=START))
        session.add(
            Broadcast(
                created_by=1,
                audience="patients",
                text="Clinic closed on Friday",
                status="done",
                created_at=START,
            )
        )


async def raw_values(sessions: async_sessionmaker[AsyncSession]) -> dict[Address, str]:
    """Every sealed value as the ciphertext stored, by (table, column, row key)."""
    found: dict[Address, str] = {}
    async with sessions() as session:
        for sealed in sealed_tables():
            for row in (await session.execute(select(sealed.raw))).mappings():
                for name in sealed.sealed:
                    if row[name] is not None:
                        found[(sealed.name, name, sealed.key_of(row))] = row[name]
    return found


def under(values: dict[Address, str], key: str) -> set[Address]:
    cipher = Cipher([key])
    return {address for address, token in values.items() if cipher.open_with_newest(token)}
