"""The hold-expiry job: a time held for payment and not paid in time is released.

Planned by `jobs.planner` at the hold's end (id `hold:<appointment id>`), claimed in `job_runs`
so it tells the patient once, even when fired twice. A hold already marked expired by a
booking that took its place (handlers.scheduling) is still announced here, once.
"""

from __future__ import annotations

from clinic.appointments import Status, transition
from handlers.formatting import when
from handlers.i18n import translator
from handlers.payments import try_again_keyboard
from jobs.runtime import current
from jobs.tasks import send_claimed
from storage.unit_of_work import UnitOfWork


def hold_id(appointment_id: int) -> str:
    return f"hold:{appointment_id}"


async def expire_hold(appointment_id: int) -> None:
    runtime = current()
    now, key = runtime.clock(), hold_id(appointment_id)
    async with UnitOfWork(runtime.sessions) as uow:
        appointment = await uow.appointments.get(appointment_id)
        payment = await uow.payments.for_appointment(appointment_id)
        if appointment is not None and appointment.status == Status.HELD.value:
            if appointment.hold_expires_at is not None and appointment.hold_expires_at > now:
                return  # fired early (a clock moved back): the job is still in the store
            appointment.status = transition(appointment.status, Status.EXPIRED).value
            appointment.updated_at = now
        elif (
            appointment is None
            or appointment.status != Status.EXPIRED.value
            or payment is None
            or payment.status != "invoiced"
        ):
            await uow.job_runs.claim(key, now, "skipped")  # paid, cancelled or told already
            await uow.commit()
            return
        if not await uow.job_runs.claim(key, now, "sent"):
            return
        if payment is not None and payment.status == "invoiced":
            payment.status = "expired"
        await uow.commit()
        patient = appointment.patient
        t = translator(patient.language)
        text = t(
            "The time held for you with {doctor} on {when} ({zone}) was not paid in time and "
            "has been released. Nothing was charged. Tap Try again to book the same time if "
            "it is still free, or send /book.",
            doctor=appointment.doctor.user.full_name or "?",
            when=when(appointment.starts_at, patient.timezone, patient.language),
            zone=patient.timezone,
        )
        markup = try_again_keyboard(t, appointment.id)
        chat_id = patient.telegram_id
    await send_claimed(key, chat_id, text, markup)
