"""The sandbox's cast: the admin always, and with --seed-demo a small clinic to try things on."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handlers.formatting import precision_of
from storage.seeding import seed_doctor, seed_patient
from storage.unit_of_work import UnitOfWork

from .personas import PersonaBook

# Ids far above the emulator's counter for new users (100001 up), so they never collide.
ADMIN_ID = 9_000_001
ADMIN_NAME = "Alex"


@dataclass(frozen=True)
class DemoDoctor:
    user_id: int
    first_name: str
    full_name: str
    specialty: str
    zone: str
    hours: str  # weekly template, one "Mon 09:00-17:00" line per day
    bio: str
    fee: int  # whole units of PAYMENT_CURRENCY (the sandbox's default: Telegram Stars); 0 free


@dataclass(frozen=True)
class DemoPatient:
    user_id: int
    first_name: str
    full_name: str
    zone: str


def _days(days: str, hours: str) -> str:
    return "\n".join(f"{day} {hours}" for day in days.split())


# Three specialties on three continents, so time-zone handling shows on the first booking;
# two paid doctors (an invoice to pay before the booking stands) and a free one.
DOCTORS = (
    DemoDoctor(
        9_000_101,
        "Mira",
        "Dr Mira Kaur",
        "Cardiology",
        "Europe/Berlin",
        _days("Mon Tue Wed Thu Fri", "09:00-17:00") + "\n" + _days("Sat", "10:00-14:00"),
        "Cardiologist, 12 years in practice. Palpitations, blood pressure, chest pain.",
        250,
    ),
    DemoDoctor(
        9_000_102,
        "Sam",
        "Dr Sam Carter",
        "Dermatology",
        "America/New_York",
        _days("Mon Tue Wed Thu Fri Sat", "08:00-18:00"),
        "Dermatologist. Rashes, acne, moles and skin checks; photos welcome.",
        0,
    ),
    DemoDoctor(
        9_000_103,
        "Arjun",
        "Dr Arjun Rao",
        "Neurology",
        "Asia/Kolkata",
        _days("Mon Tue Wed Thu Fri Sat Sun", "10:00-20:00"),
        "Neurologist. Headaches, migraines, dizziness and sleep problems.",
        150,
    ),
)
PATIENTS = (
    DemoPatient(9_000_201, "Anna", "Anna Schmidt", "Europe/Berlin"),
    DemoPatient(9_000_202, "Ben", "Ben Miller", "America/New_York"),
)


def add_admin(book: PersonaBook) -> None:
    """The clinic admin (its id is the sandbox's ADMIN_IDS): there in every sandbox."""
    book.add(ADMIN_NAME, "Alex · clinic admin", "admin", user_id=ADMIN_ID)


async def seed_demo(
    sessions: async_sessionmaker[AsyncSession], book: PersonaBook, currency: str
) -> bool:
    """Doctors and patients in the database and as personas; False if seeded before.

    Fees are whole ``currency`` units (250 stars, or 250.00 in a currency with cents)."""
    for doctor in DOCTORS:
        book.add(
            doctor.first_name, f"{doctor.full_name} · {doctor.specialty}", "doctor", doctor.user_id
        )
    for patient in PATIENTS:
        book.add(patient.first_name, f"{patient.full_name} · patient", "patient", patient.user_id)
    async with UnitOfWork(sessions) as uow:
        if await uow.users.by_telegram_id(DOCTORS[0].user_id) is not None:
            return False
    for doctor in DOCTORS:
        await seed_doctor(
            sessions,
            doctor.user_id,
            doctor.full_name,
            doctor.specialty,
            doctor.zone,
            hours=doctor.hours,
            bio=doctor.bio,
            fee_minor=doctor.fee * 10 ** precision_of(currency),
            # A person trying the sandbox in the evening should still find today's slots.
            min_notice_minutes=30,
        )
    for patient in PATIENTS:
        user = book.user(patient.user_id)
        phone = user.phone if user is not None else None
        await seed_patient(sessions, patient.user_id, patient.full_name, patient.zone, phone)
    return True
