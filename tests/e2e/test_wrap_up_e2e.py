"""/end through the real bot process and the Bot API emulator, on both frameworks."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from bot.emulator import SimulatedUser
from storage.models import Appointment, Consultation, Prescription
from storage.seeding import seed_doctor, seed_patient
from storage.unit_of_work import UnitOfWork
from tests.e2e.conftest import World
from tests.support.chat import unsigned

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.e2e]


async def joined(world: World, first: str, user_id: int) -> SimulatedUser:
    """A simulated user whose chat with the bot exists (as after registration)."""
    user = world.emulator.user(first, user_id=user_id)
    await user.send_command("help")
    await user.expect("/start")
    return user


async def appointment_soon(world: World, doctor_id: int, patient_id: int) -> int:
    start = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(minutes=2)
    async with UnitOfWork(world.sessions) as uow:
        appointment = Appointment(
            doctor_id=doctor_id,
            patient_id=patient_id,
            starts_at=start,
            ends_at=start + timedelta(minutes=30),
            status="booked",
            created_at=start - timedelta(days=1),
            updated_at=start - timedelta(days=1),
        )
        uow.appointments.add(appointment)
        await uow.commit()
        return appointment.id


async def open_visit(world: World, doctor: SimulatedUser, appointment_id: int) -> None:
    """Tap "Open" on the agenda when it offers one, else push the same data on a message."""
    wanted = f"cs:-:open:{appointment_id}"
    await doctor.send_command("agenda")
    agenda = await doctor.expect()
    keyboard = (agenda.get("reply_markup") or {}).get("inline_keyboard", [])
    offered = [
        b["text"] for row in keyboard for b in row if unsigned(b.get("callback_data", "")) == wanted
    ]
    if offered:
        await (await doctor.tap(offered[0], agenda.message_id)).answer()
    else:
        await (await doctor.tap_data(world.signed(doctor.id, wanted), agenda.message_id)).answer()
    await doctor.expect("is open")


async def tap(user: SimulatedUser, label: str, then: str) -> None:
    await (await user.tap(label)).answer()
    await user.expect(then)


async def prescribe(doctor: SimulatedUser, first: str, fields: list[str]) -> None:
    await tap(doctor, first, "the medicine")
    prompts = ["strength", "dose each time", "How often", "For how long", "Instructions"]
    for answer, prompt in zip(fields[:5], prompts, strict=True):
        await doctor.send_text(answer)
        await doctor.expect(prompt)
    if len(fields) > 5:
        await doctor.send_text(fields[5])
        await doctor.expect("so far")
    else:
        await tap(doctor, "Skip", "so far")


async def test_the_doctor_wraps_up_and_the_patient_gets_summary_and_pdf(world: World) -> None:
    doctor = await joined(world, "Mira", 720_001)
    patient = await joined(world, "Anna", 720_002)
    doctor_id = await seed_doctor(world.sessions, doctor.id, "Dr Mira Kaur")
    patient_row = await seed_patient(world.sessions, patient.id, "Anna Schmidt")
    appointment_id = await appointment_soon(world, doctor_id, patient_row)
    await open_visit(world, doctor, appointment_id)
    await patient.expect("has joined your consultation")

    # One message each way through the bot.
    await patient.send_text("My throat hurts since Sunday")
    await doctor.expect("My throat hurts since Sunday")
    await doctor.send_text("Any fever?")
    await patient.expect("Any fever?")

    await doctor.send_command("end")
    await doctor.expect("Wrapping up the consultation with Anna Schmidt")
    await doctor.send_photo(caption="not a summary")
    await doctor.expect("Please type this as text")
    await doctor.send_text("Tonsillitis <likely> & mild. Rest, drink warm fluids.")
    await doctor.expect("Private notes")
    await doctor.send_text("Private: consider strep test next time")
    await doctor.expect("none yet")
    await prescribe(
        doctor,
        "➕ Add a prescription",
        ["Amoxicillin", "500 mg", "1 capsule", "3 times a day", "7 days", "after meals"],
    )
    await prescribe(
        doctor, "➕ Add another", ["Ibuprofen", "400 mg", "1 tablet", "when needed", "5 days"]
    )
    await tap(doctor, "Done", "follow-up consultation in")
    await tap(doctor, "14 days", "Please check the wrap-up")
    await tap(doctor, "📨 Send to patient", "Sent to Anna Schmidt")

    message = await patient.expect("Your consultation with Dr Mira Kaur")
    assert "Tonsillitis <likely> & mild." in message.text  # escaped on the way, shown as typed
    assert "Amoxicillin" in message.text and "Ibuprofen" in message.text
    assert "strep test" not in message.text
    pdf = await patient.expect_document()
    assert pdf["document"]["file_name"].startswith("prescription-C")
    data = world.emulator.file_bytes(pdf["document"]["file_id"])
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)
    assert "Amoxicillin" in text and "Ibuprofen" in text
    assert "strep test" not in text
    buttons = [
        b
        for m in patient.messages
        for row in (m.get("reply_markup") or {}).get("inline_keyboard", [])
        for b in row
    ]
    assert any(
        b["text"] == "Book again with Dr Mira Kaur"
        and unsigned(b.get("callback_data", "")) == f"bk:-:again:{doctor_id}"
        for b in buttons
    )

    async with world.sessions() as session:
        appointment = await session.get(Appointment, appointment_id)
        assert appointment is not None and appointment.status == "completed"
        consultation = await session.scalar(
            select(Consultation).where(Consultation.appointment_id == appointment_id)
        )
        assert consultation is not None and consultation.closed_at is not None
        assert consultation.reference in text
        medicines = await session.scalars(
            select(Prescription.medicine)
            .where(Prescription.consultation_id == consultation.id)
            .order_by(Prescription.id)
        )
        assert list(medicines) == ["Amoxicillin", "Ibuprofen"]

    # Closed: the patient's next message is not relayed.
    await patient.send_text("Thank you!")
    await patient.expect("No consultation is open right now")
