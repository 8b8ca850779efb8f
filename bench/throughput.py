"""Throughput of the real bot on each framework, against a bare echo bot on the same framework.

    python -m bench.throughput --frameworks ptb,aiogram --users 50 --seconds-limit 120

Starts the project's Bot API emulator in this process (127.0.0.1 only), runs `python bot.py
--framework X` as a child on a fresh SQLite file, drives `--users` simulated patients at once
through `bench.scenario.PATIENT_MIX`, then does the same number of text updates per user against
`bench.echo_bots` on the same framework. Prints reply latency (push of an update -> the bot's
first API call for that chat or callback), updates a second and peak RSS, per framework.
Bounded: a fixed number of steps per user and `--seconds-limit` per run; it stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bench.scenario import BENCH_DOCTOR_NAME, PATIENT_MIX, RELAY_MIX, Step, perform
from bot.emulator import BotApiEmulator, SimulatedUser
from handlers.callback_signing import CallbackSigner
from storage.crypto import Cipher, generate_key
from storage.database import create_engine, session_factory
from storage.models import Appointment
from storage.seeding import seed_doctor
from storage.unit_of_work import UnitOfWork
from tests.support.bot_process import ROOT, BotProcess

TOKEN = "123456:BENCH-throughput-token"
BOT_USERNAME = "clinic_bench_bot"
# High enough that the sending limiter never waits: the benchmark measures the bot, not the
# rate it is configured to keep towards Telegram.
UNLIMITED_RATES = {
    "SEND_RATE_GLOBAL": "1000000",
    "SEND_RATE_PER_CHAT": "1000000",
    "SEND_BURST_PER_CHAT": "1000000",
    # Scripted users send far faster than people; the incoming limit would refuse them.
    "INCOMING_PER_MINUTE": "0",
}
STEP_TIMEOUT = 30.0  # one reply slower than this counts the user as failed
DOCTOR_ID = 990_500
# The bench doctor works around the clock, so every user finds free times whenever it runs.
ALL_DAY = "\n".join(f"{d} 00:00-24:00" for d in ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"))


@dataclass
class Run:
    label: str
    latencies: list[float] = field(default_factory=list)  # seconds, one per answered update
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0
    peak_rss_mb: float = float("nan")
    timed_out: bool = False

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0

    def row(self) -> str:
        ms = sorted(x * 1000 for x in self.latencies)
        median = statistics.median(ms) if ms else float("nan")
        p95 = statistics.quantiles(ms, n=20)[18] if len(ms) >= 2 else float("nan")
        note = " (time limit hit)" if self.timed_out else ""
        note += f" ({len(self.failures)} users failed)" if self.failures else ""
        return (
            f"| {self.label:<8} | {len(self.latencies):>7} | {self.seconds:>7.2f} | "
            f"{self.rate:>9.1f} | {median:>10.1f} | {p95:>7.1f} | {self.peak_rss_mb:>13.1f} |{note}"
        )


HEADER = (
    "| run      | updates | seconds | updates/s | median ms  | p95 ms  | peak RSS (MB) |\n"
    "|----------|---------|---------|-----------|------------|---------|---------------|"
)


def first_reply_time(emulator: BotApiEmulator, since: int, user: SimulatedUser, tap: str) -> float:
    """When the bot first acted on this user's update: its first call for the chat or the tap."""
    for call in emulator.calls[since:]:
        if call.method == "getUpdates":
            continue
        if str(call.params.get("chat_id")) == str(user.id) or (
            tap and call.params.get("callback_query_id") == tap
        ):
            return call.time
    raise AssertionError(f"no bot call found for user {user.id}")


async def timed_step(emulator: BotApiEmulator, user: SimulatedUser, step: Step, run: Run) -> None:
    since, pushed = len(emulator.calls), time.time()
    tap = await perform(user, step)
    await user.expect(step.expect, timeout=STEP_TIMEOUT)
    if tap is not None:
        await tap.answer(timeout=STEP_TIMEOUT)  # every tap is answered before the next step
    query = tap.query_id if tap is not None else ""
    run.latencies.append(first_reply_time(emulator, since, user, query) - pushed)


async def drive(
    run: Run, users: int, seconds_limit: float, script: Callable[[int], Awaitable[None]]
) -> None:
    async def one(index: int) -> None:
        try:
            await script(index)
        except AssertionError as exc:
            run.failures.append(str(exc)[:300])

    started = time.perf_counter()
    try:
        async with asyncio.timeout(seconds_limit):
            await asyncio.gather(*(one(i) for i in range(users)))
    except TimeoutError:
        run.timed_out = True
    run.seconds = time.perf_counter() - started


async def bench_bot(framework: str, users: int, seconds_limit: float) -> Run:
    run = Run("bot")
    async with BotApiEmulator(TOKEN, BOT_USERNAME) as emulator:
        with tempfile.TemporaryDirectory(prefix="bench-bot-") as workdir:
            env = {
                "BOT_TOKEN": TOKEN,
                "TELEGRAM_API_BASE_URL": emulator.base_url,
                "DATABASE_URL": f"sqlite:///{Path(workdir) / 'clinic.db'}",
                "ENCRYPTION_KEYS": generate_key(),
                "DEFAULT_TIMEZONE": "Europe/Berlin",
                "LOG_LEVEL": "INFO",  # the `ready` line; the core logs nothing per update
                **UNLIMITED_RATES,
            }
            bot = BotProcess(env, Path(workdir), args=["--framework", framework])
            await bot.start()
            cipher = Cipher([env["ENCRYPTION_KEYS"]])
            engine = create_engine(env["DATABASE_URL"], cipher)
            sessions = session_factory(engine)
            # The start notice's "Open" button, signed for the doctor as the bot signs it.
            signer = CallbackSigner(cipher.subkeys(b"clinic-callback-signature"))
            doctor_id = await seed_doctor(
                sessions,
                DOCTOR_ID,
                BENCH_DOCTOR_NAME,
                "Cardiology",
                "Europe/Berlin",
                hours=ALL_DAY,
                slot_minutes=15,
                min_notice_minutes=0,
            )
            doctor = emulator.user("Doc", user_id=DOCTOR_ID)
            await doctor.send_command("help")  # the doctor's chat exists, as after onboarding
            await doctor.expect("/start")
            people = [emulator.user(f"Patient{i}") for i in range(users)]
            for person in people:
                person.phone = f"+49151{person.id % 10**8:08d}"
            base = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=1)

            async def script(index: int) -> None:
                person = people[index]
                for step in PATIENT_MIX:
                    await timed_step(emulator, person, step, run)
                # The visit: the doctor opens it, then the patient writes (relayed copies).
                appointment_id = await visit_now(sessions, doctor_id, person.id, base, index)
                open_data = signer.sign(DOCTOR_ID, f"cs:-:open:{appointment_id}")
                await (await doctor.tap_data(open_data, 1)).answer(timeout=STEP_TIMEOUT)
                await person.expect("has joined your consultation", timeout=STEP_TIMEOUT)
                for step in RELAY_MIX:
                    await timed_relay(emulator, person, doctor, step, run)

            try:
                await drive(run, users, seconds_limit, script)
                run.peak_rss_mb = bot.peak_rss_mb()
            finally:
                await bot.stop()
                await engine.dispose()
    return run


async def visit_now(
    sessions: async_sessionmaker[AsyncSession],
    doctor_id: int,
    telegram_id: int,
    base: datetime,
    index: int,
) -> int:
    """An appointment due now for this patient (seconds apart: one doctor, one start each)."""
    start = base + timedelta(seconds=index)
    async with UnitOfWork(sessions) as uow:
        patient = await uow.users.by_telegram_id(telegram_id)
        assert patient is not None
        appointment = Appointment(
            doctor_id=doctor_id,
            patient_id=patient.id,
            starts_at=start,
            ends_at=start + timedelta(minutes=15),
            status="booked",
            created_at=start,
            updated_at=start,
            late_cancellation=False,
        )
        uow.appointments.add(appointment)
        await uow.commit()
        return appointment.id


async def timed_relay(
    emulator: BotApiEmulator, user: SimulatedUser, doctor: SimulatedUser, step: Step, run: Run
) -> None:
    """A relayed message ends when its copy reaches the doctor; latency is push -> copyMessage."""
    since, pushed = len(emulator.calls), time.time()
    await perform(user, step)
    await doctor.wait_for_text(f"{step.arg} (from {user.id})", timeout=STEP_TIMEOUT)
    copied = next(
        c.time
        for c in emulator.calls[since:]
        if c.method == "copyMessage" and str(c.params.get("from_chat_id")) == str(user.id)
    )
    run.latencies.append(copied - pushed)


async def bench_echo(framework: str, users: int, per_user: int, seconds_limit: float) -> Run:
    run = Run("echo")
    async with BotApiEmulator(TOKEN, BOT_USERNAME) as emulator:
        echo = BotProcess(
            {}, ROOT, command=["-m", "bench.echo_bots", framework, TOKEN, emulator.base_url]
        )
        await echo.start()
        people = [emulator.user(f"Echo{i}") for i in range(users)]

        async def script(index: int) -> None:
            for n in range(per_user):
                text = f"echo {index}-{n}"
                await timed_step(emulator, people[index], Step("text", text, text), run)

        try:
            await drive(run, users, seconds_limit, script)
            run.peak_rss_mb = echo.peak_rss_mb()
        finally:
            await echo.stop()
    return run


async def main_async(frameworks: list[str], users: int, seconds_limit: float) -> None:
    per_user = len(PATIENT_MIX) + len(RELAY_MIX)
    print(
        f"{users} simulated users at once, {per_user} updates each: registration with an "
        "invalid name and date, /help, /settings browse and edit, /book through the calendar "
        "to a confirmed booking (the same doctor for everyone), then, once the doctor has "
        f"opened each visit, {len(RELAY_MIX)} messages relayed to the doctor; latency = update "
        "pushed -> the bot's first API call for it (copyMessage for relayed messages)."
    )
    print(
        "Send limits raised to "
        f"{UNLIMITED_RATES['SEND_RATE_GLOBAL']}/s so the limiter is not what is measured "
        "(production keeps 30/s overall, 1/s per chat)."
    )
    print("Bot: `python bot.py` on a fresh SQLite file; echo: bench/echo_bots.py, concurrent.")
    for framework in frameworks:
        bot = await bench_bot(framework, users, seconds_limit)
        echo = await bench_echo(framework, users, per_user, seconds_limit)
        print(f"\n{framework}\n{HEADER}\n{bot.row()}\n{echo.row()}")
        ratio = bot.rate / echo.rate if echo.rate else float("nan")
        print(f"bot/echo throughput: {ratio:.2f}")
        for failure in (bot.failures + echo.failures)[:3]:
            print(f"  failure: {failure}")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.throughput", description=__doc__)
    parser.add_argument("--frameworks", default="ptb,aiogram", help="comma-separated: ptb,aiogram")
    parser.add_argument("--users", type=int, default=50, help="simulated users at once")
    parser.add_argument(
        "--seconds-limit", type=float, default=120.0, help="upper bound on each run, in seconds"
    )
    args = parser.parse_args()
    frameworks = [f.strip() for f in args.frameworks.split(",") if f.strip()]
    unknown = set(frameworks) - {"ptb", "aiogram"}
    if unknown:
        parser.error(f"unknown framework(s): {', '.join(sorted(unknown))}")
    asyncio.run(main_async(frameworks, args.users, args.seconds_limit))


if __name__ == "__main__":
    main()
