"""Scheduled jobs through the real bot process: a reminder that came due while the bot was down
arrives exactly once after start-up, and not again after another restart."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from storage.models import Appointment
from storage.seeding import seed_doctor, seed_patient
from storage.unit_of_work import UnitOfWork
from tests.e2e.conftest import World
from tests.support.chat import unsigned

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.e2e]


async def test_a_reminder_due_while_the_bot_was_down_arrives_once(world: World) -> None:
    doctor = world.emulator.user("Jana", user_id=700_301)
    patient = world.emulator.user("Paul", user_id=700_302)
    for user in (doctor, patient):  # their chats exist, as after registration
        await user.send_command("help")
        await user.expect()
    await seed_doctor(world.sessions, doctor.id, "Dr Jana Novak", "Cardiology", "Europe/Berlin")
    patient_id = await seed_patient(world.sessions, patient.id, "Paul Weber", "Europe/Berlin")

    await world.bot.stop()
    # While the bot is down: an appointment whose 1-hour reminder was due five seconds ago
    # (and whose 24-hour reminder is long overdue: only the closer one may be sent).
    now = datetime.now(UTC)
    async with UnitOfWork(world.sessions) as uow:
        doctor_row = await uow.doctors.by_user(
            (await uow.users.by_telegram_id(doctor.id)).id  # type: ignore[union-attr]
        )
        assert doctor_row is not None
        appointment = Appointment(
            doctor_id=doctor_row.id,
            patient_id=patient_id,
            starts_at=now + timedelta(minutes=59, seconds=55),
            ends_at=now + timedelta(minutes=89, seconds=55),
            status="booked",
            reason="Palpitations",
            created_at=now - timedelta(days=2),  # booked well before its reminders
            updated_at=now,
            late_cancellation=False,
        )
        uow.appointments.add(appointment)
        await uow.commit()
        appointment_id = appointment.id
    patient.mark_all_read()

    await world.bot.start()
    reminder = await patient.expect("Reminder", timeout=30)
    assert "starts soon" in reminder.text and "Dr Jana Novak" in reminder.text
    assert "Palpitations" not in reminder.text and "Cardiology" not in reminder.text
    keyboard = reminder.get("reply_markup", {}).get("inline_keyboard", [])
    assert [unsigned(b["callback_data"]) for row in keyboard for b in row] == [
        f"ap:-:ok:{appointment_id}",
        f"ap:-:re:{appointment_id}",
        f"ap:-:cx:{appointment_id}",
    ]
    await patient.expect_nothing(within=2)

    await world.bot.stop()
    await world.bot.start()
    await patient.expect_nothing(within=3)
    assert sum("Reminder" in m.text for m in patient.messages) == 1
    async with UnitOfWork(world.sessions) as uow:
        runs = {r.key: r.outcome for r in await uow.job_runs.with_prefix("reminder:")}
    assert runs == {
        f"reminder:{appointment_id}:60": "sent",
        f"reminder:{appointment_id}:1440": "missed",
    }
    # Confirm only thanks.
    answer = await (
        await patient.tap_data(
            world.signed(patient.id, f"ap:-:ok:{appointment_id}"), reminder.message_id
        )
    ).answer()
    assert answer["text"] == "Thanks, see you then."
