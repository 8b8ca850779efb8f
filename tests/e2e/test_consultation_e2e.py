"""A visit through the real bot process: every kind of message both ways, with no identity."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from bot.emulator import SimulatedUser
from storage.models import Appointment
from storage.seeding import seed_doctor, seed_patient
from storage.unit_of_work import UnitOfWork
from tests.e2e.conftest import World
from tests.support.chat import unsigned

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.e2e]


async def appointment_now(world: World, doctor_id: int, patient_id: int, minutes: int = 0) -> int:
    start = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(minutes=minutes)
    async with UnitOfWork(world.sessions) as uow:
        appointment = Appointment(
            doctor_id=doctor_id,
            patient_id=patient_id,
            starts_at=start,
            ends_at=start + timedelta(minutes=30),
            status="booked",
            created_at=start,
            updated_at=start,
            late_cancellation=False,
        )
        uow.appointments.add(appointment)
        await uow.commit()
        return appointment.id


async def joined(world: World, first: str, user_id: int, username: str) -> SimulatedUser:
    user = world.emulator.user(first, username=username, user_id=user_id)
    await user.send_command("help")
    await user.expect("/start")
    return user


async def open_from_agenda(doctor: SimulatedUser, appointment_id: int) -> None:
    await doctor.send_command("agenda")
    agenda = await doctor.expect("Your agenda")
    keyboard = agenda["reply_markup"]["inline_keyboard"]
    data = next(
        b["callback_data"]
        for row in keyboard
        for b in row
        if unsigned(b["callback_data"]) == f"cs:-:open:{appointment_id}"
    )
    await (await doctor.tap_data(data, agenda.message_id)).answer()
    await doctor.expect("is open")


async def test_every_kind_of_message_crosses_both_ways_without_identity(world: World) -> None:
    doctor = await joined(world, "Mira", 710_001, "dr_mira_private")
    patient = await joined(world, "Anna", 710_002, "anna_private_handle")
    doctor_id = await seed_doctor(world.sessions, doctor.id, "Dr Mira Kaur")
    patient_row = await seed_patient(world.sessions, patient.id, "Anna Schmidt")
    appointment_id = await appointment_now(world, doctor_id, patient_row)
    await open_from_agenda(doctor, appointment_id)
    await patient.expect("has joined your consultation")

    calls_before = len(world.emulator.calls)
    sent_by_patient = [
        await patient.send_text("The rash started on Monday 🙁"),
        await patient.send_photo(caption="photo of the rash"),
        await patient.send_document(b"%PDF-1.4 lab", "blood-test.pdf", caption="lab report"),
        await patient.send_voice(),
        await patient.send_media("audio"),
        await patient.send_media("video", caption="how it moves"),
        await patient.send_media("video_note"),
        await patient.send_sticker(),
        await patient.send_location(48.14, 11.58),
    ]
    header = await doctor.expect("💬 Anna Schmidt · appointment C")
    for original in sent_by_patient:
        copy = await doctor.expect(None)
        kinds = {
            k
            for k in (
                "text",
                "photo",
                "document",
                "voice",
                "audio",
                "video",
                "video_note",
                "sticker",
                "location",
            )
            if k in original
        }
        assert kinds and kinds <= set(copy), (kinds, list(copy))
        assert "forward_origin" not in copy and "forward_from" not in copy
    assert "Anna" in header.text

    await doctor.send_text("Thank you. Is it itchy?")
    await patient.expect("💬 Dr Mira Kaur")
    await patient.expect("Is it itchy?")
    await doctor.send_photo(caption="compare with this")
    await patient.expect("compare with this")
    await doctor.send_document(b"leaflet", "leaflet.txt", "text/plain")
    assert "document" in await patient.expect_document()
    sent_by_doctor = [
        await doctor.send_voice(),
        await doctor.send_media("audio"),
        await doctor.send_media("video", caption="the exercise"),
        await doctor.send_media("video_note"),
        await doctor.send_sticker("💪"),
        await doctor.send_location(52.52, 13.40),
    ]
    for original in sent_by_doctor:
        copy = await patient.expect(None)
        kind = next(
            k
            for k in ("voice", "audio", "video_note", "video", "sticker", "location")
            if k in original
        )
        assert kind in copy and "forward_origin" not in copy

    # A reply arrives as a reply to the copy; an edit edits the copy.
    question = await patient.send_text("Can I use a cream?")
    question_copy = await doctor.expect("Can I use a cream?")
    await doctor.send_text("Yes, a mild one.", reply_to=question_copy.message_id)
    answer = await patient.expect("Yes, a mild one.")
    assert answer["reply_to_message"]["message_id"] == question["message_id"]
    await patient.edit_text(question["message_id"], "Can I use a hydrocortisone cream?")
    await doctor.expect_edit(question_copy.message_id, "hydrocortisone")

    # The video room: both get the same link.
    await (await patient.tap("🎥 Video call")).answer()
    link = (await patient.expect("Video room")).text.rsplit(" ", 1)[-1]
    assert (await doctor.expect("opened a video room")).text.endswith(link)

    # Nothing the bot sent carries either person's Telegram identity.
    for call in world.emulator.calls[calls_before:]:
        payload = json.dumps(call.params, ensure_ascii=False)
        for secret in ("anna_private_handle", "dr_mira_private"):
            assert secret not in payload
        if call.params.get("chat_id") == doctor.id:
            assert str(patient.id) not in payload.replace(f'"from_chat_id": {patient.id}', "")


async def test_a_doctor_with_two_open_visits_reaches_the_right_patient(world: World) -> None:
    doctor = await joined(world, "Olu", 710_011, "dr_olu")
    first = await joined(world, "Ben", 710_012, "ben_p")
    second = await joined(world, "Cai", 710_013, "cai_p")
    doctor_id = await seed_doctor(world.sessions, doctor.id, "Dr Olu Ade", "Dermatology")
    a1 = await appointment_now(
        world, doctor_id, await seed_patient(world.sessions, first.id, "Ben B")
    )
    a2 = await appointment_now(
        world, doctor_id, await seed_patient(world.sessions, second.id, "Cai C"), minutes=5
    )
    await open_from_agenda(doctor, a1)
    await open_from_agenda(doctor, a2)  # messages now go to Cai
    await doctor.send_text("Hello Cai")
    await second.expect("Hello Cai")
    await first.send_text("Doctor, a question from Ben")
    from_ben = await doctor.expect("a question from Ben")
    await doctor.send_text("Answer for Ben", reply_to=from_ben.message_id)
    await first.expect("Answer for Ben")
    await (await doctor.tap("Talk to Ben B")).answer()
    await doctor.expect("now go to Ben B")
    await doctor.send_text("Ben, one more thing")
    await first.expect("one more thing")
    assert not [m for m in second.messages if "Ben" in m.text]


async def test_a_message_with_no_open_visit_is_answered(world: World) -> None:
    lone = await joined(world, "Dee", 710_021, "dee_p")
    await seed_patient(world.sessions, lone.id, "Dee D")
    await lone.send_text("Hello, anyone?")
    await lone.expect("No consultation is open right now")


async def test_a_voice_note_the_recipient_refuses_arrives_as_an_audio_file(world: World) -> None:
    doctor = await joined(world, "Vic", 710_031, "dr_vic")
    patient = await joined(world, "Eve", 710_032, "eve_p")
    doctor_id = await seed_doctor(world.sessions, doctor.id, "Dr Vic Voss", "Neurology")
    appointment_id = await appointment_now(
        world, doctor_id, await seed_patient(world.sessions, patient.id, "Eve E")
    )
    await open_from_agenda(doctor, appointment_id)
    await patient.send_text("hello")
    await doctor.expect("hello")
    world.emulator.fail_next(
        "copyMessage",
        error_code=400,
        description="Bad Request: VOICE_MESSAGES_FORBIDDEN",
        chat_id=doctor.id,
    )
    await patient.send_voice(b"OggS the recording")
    audio = await doctor.expect_document()
    assert audio["document"]["file_name"] == "voice-message.ogg"
    assert world.emulator.file_bytes(audio["document"]["file_id"]) == b"OggS the recording"


async def test_an_album_arrives_as_one_album_with_its_caption_once(world: World) -> None:
    doctor = await joined(world, "Al", 710_041, "dr_al")
    patient = await joined(world, "Fay", 710_042, "fay_p")
    doctor_id = await seed_doctor(world.sessions, doctor.id, "Dr Al Bum", "Dermatology")
    appointment_id = await appointment_now(
        world, doctor_id, await seed_patient(world.sessions, patient.id, "Fay F")
    )
    await open_from_agenda(doctor, appointment_id)
    await patient.send_photo(caption="three angles", media_group_id="g-1")
    await patient.send_photo(media_group_id="g-1")
    await patient.send_photo(media_group_id="g-1")
    await patient.send_text("and a question after the photos")
    await doctor.expect("💬 Fay F")
    copies = [await doctor.expect(None) for _ in range(3)]
    assert len({c["media_group_id"] for c in copies}) == 1
    assert [c.text for c in copies] == ["three angles", "", ""]
    await doctor.expect("a question after the photos")
