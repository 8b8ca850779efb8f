"""The job functions the scheduler runs. Arguments are plain ids; everything is reloaded.

Each job claims its work in `job_runs` before it sends (a job fired twice, or by a second
scheduler started by mistake, finds the key taken and sends nothing), decides whether late
work still helps (a reminder for an appointment that has started is recorded "missed", never
sent), and sends through the one rate-limited `SendingPath`, so a user who blocked the bot is
marked unreachable and the job ends quietly.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from clinic.appointments import InvalidTransition, Status, transition
from clinic.timezones import zone
from handlers import callbacks, feedback, pin, recipient_choice, wrap_up
from handlers.agenda import day_window
from handlers.formatting import clock, day, when
from handlers.i18n import Html, translator
from handlers.port import InlineButton, InlineKeyboard, Markup, TransportError
from handlers.sending import Undeliverable
from jobs.runtime import current
from storage.models import Appointment
from storage.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)

FEEDBACK_BUTTONS = "fb"
KEEP_GOING_BUTTONS = "kg"


# Keys ---------------------------------------------------------------------------------------


def reminder_id(appointment_id: int, minutes: int) -> str:
    return f"reminder:{appointment_id}:{minutes}"


def start_id(appointment_id: int) -> str:
    return f"start:{appointment_id}"


def no_show_id(appointment_id: int) -> str:
    return f"noshow:{appointment_id}"


def feedback_id(appointment_id: int) -> str:
    return f"feedback:{appointment_id}"


def agenda_id(doctor_id: int) -> str:
    return f"agenda:{doctor_id}"


IDLE_SWEEP_ID = "idle-sweep"
# A doctor's wrap-up draft (summary, notes, prescriptions) may take longer than the idle limit
# between two answers, and throwing it away would lose clinical work: it is kept until /cancel.
# Messages waiting for their recipient are the user's words: kept until sent or /cancel.
NEVER_EXPIRE = frozenset({wrap_up.FLOW, recipient_choice.FLOW})


def claim_key(job_id: str, run_time: datetime) -> str:
    """The job_runs key for one run: one-off jobs are their id, recurring ones add the time."""
    if job_id.startswith(("agenda:", IDLE_SWEEP_ID, "chat-purge")):  # recurring ones
        return f"{job_id}@{run_time.astimezone(UTC):%Y-%m-%dT%H:%M}"
    return job_id


async def record_missed(job_id: str, run_time: datetime) -> None:
    """What APScheduler found too late to run: written down, never dropped in silence."""
    runtime = current()
    async with UnitOfWork(runtime.sessions) as uow:
        await uow.job_runs.claim(claim_key(job_id, run_time), runtime.clock(), "missed")
        await uow.commit()


async def _record(key: str, outcome: str) -> None:
    runtime = current()
    async with UnitOfWork(runtime.sessions) as uow:
        await uow.job_runs.claim(key, runtime.clock(), outcome)
        await uow.commit()


async def send_claimed(key: str, chat_id: int, text: str, markup: Markup | None = None) -> bool:
    """Send one claimed message; a failure is recorded on the claim, never raised."""
    runtime = current()
    try:
        await runtime.sending.send_text(chat_id, text, markup)
    except (Undeliverable, TransportError) as exc:
        log.info("job message not delivered", extra={"job": key, "reason": type(exc).__name__})
        async with UnitOfWork(runtime.sessions) as uow:
            await uow.job_runs.set_outcome(key, "failed")
            await uow.commit()
        return False
    return True


# Reminders ----------------------------------------------------------------------------------


def reminder_keyboard(language: str, appointment_id: int) -> InlineKeyboard:
    t = translator(language)
    ident = str(appointment_id)
    return InlineKeyboard(
        (
            (
                InlineButton(t("✅ Confirm"), callbacks.pack("ap", "", "ok", ident)),
                InlineButton(t("Reschedule"), callbacks.pack("ap", "", "re", ident)),
                InlineButton(t("Cancel"), callbacks.pack("ap", "", "cx", ident)),
            ),
        )
    )


def _reminder_text(appointment: Appointment, minutes: int) -> str:
    """Lock-screen safe: the doctor's name and the time, no reason, no specialty."""
    patient = appointment.patient
    t = translator(patient.language)
    shown = when(appointment.starts_at, patient.timezone, patient.language)
    doctor = appointment.doctor.user.full_name or "?"
    if minutes >= 120:
        return t(
            "Reminder: your consultation with {doctor} is on {when} ({zone}).",
            doctor=doctor,
            when=shown,
            zone=patient.timezone,
        )
    return t(
        "Reminder: your consultation with {doctor} starts soon, at {when} ({zone}). The doctor "
        "opens it here in this chat.",
        doctor=doctor,
        when=shown,
        zone=patient.timezone,
    )


async def send_reminder(appointment_id: int, minutes: int) -> None:
    runtime = current()
    now, key = runtime.clock(), reminder_id(appointment_id, minutes)
    offsets = runtime.settings.reminder_offsets
    async with UnitOfWork(runtime.sessions) as uow:
        appointment = await uow.appointments.get(appointment_id)
        if appointment is None or appointment.status != Status.BOOKED or minutes not in offsets:
            outcome = "skipped"
        elif now >= appointment.starts_at:
            outcome = "missed"  # it has started: a reminder can no longer help
        elif appointment.starts_at - timedelta(minutes=minutes) < appointment.created_at:
            # Booked after this reminder's time: "Booked!" has just said it all.
            outcome = "skipped"
        elif any(
            m < minutes and appointment.starts_at - timedelta(minutes=m) <= now for m in offsets
        ):
            outcome = "missed"  # a closer reminder is due too: only that one is sent
        else:
            outcome = "sent"
        if not await uow.job_runs.claim(key, now, outcome):
            return  # done before (fired twice, or by another scheduler)
        await uow.commit()
        if outcome != "sent":
            return
        assert appointment is not None
        chat_id = appointment.patient.telegram_id
        text = _reminder_text(appointment, minutes)
        markup = reminder_keyboard(appointment.patient.language, appointment.id)
    await send_claimed(key, chat_id, text, markup)


# Start notice, no-show ----------------------------------------------------------------------


async def start_notice(appointment_id: int) -> None:
    """At the start time the doctor gets a button to open the consultation."""
    runtime = current()
    now, key = runtime.clock(), start_id(appointment_id)
    async with UnitOfWork(runtime.sessions) as uow:
        appointment = await uow.appointments.get(appointment_id)
        if appointment is None or appointment.status != Status.BOOKED:
            outcome = "skipped"
        elif now >= appointment.ends_at:
            outcome = "missed"
        else:
            outcome = "sent"
        if not await uow.job_runs.claim(key, now, outcome):
            return
        await uow.commit()
        if outcome != "sent":
            return
        assert appointment is not None
        doctor = appointment.doctor.user
        t = translator(doctor.language)
        text = t(
            "Your consultation with {patient} starts now ({time}, {zone}).",
            patient=appointment.patient.full_name or "?",
            time=clock(appointment.starts_at, doctor.timezone, doctor.language),
            zone=doctor.timezone,
        )
        markup = InlineKeyboard(
            (
                (
                    InlineButton(
                        t("▶ Open the consultation"),
                        callbacks.pack("cs", "", "open", str(appointment.id)),
                    ),
                ),
            )
        )
        chat_id = doctor.telegram_id
    await send_claimed(key, chat_id, text, markup)


async def mark_no_show(appointment_id: int) -> None:
    """Still booked (never opened) some minutes after the start: a no-show; both are told."""
    runtime = current()
    now, key = runtime.clock(), no_show_id(appointment_id)
    async with UnitOfWork(runtime.sessions) as uow:
        appointment = await uow.appointments.get(appointment_id)
        if appointment is None or appointment.status != Status.BOOKED:
            await uow.job_runs.claim(key, now, "skipped")
            await uow.commit()
            return
        if now < appointment.starts_at + runtime.settings.no_show_after:
            return  # fired early (a clock moved back): the job is still in the store
        if not await uow.job_runs.claim(key, now, "sent"):
            return
        try:
            appointment.status = transition(appointment.status, Status.NO_SHOW).value
        except InvalidTransition:
            return
        appointment.updated_at = now
        await uow.commit()
        patient, doctor = appointment.patient, appointment.doctor.user
        t = translator(patient.language)
        to_patient = t(
            "Your consultation with {doctor} on {when} ({zone}) was not started and is now "
            "marked as missed. Send /book to book another time.",
            doctor=doctor.full_name or "?",
            when=when(appointment.starts_at, patient.timezone, patient.language),
            zone=patient.timezone,
        )
        t = translator(doctor.language)
        to_doctor = t(
            "The consultation with {patient} on {when} ({zone}) was not opened and is now "
            "marked as a no-show.",
            patient=patient.full_name or "?",
            when=when(appointment.starts_at, doctor.timezone, doctor.language),
            zone=doctor.timezone,
        )
        chats = (patient.telegram_id, doctor.telegram_id)
    # One side unreachable must not keep the other from hearing it.
    await send_claimed(key, chats[0], to_patient)
    await send_claimed(key, chats[1], to_doctor)


# Feedback -----------------------------------------------------------------------------------


def feedback_keyboard(appointment_id: int) -> InlineKeyboard:
    return InlineKeyboard(
        (
            tuple(
                InlineButton(
                    f"{n} ★",
                    callbacks.pack(FEEDBACK_BUTTONS, "", f"r{n}", str(appointment_id)),
                )
                for n in range(1, 6)
            ),
        )
    )


async def feedback_prompt(appointment_id: int) -> None:
    runtime = current()
    now, key = runtime.clock(), feedback_id(appointment_id)
    async with UnitOfWork(runtime.sessions) as uow:
        appointment = await uow.appointments.get(appointment_id)
        answered = await uow.feedback.for_appointment(appointment_id) is not None
        if appointment is None or appointment.status != Status.COMPLETED or answered:
            outcome = "skipped"
        else:
            outcome = "sent"
        if not await uow.job_runs.claim(key, now, outcome):
            return
        await uow.commit()
        if outcome != "sent":
            return
        assert appointment is not None
        patient = appointment.patient
        t = translator(patient.language)
        text = t(
            "How was your consultation with {doctor} on {day}? Please rate it from 1 (poor) to "
            "5 (excellent).",
            doctor=appointment.doctor.user.full_name or "?",
            day=day(appointment.starts_at, patient.timezone, patient.language),
        )
        chat_id = patient.telegram_id
    await send_claimed(key, chat_id, text, feedback_keyboard(appointment_id))


# The doctor's day ---------------------------------------------------------------------------


async def doctor_agenda(doctor_id: int) -> None:
    """At 08:00 the doctor's time: today's appointments (times and names, no reasons)."""
    runtime = current()
    now = runtime.clock()
    async with UnitOfWork(runtime.sessions) as uow:
        doctor = await uow.doctors.get(doctor_id)
        if doctor is None or doctor.status != "approved":
            return
        zone_name, language = doctor.user.timezone, doctor.user.language
        local_day = now.astimezone(zone(zone_name)).date()
        key = f"agenda:{doctor_id}:{local_day.isoformat()}"
        start, end = day_window(now, zone_name, 1)
        booked = [
            a
            for a in await uow.appointments.for_doctor_between(doctor.id, start, end)
            if a.status in (Status.BOOKED, Status.IN_CONSULTATION)
        ]
        outcome = "sent" if booked else "skipped"
        if not await uow.job_runs.claim(key, now, outcome):
            return
        await uow.commit()
        if not booked:
            return
        t = translator(language)
        lines = "\n".join(
            t(
                "{time} — {name}",
                time=clock(a.starts_at, zone_name, language),
                name=a.patient.full_name or "—",
            )
            for a in booked
        )
        text = t(
            "Good morning. Your consultations today, {day} (times in {zone}):\n{lines}\n\n"
            "/agenda shows the week.",
            day=day(start + timedelta(hours=12), zone_name, language),
            zone=zone_name,
            lines=Html(lines),  # each line was escaped by the translator already
        )
        chat_id = doctor.user.telegram_id
    await send_claimed(key, chat_id, text)


# Idle conversations -------------------------------------------------------------------------


def _stamp(moment: datetime) -> str:
    return f"{moment.timestamp():.0f}"


async def idle_sweep() -> None:
    """Warn flows idle for (limit - 1 minute) once; discard those idle for the limit."""
    runtime = current()
    now, settings = runtime.clock(), runtime.settings
    warn_after = settings.idle_after - settings.idle_warning
    outgoing: list[tuple[str, int, str, Markup | None]] = []
    async with UnitOfWork(runtime.sessions) as uow:
        for conv in await uow.planning.idle_conversations(now - warn_after):
            if conv.flow in NEVER_EXPIRE:
                continue
            user = await uow.users.by_telegram_id(conv.telegram_id)
            t = translator(user.language if user else "en")
            stamp = f"{conv.telegram_id}:{conv.token}:{_stamp(conv.updated_at)}"
            if conv.updated_at <= now - settings.idle_after:
                key = f"idle-end:{stamp}"
                if not await uow.planning.discard_conversation(conv.telegram_id, conv.updated_at):
                    continue
                if not await uow.job_runs.claim(key, now, "sent"):
                    continue
                minutes = int(settings.idle_after.total_seconds() // 60)
                if conv.flow == feedback.FLOW:
                    # The rating was saved when it was tapped; only the comment is dropped.
                    text = t(
                        "Thank you for your rating. The comment box closed after {minutes} "
                        "minutes without an answer; your rating is kept.",
                        minutes=minutes,
                    )
                else:
                    text = t(
                        "This conversation was closed after {minutes} minutes without an "
                        "answer. Nothing was booked or saved. Send /start to begin again.",
                        minutes=minutes,
                    )
                outgoing.append((key, conv.telegram_id, text, None))
            else:
                key = f"idle-warn:{stamp}"
                if not await uow.job_runs.claim(key, now, "sent"):
                    continue
                text = t(
                    "Are you still there? This conversation closes in a minute, and nothing "
                    "is saved until you finish it."
                )
                keyboard = InlineKeyboard(
                    (
                        (
                            InlineButton(
                                t("Keep going"),
                                callbacks.pack(KEEP_GOING_BUTTONS, "", "go", conv.token),
                            ),
                        ),
                    )
                )
                outgoing.append((key, conv.telegram_id, text, keyboard))
        outgoing += await _session_sweep(
            uow, now, settings.core.session_idle, settings.idle_warning
        )
        await uow.commit()
    for key, chat_id, text, markup in outgoing:
        await send_claimed(key, chat_id, text, markup)


async def _session_sweep(
    uow: UnitOfWork, now: datetime, idle: timedelta, warning: timedelta
) -> list[tuple[str, int, str, Markup | None]]:
    """Unlocked PIN sessions: warn a minute before the idle limit, lock at the limit."""
    outgoing: list[tuple[str, int, str, Markup | None]] = []
    minutes = int(idle.total_seconds() // 60)
    for user_id, chat_id, language, active_at in await uow.planning.idle_sessions(
        now - (idle - warning)
    ):
        t = translator(language)
        stamp = f"{chat_id}:{_stamp(active_at)}"
        if active_at <= now - idle:
            if not await uow.planning.lock_session(user_id, active_at):
                continue
            key = f"pin-lock:{stamp}"
            if not await uow.job_runs.claim(key, now, "sent"):
                continue
            text = t(
                "Your records locked after {minutes} minutes without activity. You will be "
                "asked for your PIN next time.",
                minutes=minutes,
            )
            outgoing.append((key, chat_id, text, None))
            continue
        key = f"pin-warn:{stamp}"
        if not await uow.job_runs.claim(key, now, "sent"):
            continue
        text = t("Your records lock in a minute unless you keep using the bot.")
        keyboard = InlineKeyboard(
            ((InlineButton(t("Keep unlocked"), pin.keep_data(_stamp(active_at))),),)
        )
        outgoing.append((key, chat_id, text, keyboard))
    return outgoing
