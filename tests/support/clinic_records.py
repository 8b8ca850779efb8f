"""Puts a finished consultation straight into the database: summary, notes, chat, prescriptions."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from clinic.consultation_rules import reference_for
from storage.models import (
    Appointment,
    AuditEntry,
    Consultation,
    Doctor,
    Prescription,
    RecordDocument,
    RelayedMessage,
    User,
)
from storage.unit_of_work import UnitOfWork


@dataclass(frozen=True)
class Said:
    """One line of the chat: who wrote it (True for the patient), the kind and the text."""

    from_patient: bool
    text: str | None
    kind: str = "text"
    files: Sequence[object] = ()


@dataclass(frozen=True)
class Rx:
    medicine: str
    strength: str = "500 mg"
    dose: str = "1 tablet"
    frequency: str = "twice a day"
    duration: str = "7 days"
    instructions: str | None = None


async def user_id_of(sessions: async_sessionmaker[AsyncSession], telegram_id: int) -> int:
    async with sessions() as session:
        found = await session.scalar(select(User.id).where(User.telegram_id == telegram_id))
        assert found is not None, telegram_id
        return found


async def doctor_id_of(sessions: async_sessionmaker[AsyncSession], telegram_id: int) -> int:
    """The doctors-table id of a seeded doctor, by Telegram id."""
    async with sessions() as session:
        found = await session.scalar(
            select(Doctor.id)
            .join(User, Doctor.user_id == User.id)
            .where(User.telegram_id == telegram_id)
        )
        assert found is not None, telegram_id
        return found


async def seed_closed_consultation(
    sessions: async_sessionmaker[AsyncSession],
    doctor_id: int,
    patient_telegram_id: int,
    starts_at: datetime,
    *,
    summary: str | None = "Rest and drink plenty of water.",
    private_notes: str | None = None,
    chat: Sequence[Said] = (),
    prescriptions: Sequence[Rx] = (),
) -> int:
    """A completed appointment with its closed consultation; returns the consultation id."""
    patient_id = await user_id_of(sessions, patient_telegram_id)
    async with UnitOfWork(sessions) as uow:
        doctor = await uow.doctors.get(doctor_id)
        assert doctor is not None
        appointment = Appointment(
            doctor_id=doctor_id,
            patient_id=patient_id,
            starts_at=starts_at,
            ends_at=starts_at + timedelta(minutes=30),
            status="completed",
            created_at=starts_at - timedelta(days=1),
            updated_at=starts_at + timedelta(minutes=30),
        )
        uow.appointments.add(appointment)
        await uow.flush()
        consultation = Consultation(
            appointment_id=appointment.id,
            reference=reference_for(appointment.id, starts_at),
            opened_at=starts_at,
            closed_at=starts_at + timedelta(minutes=25),
            summary=summary,
            private_notes=private_notes,
            header_to_patient=True,
            header_to_doctor=True,
        )
        uow.consultations.add(consultation)
        await uow.flush()
        for index, said in enumerate(chat):
            uow.consultations.add_relayed(
                RelayedMessage(
                    consultation_id=consultation.id,
                    direction="to_doctor" if said.from_patient else "to_patient",
                    kind=said.kind,
                    source_chat_id=(
                        patient_telegram_id if said.from_patient else doctor.user.telegram_id
                    ),
                    source_message_id=1000 + index,
                    content=said.text,
                    files=json.dumps(list(said.files)) if said.files else None,
                    delivered=True,
                    created_at=starts_at + timedelta(minutes=1, seconds=index),
                )
            )
        for item in prescriptions:
            uow.consultations.add_prescription(
                Prescription(
                    consultation_id=consultation.id,
                    medicine=item.medicine,
                    strength=item.strength,
                    dose=item.dose,
                    frequency=item.frequency,
                    duration=item.duration,
                    instructions=item.instructions,
                    created_at=starts_at + timedelta(minutes=25),
                )
            )
        await uow.commit()
        return consultation.id


async def audit_entries(sessions: async_sessionmaker[AsyncSession]) -> list[AuditEntry]:
    async with sessions() as session:
        rows = list(await session.scalars(select(AuditEntry).order_by(AuditEntry.id)))
        session.expunge_all()
        return rows


async def record_documents(sessions: async_sessionmaker[AsyncSession]) -> list[RecordDocument]:
    async with sessions() as session:
        rows = list(await session.scalars(select(RecordDocument).order_by(RecordDocument.id)))
        session.expunge_all()
        return rows


async def unlocked_session(
    sessions: async_sessionmaker[AsyncSession], telegram_id: int, at: datetime, pin: str = "2580"
) -> None:
    """Give the user a PIN and an unlocked session as of `at` (doctors need one for records)."""
    from argon2 import PasswordHasher

    async with sessions() as session:
        user = await session.scalar(select(User).where(User.telegram_id == telegram_id))
        assert user is not None, telegram_id
        user.pin_hash = PasswordHasher().hash(pin)
        user.session_active_at = at
        await session.commit()
