"""Reminder dispatch: messages a second, lost (must be 0) and duplicates (must be 0).

    python -m bench.reminders [--count 10000] [--limited-count 300] [--database-url URL]

Starts the Bot API emulator in this process (127.0.0.1 only), seeds one doctor and `--count`
patients (their chats known to the emulator, as if each had written to the bot) with one
appointment each, 50 minutes ahead, so every 1-hour reminder is due. Then it runs the real
reminder job (`jobs.tasks.send_reminder`) for every appointment, each fired twice at once
(as a second scheduler started by mistake would), through the project's sending path and the
python-telegram-bot messenger against the emulator. Counted afterwards from what the emulator
received: reminders per patient (lost = patients with none, duplicates = extra copies).

Two runs: without the rate limit (`--count` reminders) and with the production limit
(30 messages a second overall, 1 a second per chat) on `--limited-count` reminders, which at
30/s takes count/30 seconds. Bounded by --seconds-limit per run.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bench.throughput import TOKEN
from bot.emulator import BotApiEmulator
from bot.ptb_adapter import PtbMessenger, build_application
from handlers.sending import Limits, RateLimiter, SendingPath
from jobs import runtime as job_runtime
from jobs.runtime import JobSettings, Runtime
from jobs.tasks import send_reminder
from storage.crypto import Cipher, generate_key
from storage.database import create_engine, session_factory
from storage.migrate import check_keys, upgrade
from storage.models import Appointment, User
from storage.seeding import SEEDED_AT, seed_doctor
from storage.unit_of_work import UnitOfWork
from tests.support.databases import fresh_database

DOCTOR_ID = 980_001
FIRST_PATIENT = 1_000_000
CONCURRENCY = 8
PRODUCTION = Limits(global_rate=30.0, per_chat_rate=1.0, per_chat_burst=3)
UNLIMITED = Limits(global_rate=1_000_000.0, per_chat_rate=1_000_000.0, per_chat_burst=1_000_000)


@asynccontextmanager
async def database(url: str | None, workdir: Path) -> AsyncIterator[str]:
    if url is None:
        yield f"sqlite:///{workdir / 'clinic.db'}"
        return
    async with fresh_database("postgresql", workdir, server_url=url) as fresh:
        yield fresh


async def seed(
    sessions: async_sessionmaker[AsyncSession],
    emulator: BotApiEmulator,
    count: int,
    now: datetime,
) -> list[int]:
    """One patient and one appointment each, straight into the database (batched)."""
    doctor_id = await seed_doctor(sessions, DOCTOR_ID, "Dr Bench", "Cardiology", "UTC")
    ids: list[int] = []
    start = now + timedelta(minutes=50)
    for first in range(0, count, 500):
        async with UnitOfWork(sessions) as uow:
            batch = []
            for index in range(first, min(first + 500, count)):
                telegram_id = FIRST_PATIENT + index
                emulator.user(f"P{index}", user_id=telegram_id).chat.known = True
                user = User(
                    telegram_id=telegram_id,
                    role="patient",
                    language="en",
                    full_name=f"Patient {index}",
                    timezone="UTC",
                    registered_at=SEEDED_AT,
                    created_at=SEEDED_AT,
                    updated_at=SEEDED_AT,
                )
                uow.users.add(user)
                batch.append(user)
            await uow.flush()
            # Each patient at its own minute: the database allows one active booking per
            # doctor and start.
            appointments = [
                Appointment(
                    doctor_id=doctor_id,
                    patient_id=user.id,
                    starts_at=start + timedelta(minutes=first + offset),
                    ends_at=start + timedelta(minutes=first + offset + 30),
                    status="booked",
                    # Booked well before: a reminder whose time came before the booking is
                    # skipped by design.
                    created_at=SEEDED_AT,
                    updated_at=SEEDED_AT,
                    late_cancellation=False,
                )
                for offset, user in enumerate(batch)
            ]
            for appointment in appointments:
                uow.appointments.add(appointment)
            await uow.flush()
            ids += [a.id for a in appointments]
            await uow.commit()
    return ids


async def dispatch(ids: list[int]) -> None:
    """Every reminder fired twice at once, at most CONCURRENCY jobs running together."""
    gate = asyncio.Semaphore(CONCURRENCY)

    async def fire(appointment_id: int) -> None:
        async with gate:
            await send_reminder(appointment_id, 60)

    await asyncio.gather(*(fire(i) for i in ids for _ in range(2)))


async def run_once(
    label: str, count: int, limits: Limits, database_url: str | None, seconds_limit: float
) -> None:
    key = generate_key()
    async with BotApiEmulator(TOKEN, "clinic_bench_bot") as emulator:
        with tempfile.TemporaryDirectory(prefix="bench-reminders-") as workdir:
            async with database(database_url, Path(workdir)) as url:
                engine = create_engine(url, Cipher([key]))
                await upgrade(engine)
                sessions = session_factory(engine)
                await check_keys(sessions)
                now = datetime.now(UTC)
                ids = await seed(sessions, emulator, count, now)
                application = build_application(TOKEN, emulator.base_url)
                await application.initialize()
                unreachable: list[int] = []

                async def mark(chat_id: int) -> None:
                    unreachable.append(chat_id)

                sending = SendingPath(PtbMessenger(application.bot), RateLimiter(limits), mark)
                job_runtime.install(Runtime(sessions, sending, JobSettings(), lambda: now))
                began = time.perf_counter()
                try:
                    async with asyncio.timeout(seconds_limit):
                        await dispatch(ids)
                finally:
                    elapsed = time.perf_counter() - began
                    job_runtime.install(None)
                    await application.shutdown()
                    await engine.dispose()
                received = {
                    FIRST_PATIENT + i: sum(
                        "Reminder" in m.text
                        for m in emulator.user(user_id=FIRST_PATIENT + i).messages
                    )
                    for i in range(count)
                }
    sent = sum(received.values())
    lost = sum(1 for n in received.values() if n == 0)
    duplicates = sum(n - 1 for n in received.values() if n > 1)
    print(
        f"| {label:<28} | {count:>9} | {2 * count:>10} | {sent:>8} | {elapsed:>8.1f} | "
        f"{sent / elapsed:>10.1f} | {lost:>4} | {duplicates:>10} | {len(unreachable):>11} |"
    )


async def run(count: int, limited_count: int, database_url: str | None, limit: float) -> None:
    print(
        f"database: {'PostgreSQL' if database_url else 'SQLite'}; each reminder job fired "
        "twice at once; python-telegram-bot messenger -> emulator in this process"
    )
    print(
        "| run                          | reminders | job firings | messages | seconds | "
        "messages/s | lost | duplicates | unreachable |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    await run_once("no rate limit", count, UNLIMITED, database_url, limit)
    await run_once("production limit (30/s, 1/s)", limited_count, PRODUCTION, database_url, limit)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000, help="reminders, unlimited run")
    parser.add_argument(
        "--limited-count", type=int, default=300, help="reminders in the rate-limited run"
    )
    parser.add_argument("--database-url", default=None, help="a PostgreSQL server URL")
    parser.add_argument("--seconds-limit", type=float, default=900.0)
    args = parser.parse_args()
    asyncio.run(run(args.count, args.limited_count, args.database_url, args.seconds_limit))


if __name__ == "__main__":
    main()
