"""Puts doctors and patients straight into the database: demo clinics, benchmarks, tests."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from clinic.slots import clock_text, parse_weekly_template
from storage.models import Doctor, User, WorkingHours
from storage.unit_of_work import UnitOfWork

WEEKDAYS_9_TO_5 = "\n".join(f"{d} 09:00-17:00" for d in ("Mon", "Tue", "Wed", "Thu", "Fri"))
EVERY_DAY_8_TO_20 = "\n".join(
    f"{d} 08:00-20:00" for d in ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
)
SEEDED_AT = datetime(2026, 1, 1, tzinfo=UTC)


async def seed_patient(
    sessions: async_sessionmaker[AsyncSession],
    telegram_id: int,
    name: str = "Pat Patient",
    zone: str = "Europe/Berlin",
    phone: str | None = None,
) -> int:
    async with UnitOfWork(sessions) as uow:
        user = User(
            telegram_id=telegram_id,
            role="patient",
            language="en",
            full_name=name,
            date_of_birth="1990-01-01",
            timezone=zone,
            consent_version="test",
            consent_at=SEEDED_AT,
            registered_at=SEEDED_AT,
            created_at=SEEDED_AT,
            updated_at=SEEDED_AT,
        )
        uow.users.set_phone(user, phone or f"+4915{telegram_id:09d}")
        uow.users.add(user)
        await uow.commit()
        return user.id


async def seed_doctor(
    sessions: async_sessionmaker[AsyncSession],
    telegram_id: int,
    name: str = "Dr Dana Doctor",
    specialty: str = "Cardiology",
    zone: str = "Europe/Berlin",
    hours: str = WEEKDAYS_9_TO_5,
    fee_minor: int = 5000,
    slot_minutes: int = 30,
    status: str = "approved",
    min_notice_minutes: int = 120,
    horizon_days: int = 30,
    bio: str = "Seeded for tests.",
) -> int:
    async with UnitOfWork(sessions) as uow:
        found = await uow.specialties.by_name(specialty)
        assert found is not None, f"no specialty {specialty!r}"
        user = User(
            telegram_id=telegram_id,
            role="doctor",
            language="en",
            full_name=name,
            timezone=zone,
            registered_at=SEEDED_AT,
            created_at=SEEDED_AT,
            updated_at=SEEDED_AT,
        )
        uow.users.add(user)
        await uow.flush()
        doctor = Doctor(
            user_id=user.id,
            specialty_id=found.id,
            bio=bio,
            fee_minor=fee_minor,
            status=status,
            slot_minutes=slot_minutes,
            buffer_minutes=0,
            min_notice_minutes=min_notice_minutes,
            horizon_days=horizon_days,
            created_at=SEEDED_AT,
        )
        uow.doctors.add(doctor)
        await uow.flush()
        await uow.schedules.replace_hours(
            doctor.id,
            [
                WorkingHours(
                    doctor_id=doctor.id,
                    weekday=r.weekday,
                    start=clock_text(r.start),
                    end=clock_text(r.end),
                )
                for r in parse_weekly_template(hours)
            ],
        )
        await uow.commit()
        return doctor.id
