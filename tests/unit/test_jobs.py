"""Scheduled jobs on a clock the test controls: planning against a real (paused) scheduler with
the SQLAlchemy job store on the test database, and the job functions called directly."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import select, text

from handlers.port import InlineKeyboard, RecipientUnavailable
from handlers.sending import Limits, RateLimiter, SendingPath
from jobs import runtime as job_runtime
from jobs import tasks
from jobs.planner import CalendarTrigger, SchedulerPlanner, agenda_trigger
from jobs.runtime import JobSettings, Runtime
from jobs.scheduler import ClinicScheduler, build_scheduler, sync_url
from storage.models import Appointment, Conversation, Feedback, JobRun, User
from storage.seeding import seed_doctor, seed_patient
from storage.unit_of_work import UnitOfWork
from tests.conftest import Storage
from tests.support.harness import Clock, Harness, make_harness
from tests.unit.test_booking_flow import appointments, book_first, pick

NOW = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)  # a Thursday; 11:00 in Berlin
ANNA, BEN, DOC = 501, 502, 801
SETTINGS = JobSettings()
BERLIN = ZoneInfo("Europe/Berlin")


@pytest.fixture
async def scheduler(storage: Storage) -> AsyncIterator[ClinicScheduler]:
    scheduler = build_scheduler(storage.url)
    scheduler.start(paused=True)  # jobs are written to the store; nothing runs by itself
    yield scheduler
    await scheduler.close()


@pytest.fixture
async def h(storage: Storage, scheduler: ClinicScheduler) -> AsyncIterator[Harness]:
    await seed_doctor(storage.sessions, DOC, "Dr Mira Kaur", "Cardiology", "Europe/Berlin")
    await seed_patient(storage.sessions, ANNA, "Anna Schmidt", "Europe/Berlin")
    await seed_patient(storage.sessions, BEN, "Ben Okafor", "America/New_York")
    clock = Clock(NOW)
    planner = SchedulerPlanner(scheduler, storage.sessions, SETTINGS, clock)
    harness = make_harness(storage, clock=clock, planner=planner)

    async def mark_unreachable(chat_id: int) -> None:
        async with UnitOfWork(storage.sessions) as uow:
            await uow.users.set_unreachable(chat_id, clock())
            await uow.commit()

    async def no_sleep(_seconds: float) -> None:
        return None

    # The jobs' own sending path over the same recording messenger, with the real limiter
    # (it never sleeps here) and the real "mark unreachable".
    sending = SendingPath(
        harness.messenger,
        RateLimiter(Limits(1000, 1000, 1000), sleep=no_sleep),
        mark_unreachable,
        sleep=no_sleep,
    )
    job_runtime.install(Runtime(storage.sessions, sending, SETTINGS, clock))
    harness.planner = planner  # type: ignore[attr-defined]
    yield harness
    job_runtime.install(None)


def job_times(scheduler: ClinicScheduler) -> dict[str, datetime]:
    return {job.id: job.next_run_time.astimezone(UTC) for job in scheduler.get_jobs()}


async def book_at(
    storage: Storage,
    patient_tg: int,
    start: datetime,
    status: str = "booked",
    created_at: datetime = NOW - timedelta(days=7),  # booked well before its reminders
) -> int:
    async with UnitOfWork(storage.sessions) as uow:
        patient = await uow.users.by_telegram_id(patient_tg)
        doctor_user = await uow.users.by_telegram_id(DOC)
        assert patient is not None and doctor_user is not None
        doctor = await uow.doctors.by_user(doctor_user.id)
        assert doctor is not None
        appointment = Appointment(
            doctor_id=doctor.id,
            patient_id=patient.id,
            starts_at=start,
            ends_at=start + timedelta(minutes=30),
            status=status,
            reason="Chest pain",
            created_at=created_at,
            updated_at=NOW,
            late_cancellation=False,
        )
        uow.appointments.add(appointment)
        await uow.commit()
        return appointment.id


async def runs(storage: Storage) -> dict[str, str]:
    async with UnitOfWork(storage.sessions) as uow:
        return {run.key: run.outcome for run in await uow.job_runs.with_prefix("")}


def button_data(h: Harness, chat_id: int) -> list[str]:
    markup = h.messenger.last_to(chat_id).markup
    assert isinstance(markup, InlineKeyboard)
    return [b.callback_data or "" for row in markup.rows for b in row]


# Planning --------------------------------------------------------------------------------------


async def test_booking_schedules_rescheduling_moves_cancelling_removes(
    h: Harness, scheduler: ClinicScheduler
) -> None:
    await book_first(h, ANNA)  # 13:00 Berlin today = 12:00 UTC
    (booked,) = await appointments(h)
    start = booked.starts_at
    assert job_times(scheduler) == {
        f"reminder:{booked.id}:1440": start - timedelta(hours=24),
        f"reminder:{booked.id}:60": start - timedelta(hours=1),
        f"start:{booked.id}": start,
        f"noshow:{booked.id}": start + timedelta(minutes=15),
    }
    for job in scheduler.get_jobs():
        assert job.trigger.run_date.tzinfo == UTC and job.args[0] == booked.id
        assert job.coalesce and job.misfire_grace_time > 1

    await h.send(ANNA, "/appointments")
    await h.tap(ANNA, "Reschedule")
    await pick(h, ANNA, r"^d\d{8}$", index=1)  # another day
    await pick(h, ANNA, r"^t\d+$")
    await h.tap(ANNA, "✅ Move it")
    old, new = await appointments(h)
    assert (old.status, new.status) == ("rescheduled", "booked")
    times = job_times(scheduler)
    assert not [j for j in times if j.endswith(f":{old.id}") or f":{old.id}:" in j]
    assert times[f"reminder:{new.id}:60"] == new.starts_at - timedelta(hours=1)
    assert times[f"noshow:{new.id}"] == new.starts_at + timedelta(minutes=15)

    await h.send(ANNA, "/appointments")
    await h.tap(ANNA, "Cancel")
    await h.tap(ANNA, "Yes, cancel it")
    assert job_times(scheduler) == {}


async def test_start_up_replans_everything_once_and_skips_work_already_done(
    h: Harness, storage: Storage, scheduler: ClinicScheduler
) -> None:
    upcoming = await book_at(storage, ANNA, NOW + timedelta(hours=30))
    await book_at(storage, BEN, NOW - timedelta(days=3))  # long past: nothing to plan
    async with UnitOfWork(storage.sessions) as uow:
        await uow.job_runs.claim(f"reminder:{upcoming}:1440", NOW, "sent")
        await uow.commit()
    planner: SchedulerPlanner = h.planner  # type: ignore[attr-defined]
    await planner.replan_all()
    await planner.replan_all()  # a second start-up: replace semantics, nothing doubles
    ids = sorted(job.id for job in scheduler.get_jobs())
    assert ids == sorted(
        [
            f"reminder:{upcoming}:60",
            f"start:{upcoming}",
            f"noshow:{upcoming}",
            "agenda:1",
            "idle-sweep",
            "chat-purge",
        ]
    )
    agenda = scheduler.get_job("agenda:1")
    assert isinstance(agenda.trigger, CronTrigger) and str(agenda.trigger.timezone) == (
        "Europe/Berlin"
    )


def test_the_daily_agenda_stays_at_eight_across_dst_and_fires_once_in_the_repeated_hour() -> None:
    trigger = agenda_trigger("Europe/Berlin")
    fire, fires = None, []
    now = datetime(2026, 10, 23, 12, 0, tzinfo=BERLIN)  # clocks go back on Sunday, Oct 25
    for _ in range(5):
        fire = trigger.get_next_fire_time(fire, now)
        assert fire is not None
        fires.append(fire)
        now = fire + timedelta(seconds=1)
    assert [f.astimezone(BERLIN).strftime("%d %H:%M") for f in fires] == [
        "24 08:00",
        "25 08:00",
        "26 08:00",
        "27 08:00",
        "28 08:00",
    ]
    assert [f.astimezone(UTC).hour for f in fires] == [6, 7, 7, 7, 7]
    # A job inside the repeated hour (02:30 happens twice on Oct 25) fires once that day.
    night = CalendarTrigger(hour=2, minute=30, timezone=BERLIN)
    fire, seen = None, []
    now = datetime(2026, 10, 24, 12, 0, tzinfo=BERLIN)
    for _ in range(5):
        fire = night.get_next_fire_time(fire, now)
        assert fire is not None
        if fire.astimezone(BERLIN).day > 26:
            break
        seen.append(fire.astimezone(BERLIN).strftime("%d %H:%M"))
        now = fire + timedelta(seconds=1)
    assert seen == ["25 02:30", "26 02:30"]
    # Spring forward (March 29): still 08:00 local on both sides.
    fire = trigger.get_next_fire_time(None, datetime(2026, 3, 28, 12, 0, tzinfo=BERLIN))
    assert fire is not None and fire.astimezone(UTC).hour == 6
    fire = trigger.get_next_fire_time(fire, fire + timedelta(seconds=1))
    assert fire is not None
    assert fire.astimezone(BERLIN).hour == 8 and fire.astimezone(UTC).hour == 6


# Reminders -------------------------------------------------------------------------------------


async def test_a_reminder_fired_twice_sends_once_in_the_patients_zone(
    h: Harness, storage: Storage
) -> None:
    appointment = await book_at(storage, BEN, NOW + timedelta(hours=24))
    h.clock.now = NOW + timedelta(minutes=1)
    await tasks.send_reminder(appointment, 1440)
    await tasks.send_reminder(appointment, 1440)
    texts = h.messenger.texts_to(BEN)
    assert len(texts) == 1
    # 10:00 UTC is 05:00 in New York; no reason, no specialty on the lock screen.
    assert "Dr Mira Kaur" in texts[0] and "05:00" in texts[0] and "America/New_York" in texts[0]
    assert "Chest pain" not in texts[0] and "Cardiology" not in texts[0]
    assert button_data(h, BEN) == [
        f"ap:-:ok:{appointment}",
        f"ap:-:re:{appointment}",
        f"ap:-:cx:{appointment}",
    ]
    assert (await runs(storage))[f"reminder:{appointment}:1440"] == "sent"
    event = await h.tap_data(BEN, h.messenger.last_to(BEN).message_id, f"ap:-:ok:{appointment}")
    assert h.answer(event) == "Thanks, see you then."


async def test_late_reminders_only_the_closer_one_and_none_after_the_start(
    h: Harness, storage: Storage
) -> None:
    appointment = await book_at(storage, ANNA, NOW + timedelta(minutes=45))
    # The bot was down: both the 24-hour and the 1-hour reminder are overdue.
    await tasks.send_reminder(appointment, 1440)
    await tasks.send_reminder(appointment, 60)
    assert len(h.messenger.texts_to(ANNA)) == 1
    assert "starts soon" in h.last(ANNA)
    started = await book_at(storage, BEN, NOW - timedelta(minutes=5))
    await tasks.send_reminder(started, 60)
    assert h.messenger.texts_to(BEN) == []
    outcomes = await runs(storage)
    assert outcomes[f"reminder:{appointment}:1440"] == "missed"
    assert outcomes[f"reminder:{appointment}:60"] == "sent"
    assert outcomes[f"reminder:{started}:60"] == "missed"


async def test_no_reminder_whose_time_came_before_the_booking(h: Harness, storage: Storage) -> None:
    # Booked 30 minutes ahead: "Booked!" said it all; the 24-hour and 1-hour reminders are not.
    appointment = await book_at(storage, ANNA, NOW + timedelta(minutes=30), created_at=NOW)
    await tasks.send_reminder(appointment, 1440)
    await tasks.send_reminder(appointment, 60)
    assert h.messenger.texts_to(ANNA) == []
    outcomes = await runs(storage)
    assert outcomes[f"reminder:{appointment}:1440"] == "skipped"
    assert outcomes[f"reminder:{appointment}:60"] == "skipped"
    # Booked 3 hours ahead: the 1-hour reminder still comes.
    later = await book_at(storage, BEN, NOW + timedelta(hours=3), created_at=NOW)
    h.clock.now = NOW + timedelta(hours=2)
    await tasks.send_reminder(later, 60)
    assert "starts soon" in h.last(BEN)


async def test_a_blocked_user_fails_once_is_marked_and_the_others_still_get_theirs(
    h: Harness, storage: Storage
) -> None:
    blocked = await book_at(storage, ANNA, NOW + timedelta(minutes=50))
    other = await book_at(storage, BEN, NOW + timedelta(minutes=20))
    h.messenger.failures.append(RecipientUnavailable("Forbidden: bot was blocked by the user"))
    await tasks.send_reminder(blocked, 60)
    await tasks.send_reminder(blocked, 60)  # fired again: no second attempt
    await tasks.send_reminder(other, 60)
    assert h.messenger.calls == 2  # one failed attempt, one delivered reminder
    assert h.messenger.texts_to(ANNA) == [] and len(h.messenger.texts_to(BEN)) == 1
    async with UnitOfWork(storage.sessions) as uow:
        anna = await uow.users.by_telegram_id(ANNA)
        assert anna is not None and anna.unreachable_since == NOW
    assert (await runs(storage))[f"reminder:{blocked}:60"] == "failed"


async def test_the_doctor_is_told_at_the_start_with_the_open_button(
    h: Harness, storage: Storage
) -> None:
    appointment = await book_at(storage, ANNA, NOW)
    await tasks.start_notice(appointment)
    await tasks.start_notice(appointment)
    assert len(h.messenger.texts_to(DOC)) == 1
    assert "Anna Schmidt" in h.last(DOC) and "Chest pain" not in h.last(DOC)
    assert button_data(h, DOC) == [f"cs:-:open:{appointment}"]


# No-shows --------------------------------------------------------------------------------------


async def test_an_unopened_consultation_becomes_a_no_show_and_both_are_told(
    h: Harness, storage: Storage
) -> None:
    appointment = await book_at(storage, ANNA, NOW - timedelta(minutes=15))
    opened = await book_at(storage, BEN, NOW - timedelta(minutes=5), status="in_consultation")
    await tasks.mark_no_show(appointment)
    await tasks.mark_no_show(appointment)
    await tasks.mark_no_show(opened)
    rows = {a.id: a.status for a in await appointments(h)}
    assert rows == {appointment: "no_show", opened: "in_consultation"}
    assert len(h.messenger.texts_to(ANNA)) == 1 and "missed" in h.last(ANNA)
    assert len(h.messenger.texts_to(DOC)) == 1 and "no-show" in h.last(DOC)
    assert h.messenger.texts_to(BEN) == []


# Feedback --------------------------------------------------------------------------------------


async def complete(storage: Storage, appointment_id: int, at: datetime) -> None:
    async with UnitOfWork(storage.sessions) as uow:
        appointment = await uow.appointments.get(appointment_id)
        assert appointment is not None
        appointment.status, appointment.updated_at = "completed", at
        await uow.commit()


async def test_feedback_prompt_rating_comment_and_a_second_answer_refused(
    h: Harness, storage: Storage, scheduler: ClinicScheduler
) -> None:
    appointment = await book_at(storage, ANNA, NOW - timedelta(hours=1))
    await complete(storage, appointment, NOW - timedelta(minutes=30))
    planner: SchedulerPlanner = h.planner  # type: ignore[attr-defined]
    await planner.changed([appointment], [])
    assert job_times(scheduler) == {f"feedback:{appointment}": NOW}
    await tasks.feedback_prompt(appointment)
    await tasks.feedback_prompt(appointment)
    assert len(h.messenger.texts_to(ANNA)) == 1 and "rate it from 1" in h.last(ANNA)
    prompt = h.messenger.last_to(ANNA).message_id
    assert button_data(h, ANNA) == [f"fb:-:r{n}:{appointment}" for n in range(1, 6)]

    forged = await h.tap_data(BEN, prompt, f"fb:-:r5:{appointment}")  # not Ben's visit
    assert h.answer(forged) == "This button is not valid."
    await h.tap_data(ANNA, prompt, f"fb:-:r4:{appointment}")
    assert "Would you like to add a comment" in h.last(ANNA)
    await h.send(ANNA, "Très bien, merci 🙏")
    assert "comment was saved" in h.last(ANNA)
    again = await h.tap_data(ANNA, prompt, f"fb:-:r1:{appointment}")
    assert h.answer(again) == "You have already rated this consultation. Thank you!"
    async with storage.sessions() as session:
        (row,) = (await session.scalars(select(Feedback))).all()
        assert (row.rating, row.comment) == (4, "Très bien, merci 🙏")
    async with storage.engine.connect() as conn:
        raw = (await conn.execute(text("SELECT comment FROM feedback"))).scalar_one()
    assert "merci" not in raw

    # Where patients choose doctors: the average and the count.
    await h.send(BEN, "/book")
    await h.tap(BEN, "Cardiology")
    markup = h.messenger.last_to(BEN).markup
    assert isinstance(markup, InlineKeyboard)
    assert "Dr Mira Kaur · Cardiology · €50.00 · ★ 4.0 (1)" in [
        b.text for row in markup.rows for b in row
    ]


async def test_a_rating_for_an_unfinished_visit_or_with_skip(h: Harness, storage: Storage) -> None:
    booked = await book_at(storage, ANNA, NOW + timedelta(hours=3))
    event = await h.tap_data(ANNA, 1, f"fb:-:r5:{booked}")
    assert h.answer(event) == "Only a completed consultation can be rated."
    done = await book_at(storage, BEN, NOW - timedelta(hours=2))
    await complete(storage, done, NOW - timedelta(hours=1))
    await tasks.feedback_prompt(done)
    await h.tap_data(BEN, h.messenger.last_to(BEN).message_id, f"fb:-:r2:{done}")
    await h.tap(BEN, "Skip")
    assert "Thank you for your feedback" in h.last(BEN)
    async with storage.sessions() as session:
        (row,) = (await session.scalars(select(Feedback))).all()
        assert (row.rating, row.comment) == (2, None)


# Idle conversations ----------------------------------------------------------------------------


def idle_warnings(h: Harness, chat_id: int) -> int:
    """Warnings sent (one tapped "Keep going" was edited to "Carry on")."""
    return sum(
        "Are you still there" in m.text or any("Carry on" in e for e in m.edits)
        for m in h.messenger.sent
        if m.chat_id == chat_id
    )


async def test_an_idle_flow_is_warned_once_kept_going_then_discarded(
    h: Harness, storage: Storage
) -> None:
    await h.send(BEN, "/book")
    h.clock.now = NOW + timedelta(minutes=9)
    await tasks.idle_sweep()
    await tasks.idle_sweep()  # swept again: still one warning
    assert idle_warnings(h, BEN) == 1
    await h.tap(BEN, "Keep going")
    h.clock.now = NOW + timedelta(minutes=17)  # 8 minutes after "Keep going"
    await tasks.idle_sweep()
    assert idle_warnings(h, BEN) == 1
    h.clock.now = NOW + timedelta(minutes=18)
    await tasks.idle_sweep()
    assert idle_warnings(h, BEN) == 2
    h.clock.now = NOW + timedelta(minutes=19)
    await tasks.idle_sweep()
    await tasks.idle_sweep()
    ended = [t for t in h.messenger.texts_to(BEN) if "Nothing was booked" in t]
    assert len(ended) == 1
    async with UnitOfWork(storage.sessions) as uow:
        assert await uow.conversations.get(BEN) is None
    # The old warning's button now changes nothing.
    event = await h.tap(BEN, "Keep going")
    assert "already ended" in (h.answer(event) or "")
    async with storage.sessions() as session:
        assert (await session.scalars(select(Conversation))).all() == []


async def test_a_doctors_wrap_up_draft_is_never_expired(h: Harness, storage: Storage) -> None:
    async with UnitOfWork(storage.sessions) as uow:
        await uow.conversations.save(
            Conversation(
                telegram_id=DOC,
                flow="wu",
                step="summary",
                token="draft1",
                data={"summary": "Viral infection; rest and fluids."},
                updated_at=NOW,
            )
        )
        await uow.commit()
    h.clock.now = NOW + timedelta(minutes=45)
    await tasks.idle_sweep()
    assert h.messenger.texts_to(DOC) == []
    async with UnitOfWork(storage.sessions) as uow:
        assert await uow.conversations.get(DOC) is not None


async def test_an_idle_feedback_comment_closes_saying_the_rating_is_kept(
    h: Harness, storage: Storage
) -> None:
    async with UnitOfWork(storage.sessions) as uow:
        await uow.conversations.save(
            Conversation(
                telegram_id=ANNA,
                flow="fc",
                step="comment",
                token="fb1",
                data={},
                updated_at=NOW,
            )
        )
        await uow.commit()
    h.clock.now = NOW + timedelta(minutes=11)
    await tasks.idle_sweep()
    (closing,) = h.messenger.texts_to(ANNA)
    assert "your rating is kept" in closing and "Nothing was booked" not in closing


# The doctor's day ------------------------------------------------------------------------------


async def test_the_daily_agenda_lists_today_once_without_reasons(
    h: Harness, storage: Storage
) -> None:
    await book_at(storage, ANNA, datetime(2026, 12, 3, 13, 0, tzinfo=UTC))  # 14:00 Berlin
    await book_at(storage, BEN, datetime(2026, 12, 4, 13, 0, tzinfo=UTC))  # tomorrow
    h.clock.now = datetime(2026, 12, 3, 7, 0, tzinfo=UTC)  # 08:00 Berlin
    await tasks.doctor_agenda(1)
    await tasks.doctor_agenda(1)
    assert len(h.messenger.texts_to(DOC)) == 1
    agenda = h.last(DOC)
    assert "14:00 — Anna Schmidt" in agenda and "Ben" not in agenda
    assert "Chest pain" not in agenda


# The real scheduler ----------------------------------------------------------------------------


async def test_a_resumed_scheduler_runs_due_jobs_and_records_misses(
    h: Harness, storage: Storage, scheduler: ClinicScheduler
) -> None:
    """Wall-clock check of the wiring (thread hand-off, missed listener): polls briefly."""
    missed: list[str] = []
    closer = build_scheduler(storage.url, lambda job_id, _at: missed.append(job_id))
    await scheduler.close()  # one scheduler per job store
    closer.start(paused=True)
    try:
        appointment = await book_at(storage, ANNA, NOW + timedelta(minutes=30))
        wall = datetime.now(UTC)
        planner = SchedulerPlanner(closer, storage.sessions, SETTINGS, h.clock)
        await planner.changed([appointment], [])
        closer.add_job(
            tasks.send_reminder,
            "date",
            run_date=wall - timedelta(days=3),
            args=[appointment, 1440],
            id="reminder:too-late",
            misfire_grace_time=60,
        )
        # The planned 24-hour and 1-hour reminders are due (the test clock says so); wall-clock
        # run dates are in the past for APScheduler too. The appointment's other jobs were
        # planned on the test clock, which may be days behind the wall clock: pushed out of
        # this test's way, so only the job meant to be too late is missed.
        reminders = {f"reminder:{appointment}:60", f"reminder:{appointment}:1440"}
        for job in closer.get_jobs():
            if job.id in reminders:
                closer.modify_job(job.id, next_run_time=wall)
            elif job.id != "reminder:too-late":
                closer.modify_job(job.id, next_run_time=wall + timedelta(days=1))
        closer.resume()
        for _ in range(100):
            if h.messenger.texts_to(ANNA) and missed:
                break
            await asyncio.sleep(0.05)
        assert len(h.messenger.texts_to(ANNA)) == 1
        assert missed == ["reminder:too-late"]
    finally:
        await closer.close()


async def test_apschedulers_table_is_left_out_of_the_migrations(
    storage: Storage, scheduler: ClinicScheduler
) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from storage.migrate import include_object
    from storage.models import Base

    def differences(connection: object) -> list[object]:
        context = MigrationContext.configure(
            connection,  # type: ignore[arg-type]
            opts={"compare_type": False, "include_object": include_object},
        )
        return list(compare_metadata(context, Base.metadata))

    async with storage.engine.connect() as conn:
        tables = await conn.run_sync(lambda c: c.dialect.get_table_names(c))
        diff = await conn.run_sync(differences)
    assert "apscheduler_jobs" in tables and diff == []


def test_the_job_store_uses_a_synchronous_driver() -> None:
    assert sync_url("sqlite:///clinic.db") == "sqlite:///clinic.db"
    assert sync_url("sqlite+aiosqlite:////tmp/x.db") == "sqlite:////tmp/x.db"
    assert sync_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert sync_url("postgresql+asyncpg://u@h/db") == "postgresql+psycopg://u@h/db"


async def test_job_run_outcomes_are_one_row_per_key(storage: Storage) -> None:
    async with UnitOfWork(storage.sessions) as uow:
        assert await uow.job_runs.claim("reminder:1:60", NOW, "sent")
        assert not await uow.job_runs.claim("reminder:1:60", NOW, "missed")
        await uow.commit()
    async with storage.sessions() as session:
        rows = (await session.scalars(select(JobRun))).all()
        assert [(r.key, r.outcome) for r in rows] == [("reminder:1:60", "sent")]
        assert (await session.scalars(select(User))).all() == []
