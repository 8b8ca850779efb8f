"""Booking use cases on top of the pure rules: each runs inside the caller's unit of work.

No double booking is enforced twice: the doctor's row is locked while free time is checked
(PostgreSQL; SQLite serialises writers with BEGIN IMMEDIATE), and the unique index over active
appointments refuses a second booking of the same start even if that check were bypassed.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError

from clinic.appointments import (
    Status,
    check_changeable,
    is_late_cancellation,
    transition,
)
from clinic.slots import Interval, Schedule, free_slots, stored_range
from clinic.timezones import zone
from storage.models import Appointment, Doctor, User
from storage.unit_of_work import UnitOfWork


class SlotUnavailable(Exception):
    """The time was just taken, or was never offered (a stale or forged choice)."""


class PatientBusy(Exception):
    """The patient already has an appointment overlapping this time."""


class DoctorUnavailable(Exception):
    """The doctor is not (or no longer) approved."""


async def schedule_of(uow: UnitOfWork, doctor: Doctor) -> Schedule:
    hours = await uow.schedules.hours(doctor.id)
    days_off = await uow.schedules.days_off(doctor.id)
    return Schedule(
        zone=zone(doctor.user.timezone),
        ranges=[stored_range(h.weekday, h.start, h.end) for h in hours],
        slot_minutes=doctor.slot_minutes,
        buffer_minutes=doctor.buffer_minutes,
        days_off=[(d.first_day, d.last_day) for d in days_off],
        min_notice=timedelta(minutes=doctor.min_notice_minutes),
        horizon=timedelta(days=doctor.horizon_days),
    )


async def free_slots_for(
    uow: UnitOfWork,
    doctor: Doctor,
    now: datetime,
    window: Interval | None = None,
    ignore_appointment: int | None = None,
) -> list[Interval]:
    return (await _free_and_taken(uow, doctor, now, window, ignore_appointment))[0]


async def _free_and_taken(
    uow: UnitOfWork,
    doctor: Doctor,
    now: datetime,
    window: Interval | None,
    ignore_appointment: int | None,
) -> tuple[list[Interval], Sequence[Appointment]]:
    """The free slots, and the doctor's active appointments they were checked against."""
    schedule = await schedule_of(uow, doctor)
    start = window.start if window else now
    end = window.end if window else now + schedule.horizon + timedelta(days=1)
    margin = timedelta(days=1)
    taken = await uow.appointments.active_for_doctor(doctor.id, start - margin, end + margin)
    busy = [
        Interval(a.starts_at, a.ends_at)
        for a in taken
        if a.id != ignore_appointment and not hold_ran_out(a, now)
    ]
    busy += [
        Interval(b.starts_at, b.ends_at)
        for b in await uow.schedules.blocks_between(doctor.id, start - margin, end + margin)
    ]
    return free_slots(schedule, now, busy, window), taken


async def own_busy(
    uow: UnitOfWork,
    patient_id: int,
    span: Interval,
    now: datetime,
    ignore_appointment: int | None = None,
) -> list[Interval]:
    """The times the patient's own appointments take within `span` (a hold that ran out
    takes none; `ignore_appointment` is the one being moved)."""
    own = await uow.appointments.active_for_patient(patient_id, span.start, span.end)
    return [
        Interval(a.starts_at, a.ends_at)
        for a in own
        if a.id != ignore_appointment and not hold_ran_out(a, now)
    ]


def hold_ran_out(appointment: Appointment, now: datetime) -> bool:
    """A hold whose time is up: the slot is free even before the expiry job has run."""
    return (
        appointment.status == Status.HELD.value
        and appointment.hold_expires_at is not None
        and appointment.hold_expires_at <= now
    )


async def _expire_ran_out(uow: UnitOfWork, held: Sequence[Appointment], now: datetime) -> None:
    """Mark holds whose time is up as expired before a new booking takes their place (the
    unique index would refuse the insert otherwise); the expiry job still tells the patient."""
    ran_out = list({a.id: a for a in held if hold_ran_out(a, now)}.values())
    for appointment in ran_out:
        appointment.status = transition(appointment.status, Status.EXPIRED).value
        appointment.updated_at = now
    if ran_out:
        await uow.flush()


async def end_hold(uow: UnitOfWork, appointment: Appointment, now: datetime) -> None:
    """End an unpaid hold now (given up, or its doctor or its patient gone). Nothing was booked,
    so it is not a cancellation: it expires, and its invoice is refused from now on. The expiry
    job then has nothing to announce."""
    appointment.status = transition(appointment.status, Status.EXPIRED).value
    appointment.hold_expires_at = now
    appointment.updated_at = now
    payment = await uow.payments.for_appointment(appointment.id)
    if payment is not None and payment.status == "invoiced":
        payment.status = "released"


def nearest(slots: Sequence[Interval], around: datetime, count: int = 4) -> list[Interval]:
    """The free slots closest to the wanted time, in time order."""
    closest = sorted(slots, key=lambda s: abs((s.start - around).total_seconds()))[:count]
    return sorted(closest, key=lambda s: s.start)


async def book(
    uow: UnitOfWork,
    doctor_id: int,
    patient: User,
    start: datetime,
    reason: str | None,
    now: datetime,
    replacing: Appointment | None = None,
    hold_until: datetime | None = None,
) -> Appointment:
    """Books the slot, or with `hold_until` holds it for payment (status held)."""
    doctor = await uow.doctors.lock(doctor_id)
    if doctor is None or doctor.status != "approved":
        raise DoctorUnavailable()
    await uow.appointments.lock_patient(patient.id)
    day = Interval(start - timedelta(days=1), start + timedelta(days=1))
    ignore = replacing.id if replacing else None
    offered, taken = await _free_and_taken(uow, doctor, now, day, ignore)
    slot = next((s for s in offered if s.start == start), None)
    if slot is None:
        raise SlotUnavailable()
    if await own_busy(uow, patient.id, slot, now, ignore):
        raise PatientBusy()
    own = await uow.appointments.active_for_patient(patient.id, slot.start, slot.end)
    overlapping = [a for a in taken if a.starts_at < slot.end and a.ends_at > slot.start]
    await _expire_ran_out(uow, [*own, *overlapping], now)
    appointment = Appointment(
        doctor_id=doctor.id,
        patient_id=patient.id,
        starts_at=slot.start,
        ends_at=slot.end,
        status=Status.HELD.value if hold_until else Status.BOOKED.value,
        hold_expires_at=hold_until,
        reason=reason,
        created_at=now,
        updated_at=now,
        late_cancellation=False,
        rescheduled_from_id=ignore,
    )
    try:
        async with uow.savepoint():
            uow.appointments.add(appointment)
            await uow.flush()
    except IntegrityError:
        raise SlotUnavailable() from None
    appointment.doctor = doctor
    appointment.patient = patient
    return appointment


async def reschedule(
    uow: UnitOfWork, appointment: Appointment, new_start: datetime, now: datetime
) -> Appointment:
    """The new time is secured first; only then is the old one released (one transaction)."""
    check_changeable(appointment.starts_at, now)
    transition(appointment.status, Status.RESCHEDULED)  # raises before anything changes
    moved = await book(
        uow,
        appointment.doctor_id,
        appointment.patient,
        new_start,
        appointment.reason,
        now,
        replacing=appointment,
    )
    appointment.status = Status.RESCHEDULED.value
    appointment.updated_at = now
    payment = await uow.payments.for_appointment(appointment.id)
    if payment is not None:  # what was paid follows the appointment to its new time
        payment.appointment_id = moved.id
    return moved


async def cancel(
    uow: UnitOfWork,
    appointment: Appointment,
    by: str,
    now: datetime,
    cutoff: timedelta,
    *,
    started_ok: bool = False,
) -> Appointment:
    """`started_ok`: the patient is leaving for good (erasure), so a visit whose time has begun
    but that nobody opened is cancelled too (late) rather than left booked to an erased name."""
    if not started_ok:
        check_changeable(appointment.starts_at, now)
    appointment.status = transition(appointment.status, Status.CANCELLED).value
    appointment.cancelled_by = by
    appointment.late_cancellation = by == "patient" and is_late_cancellation(
        appointment.starts_at, now, cutoff
    )
    appointment.updated_at = now
    return appointment
