"""Many patients, few slots: bookings made, double bookings (must be 0), reply times.

    python -m bench.booking_contention --patients 60 --framework ptb [--database-url URL]

Starts the Bot API emulator in this process (127.0.0.1 only) and `python bot.py` as a child on
a fresh SQLite file (or a fresh PostgreSQL database from --database-url). Seeds one doctor with
only a handful of slots and `--patients` registered patients, walks every patient to the
confirmation of a slot chosen among those few, then has them all tap "Book" at once. Prints the
bookings made, "just taken" replies, double bookings found in the database, and the median and
95th-percentile time from the tap to the bot's reply. Bounded by --seconds-limit.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from bench.throughput import TOKEN, UNLIMITED_RATES, first_reply_time
from bot.emulator import BotApiEmulator, SimulatedUser
from clinic.slots import Interval
from handlers.scheduling import free_slots_for
from storage.crypto import Cipher, generate_key
from storage.database import create_engine, session_factory
from storage.migrate import check_keys, upgrade
from storage.models import ACTIVE_STATUSES, Appointment
from storage.seeding import seed_doctor, seed_patient
from storage.unit_of_work import UnitOfWork
from tests.support.bot_process import BotProcess
from tests.support.chat import unsigned
from tests.support.databases import fresh_database

DOCTOR_ID = 990_001
FIRST_PATIENT = 990_100
# One hour a day, 30-minute slots, two days ahead: four slots for everyone to fight over.
SCARCE_HOURS = "\n".join(
    f"{d} 10:00-11:00" for d in ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
)


def slot_buttons(user: SimulatedUser, prefix: str) -> list[tuple[int, str]]:
    for message in reversed(user.messages):
        keyboard = (message.get("reply_markup") or {}).get("inline_keyboard", [])
        found = [
            (message.message_id, b["callback_data"])
            for row in keyboard
            for b in row
            if unsigned(b.get("callback_data", "")).split(":")[-1].startswith(prefix)
            and unsigned(b["callback_data"]).split(":")[-1][1:].isdigit()
        ]
        if found:
            return found
    raise AssertionError(f"user {user.id}: no {prefix} buttons")


async def walk_to_confirmation(user: SimulatedUser, rng: random.Random) -> None:
    await user.send_command("book")
    await user.expect("Which kind of doctor", timeout=60)
    await (await user.tap("Cardiology")).answer(timeout=60)
    await user.expect("Choose a doctor", timeout=60)
    await (await user.tap("Dr Scarce · Cardiology · €50.00")).answer(timeout=60)
    await user.expect("pick a day", timeout=60)
    days = [d for d in slot_buttons(user, "d") if len(unsigned(d[1]).split(":")[-1]) == 9]
    message_id, data = rng.choice(days)
    await (await user.tap_data(data, message_id)).answer(timeout=60)
    await user.expect("Free times on", timeout=60)
    message_id, data = rng.choice(slot_buttons(user, "t"))
    await (await user.tap_data(data, message_id)).answer(timeout=60)
    await user.expect("reason for your visit", timeout=60)
    await (await user.tap("Skip")).answer(timeout=60)
    await user.expect("Please check your booking", timeout=60)


@asynccontextmanager
async def database(url: str | None, workdir: Path) -> AsyncIterator[str]:
    if url is None:
        yield f"sqlite:///{workdir / 'clinic.db'}"
        return
    async with fresh_database("postgresql", workdir, server_url=url) as fresh:
        yield fresh


async def run(
    framework: str, patients: int, database_url: str | None, seconds_limit: float
) -> None:
    rng = random.Random(7)
    key = generate_key()
    async with BotApiEmulator(TOKEN, "clinic_bench_bot") as emulator:
        with tempfile.TemporaryDirectory(prefix="bench-booking-") as workdir:
            async with database(database_url, Path(workdir)) as url:
                engine = create_engine(url, Cipher([key]))
                await upgrade(engine)
                sessions = session_factory(engine)
                await check_keys(sessions)
                doctor_id = await seed_doctor(
                    sessions,
                    DOCTOR_ID,
                    "Dr Scarce",
                    "Cardiology",
                    "UTC",
                    hours=SCARCE_HOURS,
                    min_notice_minutes=0,
                    horizon_days=2,
                )
                async with UnitOfWork(sessions) as uow:
                    doctor = await uow.doctors.get(doctor_id)
                    assert doctor is not None
                    offered = len(await free_slots_for(uow, doctor, datetime.now(UTC)))
                users = []
                for index in range(patients):
                    user = emulator.user(f"P{index}", user_id=FIRST_PATIENT + index)
                    await seed_patient(sessions, user.id, f"Patient {index}", "UTC")
                    users.append(user)
                bot = BotProcess(
                    {
                        "BOT_TOKEN": TOKEN,
                        "TELEGRAM_API_BASE_URL": emulator.base_url,
                        "DATABASE_URL": url,
                        "ENCRYPTION_KEYS": key,
                        "LOG_LEVEL": "INFO",  # the ready line; nothing is logged per update
                        **UNLIMITED_RATES,
                    },
                    Path(workdir),
                    args=["--framework", framework],
                )
                await bot.start()
                try:
                    async with asyncio.timeout(seconds_limit):
                        await asyncio.gather(*(walk_to_confirmation(u, rng) for u in users))
                        since = len(emulator.calls)
                        pushed: dict[int, tuple[float, str]] = {}
                        taps = []
                        for user in users:
                            pushed_at = time.time()
                            tap = await user.tap("✅ Book")
                            pushed[user.id] = (pushed_at, tap.query_id)
                            taps.append(tap)
                        await asyncio.gather(*(t.answer(timeout=60) for t in taps))
                        outcomes = await asyncio.gather(
                            *(u.expect(None, timeout=60) for u in users)
                        )
                    latencies = [
                        first_reply_time(emulator, since, u, pushed[u.id][1]) - pushed[u.id][0]
                        for u in users
                    ]
                finally:
                    await bot.stop()
                async with sessions() as session:
                    active = list(
                        await session.scalars(
                            select(Appointment).where(Appointment.status.in_(ACTIVE_STATUSES))
                        )
                    )
                await engine.dispose()
    # Counted over each chat as it now reads (the summary of a lost race is edited in place).
    booked = sum(any("Booked!" in m.text for m in u.messages) for u in users)
    taken = sum(any("just taken" in m.text for m in u.messages) for u in users)
    assert len(outcomes) == len(users)
    intervals = [Interval(a.starts_at, a.ends_at) for a in active]
    doubles = sum(1 for i, a in enumerate(intervals) for b in intervals[i + 1 :] if a.overlaps(b))
    ms = sorted(x * 1000 for x in latencies)
    print(f"framework: {framework}, database: {'PostgreSQL' if database_url else 'SQLite'}")
    print(f"patients: {patients}, slots on offer: {offered} (one doctor, 1 hour a day, 2 days)")
    print(f"bookings made (rows):      {len(active)}")
    print(f"'Booked' replies:          {booked}")
    print(f"'just taken' replies:      {taken}")
    print(f"double bookings:           {doubles}   (must be 0)")
    print(f"reply to Book, median ms:  {statistics.median(ms):.1f}")
    print(f"reply to Book, p95 ms:     {statistics.quantiles(ms, n=20)[18]:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=60)
    parser.add_argument("--framework", choices=["ptb", "aiogram"], default="ptb")
    parser.add_argument("--database-url", default=None, help="a PostgreSQL server URL")
    parser.add_argument("--seconds-limit", type=float, default=300.0)
    args = parser.parse_args()
    asyncio.run(run(args.framework, args.patients, args.database_url, args.seconds_limit))


if __name__ == "__main__":
    main()
