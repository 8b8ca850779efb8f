"""Turns committed changes into jobs: the `JobPlanner` the dispatcher calls after each commit.

Per appointment (reloaded in a fresh unit of work, so the plan follows what was saved):
- booked: a reminder at each offset before the start, a start notice for the doctor, and a
  no-show check some minutes after the start;
- held for payment (or a hold expired by a booking that took its place): the hold-expiry job
  at the hold's end (no reminders until it is paid);
- in consultation: nothing pending (the no-show check and reminders go);
- completed: a feedback prompt some minutes after it ended;
- cancelled, moved (a reschedule books a new appointment) or missed: every job goes.
Per approved doctor: the daily agenda at 08:00 in the doctor's own zone (a calendar trigger,
so it stays at 08:00 across daylight-saving changes); other doctors have none.

Jobs have stable ids and are added with replace semantics, so re-planning (after every
change, and of everything at start-up) never multiplies them. One-off jobs already recorded
in `job_runs` are not added again; those that came due while the bot was down are added with
their past time and run at once (each decides whether it still helps).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from clinic.appointments import Status
from jobs import chat_purge, holds, tasks
from jobs.runtime import JobSettings, utc_now
from storage.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)

AGENDA_HOUR = 8
AGENDA_GRACE = 4 * 3600  # an 08:00 agenda still helps until about noon
ONE_OFF_GRACE = 24 * 3600  # the job itself decides whether late work still helps
IDLE_SWEEP_SECONDS = 20
IDLE_SWEEP_GRACE = 60
RECENTLY_COMPLETED = timedelta(days=2)  # start-up re-plans feedback prompts this far back


@dataclass(frozen=True)
class Add:
    job_id: str
    func: Callable[..., Any]
    trigger: BaseTrigger
    args: tuple[int, ...]
    grace: int


@dataclass(frozen=True)
class Remove:
    job_id: str


Change = Add | Remove


def at(moment: datetime) -> DateTrigger:
    return DateTrigger(run_date=moment.astimezone(UTC), timezone=UTC)


class CalendarTrigger(CronTrigger):
    """A cron trigger that fires once per wall-clock time, also in the repeated hour.

    APScheduler 3.11.3 (the newest 3.x) fires a cron job inside the hour repeated when
    daylight saving ends twice (02:30 CEST, then 02:30 CET), and after that keeps returning the
    same past time, which would spin the scheduler's catch-up loop. Here a fire time that is not
    after the previous one, or repeats its local wall-clock time, is skipped. (08:00 never
    falls in a repeated hour, but the rule holds for any time a digest may move to.)
    """

    def get_next_fire_time(
        self, previous_fire_time: datetime | None, now: datetime
    ) -> datetime | None:
        fire = super().get_next_fire_time(previous_fire_time, now)
        for _ in range(3):
            if fire is None or previous_fire_time is None:
                return fire
            # Compared in UTC: aware times sharing a zone compare by wall clock, ignoring fold.
            later = fire.astimezone(UTC) > previous_fire_time.astimezone(UTC)
            local_previous = previous_fire_time.astimezone(self.timezone).replace(tzinfo=None)
            if later and fire.replace(tzinfo=None) != local_previous:
                return fire
            fire = super().get_next_fire_time(None, fire.astimezone(UTC) + timedelta(minutes=1))
        return fire


def agenda_trigger(zone_name: str) -> CronTrigger:
    return CalendarTrigger(hour=AGENDA_HOUR, minute=0, timezone=ZoneInfo(zone_name))


class SchedulerPlanner:
    def __init__(
        self,
        scheduler: BaseScheduler,
        sessions: async_sessionmaker[AsyncSession],
        settings: JobSettings,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._scheduler = scheduler
        self._sessions = sessions
        self._settings = settings
        self._clock = clock

    def appointment_job_ids(self, appointment_id: int) -> list[str]:
        return [
            *(tasks.reminder_id(appointment_id, m) for m in self._settings.reminder_offsets),
            tasks.start_id(appointment_id),
            tasks.no_show_id(appointment_id),
            tasks.feedback_id(appointment_id),
            holds.hold_id(appointment_id),
        ]

    async def changed(self, appointment_ids: Iterable[int], doctor_ids: Iterable[int]) -> None:
        changes = await self.plan(list(appointment_ids), list(doctor_ids))
        if changes:
            # The job store is synchronous: never block the event loop with it.
            await asyncio.to_thread(self._apply, changes)

    async def replan_all(self) -> None:
        """Start-up: every future active appointment, recent completions, every doctor."""
        now = self._clock()
        async with UnitOfWork(self._sessions) as uow:
            appointments = await uow.planning.appointment_ids_to_plan(now, now - RECENTLY_COMPLETED)
            doctors = await uow.planning.approved_doctor_ids()
        changes = await self.plan(list(appointments), list(doctors))
        changes.append(
            Add(
                tasks.IDLE_SWEEP_ID,
                tasks.idle_sweep,
                IntervalTrigger(seconds=IDLE_SWEEP_SECONDS, timezone=UTC),
                (),
                IDLE_SWEEP_GRACE,
            )
        )
        # Daily: relayed chats of consultations closed longer ago than CHAT_LOG_RETENTION_DAYS.
        changes.append(
            Add(
                chat_purge.JOB_ID,
                chat_purge.purge_chat_logs,
                chat_purge.trigger(),
                (),
                chat_purge.GRACE,
            )
        )
        await asyncio.to_thread(self._apply, changes)
        log.info("jobs planned", extra={"appointments": len(appointments), "doctors": len(doctors)})

    async def plan(self, appointment_ids: list[int], doctor_ids: list[int]) -> list[Change]:
        changes: list[Change] = []
        settings = self._settings
        async with UnitOfWork(self._sessions) as uow:
            for appointment_id in appointment_ids:
                wanted: dict[str, Add] = {}
                appointment = await uow.appointments.get(appointment_id)
                status = Status(appointment.status) if appointment else None
                if appointment is not None and status is Status.BOOKED:
                    start = appointment.starts_at
                    for minutes in settings.reminder_offsets:
                        job_id = tasks.reminder_id(appointment_id, minutes)
                        wanted[job_id] = Add(
                            job_id,
                            tasks.send_reminder,
                            at(start - timedelta(minutes=minutes)),
                            (appointment_id, minutes),
                            ONE_OFF_GRACE,
                        )
                    wanted[tasks.start_id(appointment_id)] = Add(
                        tasks.start_id(appointment_id),
                        tasks.start_notice,
                        at(start),
                        (appointment_id,),
                        ONE_OFF_GRACE,
                    )
                    wanted[tasks.no_show_id(appointment_id)] = Add(
                        tasks.no_show_id(appointment_id),
                        tasks.mark_no_show,
                        at(start + settings.no_show_after),
                        (appointment_id,),
                        ONE_OFF_GRACE,
                    )
                elif (
                    appointment is not None
                    and status in (Status.HELD, Status.EXPIRED)
                    and appointment.hold_expires_at is not None
                ):
                    # Held for payment: released (and the patient told) when the hold ends.
                    wanted[holds.hold_id(appointment_id)] = Add(
                        holds.hold_id(appointment_id),
                        holds.expire_hold,
                        at(appointment.hold_expires_at),
                        (appointment_id,),
                        ONE_OFF_GRACE,
                    )
                elif appointment is not None and status is Status.COMPLETED:
                    consultation = await uow.consultations.by_appointment(appointment_id)
                    ended = (
                        consultation.closed_at
                        if consultation is not None and consultation.closed_at is not None
                        else appointment.updated_at
                    )
                    wanted[tasks.feedback_id(appointment_id)] = Add(
                        tasks.feedback_id(appointment_id),
                        tasks.feedback_prompt,
                        at(ended + settings.feedback_after),
                        (appointment_id,),
                        ONE_OFF_GRACE,
                    )
                done = await uow.job_runs.existing(wanted)
                for job_id in self.appointment_job_ids(appointment_id):
                    if job_id in wanted and job_id not in done:
                        changes.append(wanted[job_id])
                    else:
                        changes.append(Remove(job_id))
            for doctor_id in doctor_ids:
                doctor = await uow.doctors.get(doctor_id)
                if doctor is not None and doctor.status == "approved":
                    changes.append(
                        Add(
                            tasks.agenda_id(doctor_id),
                            tasks.doctor_agenda,
                            agenda_trigger(doctor.user.timezone),
                            (doctor_id,),
                            AGENDA_GRACE,
                        )
                    )
                else:
                    changes.append(Remove(tasks.agenda_id(doctor_id)))
        return changes

    def _apply(self, changes: list[Change]) -> None:
        for change in changes:
            if isinstance(change, Add):
                self._scheduler.add_job(
                    change.func,
                    change.trigger,
                    args=list(change.args),
                    id=change.job_id,
                    name=change.job_id,
                    replace_existing=True,
                    coalesce=True,
                    misfire_grace_time=change.grace,
                )
            else:
                with contextlib.suppress(JobLookupError):
                    self._scheduler.remove_job(change.job_id)
