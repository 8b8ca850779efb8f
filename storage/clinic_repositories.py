"""Repositories for doctors, their calendars and appointments. They never commit."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import (
    ACTIVE_STATUSES,
    Appointment,
    DayOff,
    Doctor,
    DoctorInvite,
    Specialty,
    TimeBlock,
    User,
    WorkingHours,
)


class SpecialtyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def all(self) -> Sequence[Specialty]:
        return (await self._session.scalars(select(Specialty).order_by(Specialty.name))).all()

    async def get(self, specialty_id: int) -> Specialty | None:
        return await self._session.get(Specialty, specialty_id)

    async def by_name(self, name: str) -> Specialty | None:
        return await self._session.scalar(
            select(Specialty).where(func.lower(Specialty.name) == name.lower())
        )

    async def with_approved_doctors(self) -> Sequence[Specialty]:
        query = (
            select(Specialty)
            .join(Doctor, Doctor.specialty_id == Specialty.id)
            .where(Doctor.status == "approved")
            .distinct()
            .order_by(Specialty.name)
        )
        return (await self._session.scalars(query)).all()

    def add(self, specialty: Specialty) -> None:
        self._session.add(specialty)


class InviteRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    def add(self, invite: DoctorInvite) -> None:
        self._session.add(invite)

    async def by_code(self, code: str) -> DoctorInvite | None:
        return await self._session.scalar(select(DoctorInvite).where(DoctorInvite.code == code))

    async def lock(self, code: str) -> DoctorInvite | None:
        """The invite, locked for this transaction (PostgreSQL), so it is used only once."""
        return await self._session.scalar(
            select(DoctorInvite).where(DoctorInvite.code == code).with_for_update()
        )


class DoctorRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    def add(self, doctor: Doctor) -> None:
        self._session.add(doctor)

    async def get(self, doctor_id: int) -> Doctor | None:
        return await self._session.get(Doctor, doctor_id)

    async def by_user(self, user_id: int) -> Doctor | None:
        return await self._session.scalar(select(Doctor).where(Doctor.user_id == user_id))

    async def lock(self, doctor_id: int) -> Doctor | None:
        """The doctor's row, locked for this transaction on PostgreSQL, so bookings of one
        doctor are checked one after another (SQLite's BEGIN IMMEDIATE already serialises)."""
        return await self._session.scalar(
            select(Doctor).where(Doctor.id == doctor_id).with_for_update(of=Doctor)
        )

    async def approved_in(self, specialty_id: int) -> Sequence[Doctor]:
        query = (
            select(Doctor)
            .where(Doctor.specialty_id == specialty_id, Doctor.status == "approved")
            .order_by(Doctor.id)
        )
        return (await self._session.scalars(query)).all()

    async def pending(self) -> Sequence[Doctor]:
        query = select(Doctor).where(Doctor.status == "pending").order_by(Doctor.created_at)
        return (await self._session.scalars(query)).all()


class ScheduleRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def hours(self, doctor_id: int) -> Sequence[WorkingHours]:
        query = (
            select(WorkingHours)
            .where(WorkingHours.doctor_id == doctor_id)
            .order_by(WorkingHours.weekday, WorkingHours.start)
        )
        return (await self._session.scalars(query)).all()

    async def replace_hours(self, doctor_id: int, hours: Sequence[WorkingHours]) -> None:
        await self._session.execute(delete(WorkingHours).where(WorkingHours.doctor_id == doctor_id))
        self._session.add_all(hours)

    async def days_off(self, doctor_id: int) -> Sequence[DayOff]:
        query = select(DayOff).where(DayOff.doctor_id == doctor_id).order_by(DayOff.first_day)
        return (await self._session.scalars(query)).all()

    def add_day_off(self, day_off: DayOff) -> None:
        self._session.add(day_off)

    async def remove_day_off(self, doctor_id: int, day_off_id: int) -> bool:
        result = await self._session.execute(
            delete(DayOff).where(DayOff.id == day_off_id, DayOff.doctor_id == doctor_id)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def blocks_between(
        self, doctor_id: int, start: datetime, end: datetime
    ) -> Sequence[TimeBlock]:
        query = select(TimeBlock).where(
            TimeBlock.doctor_id == doctor_id, TimeBlock.starts_at < end, TimeBlock.ends_at > start
        )
        return (await self._session.scalars(query)).all()

    def add_block(self, block: TimeBlock) -> None:
        self._session.add(block)


class AppointmentRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    def add(self, appointment: Appointment) -> None:
        self._session.add(appointment)

    async def get(self, appointment_id: int) -> Appointment | None:
        return await self._session.get(Appointment, appointment_id)

    async def moves_before(self, appointment: Appointment) -> list[tuple[datetime, datetime]]:
        """The times this appointment was moved from, each with when it was moved (the new
        appointment's creation), newest first."""
        moves: list[tuple[datetime, datetime]] = []
        current, seen = appointment, {appointment.id}
        while current.rescheduled_from_id is not None and current.rescheduled_from_id not in seen:
            earlier = await self._session.get(Appointment, current.rescheduled_from_id)
            if earlier is None:
                break
            moves.append((earlier.starts_at, current.created_at))
            seen.add(earlier.id)
            current = earlier
        return moves

    async def lock(self, appointment_id: int) -> Appointment | None:
        """The appointment as it is now, locked for this transaction on PostgreSQL (SQLite's
        BEGIN IMMEDIATE already serialises), so two taps cannot both change it."""
        query = (
            select(Appointment)
            .where(Appointment.id == appointment_id)
            .with_for_update(of=Appointment)
            .execution_options(populate_existing=True)
        )
        return await self._session.scalar(query)

    async def active_for_doctor(
        self, doctor_id: int, start: datetime, end: datetime
    ) -> Sequence[Appointment]:
        query = (
            select(Appointment)
            .where(
                Appointment.doctor_id == doctor_id,
                Appointment.status.in_(ACTIVE_STATUSES),
                Appointment.starts_at < end,
                Appointment.ends_at > start,
            )
            .order_by(Appointment.starts_at)
        )
        return (await self._session.scalars(query)).all()

    async def for_doctor_between(
        self, doctor_id: int, start: datetime, end: datetime
    ) -> Sequence[Appointment]:
        """Every appointment of the doctor starting in [start, end), any status, by start."""
        query = (
            select(Appointment)
            .where(
                Appointment.doctor_id == doctor_id,
                Appointment.starts_at >= start,
                Appointment.starts_at < end,
            )
            .order_by(Appointment.starts_at, Appointment.id)
        )
        return (await self._session.scalars(query)).all()

    async def active_for_patient(
        self, patient_id: int, start: datetime, end: datetime
    ) -> Sequence[Appointment]:
        query = select(Appointment).where(
            Appointment.patient_id == patient_id,
            Appointment.status.in_(ACTIVE_STATUSES),
            Appointment.starts_at < end,
            Appointment.ends_at > start,
        )
        return (await self._session.scalars(query)).all()

    async def of_patient(self, patient_id: int, limit: int = 50) -> Sequence[Appointment]:
        query = (
            select(Appointment)
            .where(Appointment.patient_id == patient_id, Appointment.status != "rescheduled")
            .order_by(Appointment.starts_at.desc())
            .limit(limit)
        )
        return (await self._session.scalars(query)).all()

    async def count_active_at(self, doctor_id: int, start: datetime) -> int:
        query = select(func.count()).where(
            Appointment.doctor_id == doctor_id,
            Appointment.starts_at == start,
            Appointment.status.in_(ACTIVE_STATUSES),
        )
        return int(await self._session.scalar(query) or 0)

    async def lock_patient(self, patient_id: int) -> None:
        """Serialise one patient's bookings on PostgreSQL (no overlapping appointments)."""
        await self._session.execute(select(User.id).where(User.id == patient_id).with_for_update())
