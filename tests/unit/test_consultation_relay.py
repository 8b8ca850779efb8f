"""Opening a visit and relaying both ways, over the fake port and a real SQLite file."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from handlers import consultation, pin, recipient_choice, wrap_up
from handlers.port import InlineKeyboard, RecipientUnavailable
from jobs import tasks
from storage.models import Appointment, Consultation, Conversation, RelayedMessage
from storage.seeding import seed_doctor, seed_patient
from storage.unit_of_work import UnitOfWork
from tests.conftest import Storage
from tests.support.clinic_records import doctor_id_of, user_id_of
from tests.support.harness import Clock, Harness, make_harness

pytestmark = pytest.mark.parametrize("db_kind", ["sqlite"], indirect=True)

START = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)
DOC, ANNA, BEN, OTHER_DOC = 801, 501, 502, 802


async def book_directly(storage: Storage, doctor_id: int, patient_id: int, start: datetime) -> int:
    async with UnitOfWork(storage.sessions) as uow:
        appointment = Appointment(
            doctor_id=doctor_id,
            patient_id=patient_id,
            starts_at=start,
            ends_at=start + timedelta(minutes=30),
            status="booked",
            created_at=START,
            updated_at=START,
            late_cancellation=False,
        )
        uow.appointments.add(appointment)
        await uow.commit()
        return appointment.id


@pytest.fixture
async def harness(storage: Storage) -> Harness:
    return make_harness(storage, clock=Clock(START - timedelta(minutes=5)))


@pytest.fixture
async def visit(storage: Storage) -> dict[str, int]:
    doctor = await seed_doctor(storage.sessions, DOC, "Dr Mira Kaur")
    await seed_doctor(storage.sessions, OTHER_DOC, "Dr Ola Berg", "Dermatology")
    anna = await seed_patient(storage.sessions, ANNA, "Anna Schmidt")
    ben = await seed_patient(storage.sessions, BEN, "Ben Okafor")
    return {
        "doctor": doctor,
        "anna": await book_directly(storage, doctor, anna, START),
        "ben": await book_directly(storage, doctor, ben, START + timedelta(minutes=30)),
    }


async def open_visit(h: Harness, appointment_id: int, by: int = DOC) -> None:
    event = await h.tap_data(by, 1, f"cs:-:open:{appointment_id}")
    assert h.answer(event) is None, h.answer(event)


async def relayed(h: Harness) -> list[RelayedMessage]:
    async with h.storage.sessions() as session:
        rows = list(await session.scalars(select(RelayedMessage).order_by(RelayedMessage.id)))
        session.expunge_all()
        return rows


async def test_opening_tells_both_and_moves_the_appointment(
    harness: Harness, visit: dict[str, int]
) -> None:
    await open_visit(harness, visit["anna"])
    assert "Consultation with Anna Schmidt is open" in harness.last(DOC)
    assert "Dr Mira Kaur has joined your consultation" in harness.last(ANNA)
    assert isinstance(harness.messenger.last_to(ANNA).markup, InlineKeyboard)
    async with harness.storage.sessions() as session:
        appointment = await session.get(Appointment, visit["anna"])
        assert appointment is not None and appointment.status == "in_consultation"
        consultation = await session.scalar(select(Consultation))
        assert consultation is not None and consultation.reference.startswith("C20261203-")


async def test_too_early_and_someone_elses_appointment_are_refused(
    harness: Harness, visit: dict[str, int]
) -> None:
    harness.clock.now = START - timedelta(minutes=11)
    event = await harness.tap_data(DOC, 1, f"cs:-:open:{visit['anna']}")
    assert "too early" in (harness.answer(event) or "")
    harness.clock.now = START
    forged = await harness.tap_data(OTHER_DOC, 1, f"cs:-:open:{visit['anna']}")
    assert harness.answer(forged) == "This button is not valid."
    patient = await harness.tap_data(ANNA, 1, f"cs:-:open:{visit['anna']}")
    assert harness.answer(patient) == "This button is not valid."


async def test_messages_cross_with_a_header_once_and_are_logged_sealed(
    harness: Harness, visit: dict[str, int]
) -> None:
    await open_visit(harness, visit["anna"])
    await harness.send(ANNA, "I have had a headache for three days")
    await harness.send(ANNA, "It is worse in the morning")
    doctor_side = harness.messenger.texts_to(DOC)
    assert doctor_side[-3].startswith("💬 Anna Schmidt · appointment C20261203-")
    assert doctor_side[-2].startswith("(copy of 501:") and doctor_side[-1].startswith("(copy of")
    await harness.send(DOC, "Any fever?")
    assert harness.messenger.texts_to(ANNA)[-2].startswith("💬 Dr Mira Kaur · appointment")
    rows = await relayed(harness)
    assert [r.direction for r in rows] == ["to_doctor", "to_doctor", "to_patient"]
    assert rows[0].content == "I have had a headache for three days"
    assert all(r.copy_message_id for r in rows)


async def test_replies_and_edits_follow_the_mapping(
    harness: Harness, visit: dict[str, int]
) -> None:
    await open_visit(harness, visit["anna"])
    question = harness.events.text(ANNA, "Should I take ibuprofen?")
    await harness.dispatcher.handle(question)
    copy = harness.messenger.last_to(DOC)
    await harness.dispatcher.handle(
        harness.events.text(DOC, "Yes, 400 mg", reply_to=copy.message_id)
    )
    answer_copy = harness.messenger.last_to(ANNA)
    assert answer_copy.reply_to == question.message_id
    await harness.dispatcher.handle(
        harness.events.edited(ANNA, question.message_id or 0, "Should I take paracetamol?")
    )
    assert copy.text == "Should I take paracetamol?"
    assert (await relayed(harness))[0].content == "Should I take paracetamol?"


async def test_a_doctor_with_two_open_visits_routes_by_reply_focus_or_asks(
    harness: Harness, visit: dict[str, int]
) -> None:
    harness.clock.now = START + timedelta(minutes=25)
    await open_visit(harness, visit["anna"])
    await open_visit(harness, visit["ben"])  # focus moves to Ben's, the one just opened
    await harness.send(DOC, "Hello Ben")
    assert harness.messenger.texts_to(BEN)[-1].startswith("(copy of 801:")
    await harness.send(ANNA, "Are you there?")
    anna_copy = harness.messenger.last_to(DOC)
    await harness.dispatcher.handle(
        harness.events.text(DOC, "Yes Anna", reply_to=anna_copy.message_id)
    )
    assert harness.messenger.texts_to(ANNA)[-1].startswith("(copy of 801:")
    # Switching the current one with the button:
    await harness.tap(DOC, "Talk to Anna Schmidt")
    assert harness.last(DOC) == "Your messages now go to Anna Schmidt."
    harness.messenger.button_data(DOC, "Talk to Ben Okafor")  # the way back is right there
    await harness.send(DOC, "Back to you, Anna")
    assert len([t for t in harness.messenger.texts_to(ANNA) if t.startswith("(copy of 801")]) == 2
    # With no current consultation recorded, the bot asks instead of guessing.
    async with UnitOfWork(harness.storage.sessions) as uow:
        await uow.consultations.clear_focus(visit["doctor"])
        await uow.commit()
    await harness.send(DOC, "Who gets this?")
    assert harness.last(DOC) == "Who is this message for?"
    await harness.tap(DOC, "To Ben Okafor")
    assert harness.messenger.texts_to(BEN)[-1].startswith("(copy of 801:")
    assert (await relayed(harness))[-1].content == "Who gets this?"  # kept as typed


async def test_blocked_recipient_the_sender_is_told(
    harness: Harness, visit: dict[str, int]
) -> None:
    await open_visit(harness, visit["anna"])
    harness.messenger.failures.append(RecipientUnavailable("Forbidden: bot was blocked"))
    await harness.send(DOC, "Please send a photo of the rash")
    assert "could not be delivered" in harness.last(DOC)
    assert (await relayed(harness))[-1].delivered is False
    assert harness.unreachable == [ANNA]


async def test_video_room_link_reaches_both(harness: Harness, visit: dict[str, int]) -> None:
    await open_visit(harness, visit["anna"])
    await harness.tap(ANNA, "🎥 Video call")
    link = harness.last(ANNA).split(": ", 1)[1]
    assert link.startswith("https://meet.jit.si/clinic-") and len(link) > 40
    assert harness.last(DOC).endswith(link)


async def test_messages_with_no_open_visit_get_an_answer(
    harness: Harness, visit: dict[str, int]
) -> None:
    await harness.send(ANNA, "Hello?")
    assert "No consultation is open right now" in harness.last(ANNA)
    assert "Dr Mira Kaur" in harness.last(ANNA)
    await harness.send(DOC, "Hello?")
    assert "Open one from /agenda" in harness.last(DOC)
    await harness.dispatcher.handle(harness.events.photo(ANNA))
    assert "not sent to anyone" in harness.last(ANNA)


async def test_the_agenda_offers_open_only_inside_the_window(
    harness: Harness, visit: dict[str, int]
) -> None:
    harness.clock.now = START - timedelta(minutes=30)
    await harness.send(DOC, "/agenda")
    assert "Open the consultation" not in str(harness.messenger.last_to(DOC).markup)
    harness.clock.now = START - timedelta(minutes=5)
    await harness.send(DOC, "/agenda")
    await harness.tap(DOC, "▶ Open the consultation at 11:00")
    assert "Dr Mira Kaur has joined your consultation" in harness.last(ANNA)


async def test_a_voice_note_refused_by_privacy_arrives_as_an_audio_file(
    harness: Harness, visit: dict[str, int]
) -> None:
    from dataclasses import replace

    from handlers.events import Attachment
    from handlers.port import BadRequest

    await open_visit(harness, visit["anna"])
    await harness.send(DOC, "Please describe it in a voice note")  # the header is spent
    harness.messenger.failures.append(BadRequest("Bad Request: VOICE_MESSAGES_FORBIDDEN"))
    voice = replace(
        harness.events.photo(DOC), attachments=(Attachment("voice", "voice-file-1", "v1"),)
    )
    await harness.dispatcher.handle(voice)
    assert harness.messenger.texts_to(ANNA)[-1] == "voice-message.ogg"
    assert (await relayed(harness))[-1].copy_message_id is not None
    assert "could not be delivered" not in harness.last(DOC)


async def test_an_album_leaves_as_one_album_in_order(
    harness: Harness, visit: dict[str, int]
) -> None:
    from dataclasses import replace

    await open_visit(harness, visit["anna"])
    parts = [
        replace(harness.events.photo(ANNA), media_group_id="album-1", caption=caption)
        for caption in ("three photos of the rash", None, None)
    ]
    for part in parts:
        await harness.dispatcher.handle(part)
    assert not [t for t in harness.messenger.texts_to(DOC) if t.startswith("(copy")]
    await harness.dispatcher.drain()  # the album window closes
    copies = [t for t in harness.messenger.texts_to(DOC) if t.startswith("(copy")]
    assert copies == [f"(copy of {ANNA}:{p.message_id})" for p in parts]
    assert all(r.copy_message_id for r in await relayed(harness))


async def test_asking_for_the_video_room_again_does_not_repeat_it_to_the_other_side(
    harness: Harness, visit: dict[str, int]
) -> None:
    await open_visit(harness, visit["anna"])
    await harness.tap(ANNA, "🎥 Video call")
    await harness.tap(ANNA, "🎥 Video call")
    to_doctor = [t for t in harness.messenger.texts_to(DOC) if "video room" in t]
    to_anna = [t for t in harness.messenger.texts_to(ANNA) if t.startswith("Video room")]
    assert len(to_doctor) == 1 and len(to_anna) == 2 and to_anna[0] == to_anna[1]


async def test_opening_ends_half_finished_flows_so_the_text_is_relayed(
    harness: Harness, visit: dict[str, int]
) -> None:
    # A PIN being typed must never be relayed, and a wrap-up draft is never dropped.
    kept = (pin.FLOW, wrap_up.FLOW, recipient_choice.FLOW)
    assert kept == (consultation.PIN_FLOW, consultation.WRAP_UP_FLOW, consultation.CHOICE_FLOW)
    assert set(kept) == consultation.KEPT_FLOWS
    await harness.send(DOC, "/availability")
    await harness.send(ANNA, "/book")
    await open_visit(harness, visit["anna"])
    assert "command you had not finished was closed" in harness.last(DOC)
    assert "command you had not finished was closed" in harness.last(ANNA)
    await harness.send(DOC, "How are you feeling today?")
    await harness.send(ANNA, "Better, thank you 🙂")
    rows = await relayed(harness)
    assert [(r.direction, r.content) for r in rows] == [
        ("to_patient", "How are you feeling today?"),
        ("to_doctor", "Better, thank you 🙂"),
    ]


async def test_a_wrap_up_in_progress_is_finished_before_the_next_visit_opens(
    harness: Harness, visit: dict[str, int]
) -> None:
    await open_visit(harness, visit["anna"])
    await harness.send(DOC, "/end")
    harness.clock.now = START + timedelta(minutes=25)
    event = await harness.tap_data(DOC, 1, f"cs:-:open:{visit['ben']}")
    assert "Finish the wrap-up you started first" in (harness.answer(event) or "")
    async with harness.storage.sessions() as session:
        ben = await session.get(Appointment, visit["ben"])
        assert ben is not None and ben.status == "booked"
    await harness.send(DOC, "/cancel")
    await open_visit(harness, visit["ben"])
    assert "Consultation with Ben Okafor is open" in harness.last(DOC)


async def test_a_patient_asked_for_a_pin_is_told_before_writing_to_the_doctor(
    harness: Harness, visit: dict[str, int]
) -> None:
    await harness.send(ANNA, "/pin")  # choosing a PIN: the next message is read as one
    await open_visit(harness, visit["anna"])
    assert "You were being asked for your PIN" in harness.last(ANNA)
    assert "has joined your consultation" in harness.last(ANNA)


async def test_a_patient_with_two_open_visits_picks_and_the_record_keeps_the_text(
    harness: Harness, visit: dict[str, int], storage: Storage
) -> None:
    other_doctor = await doctor_id_of(storage.sessions, OTHER_DOC)
    anna = await user_id_of(storage.sessions, ANNA)
    second = await book_directly(storage, other_doctor, anna, START + timedelta(minutes=5))
    await open_visit(harness, visit["anna"])
    await open_visit(harness, second, by=OTHER_DOC)
    question = harness.events.text(ANNA, "Which of you prescribed this? 💊")
    await harness.dispatcher.handle(question)
    first_question, _ = harness.messenger.button_data(ANNA, "To Dr Ola Berg")
    assert harness.last(ANNA) == "Who is this message for?"
    assert harness.messenger.last_to(ANNA).reply_to == question.message_id  # which one it asks
    # Nothing may start another flow over the waiting message: a command or a button.
    await harness.send(ANNA, "/book")
    assert "Some of your messages are waiting" in harness.last(ANNA)
    tap = await harness.tap_data(ANNA, 1, f"bk:-:again:{other_doctor}")
    assert "waiting for a recipient" in (harness.answer(tap) or "")
    await harness.send(ANNA, "Second one, for Dr Kaur")
    await harness.tap(ANNA, "To Dr Mira Kaur")  # the newest question: the second message
    assert harness.last(ANNA) == "Sent to Dr Mira Kaur."
    _, to_ola = harness.messenger.button_data(ANNA, "To Dr Ola Berg")
    # Forged actions on the same flow and token: another consultation, a message never held.
    token = to_ola.rsplit(":", 1)[0]
    elsewhere = await harness.tap_data(ANNA, first_question, f"{token}:99999.{question.message_id}")
    assert "That consultation has ended" in (harness.answer(elsewhere) or "")
    never_held = await harness.tap_data(ANNA, first_question, f"{token}:{second}.1")
    assert harness.answer(never_held) == "This button is no longer active."
    await harness.tap_data(ANNA, first_question, to_ola)
    again = await harness.tap_data(ANNA, first_question, to_ola)  # a second tap sends nothing
    assert harness.answer(again) == "This button is no longer active."
    rows = await relayed(harness)
    assert [(r.consultation_id, r.content) for r in rows][-2:] == [
        (await consultation_of(storage, visit["anna"]), "Second one, for Dr Kaur"),
        (await consultation_of(storage, second), "Which of you prescribed this? 💊"),
    ]
    assert harness.messenger.texts_to(OTHER_DOC)[-1].startswith("(copy of 501:")
    async with harness.storage.sessions() as session:
        assert await session.get(Conversation, ANNA) is None  # nothing left waiting
    # Waiting messages outlive the idle sweep and a visit opening: they are the user's words.
    assert recipient_choice.FLOW in tasks.NEVER_EXPIRE


async def consultation_of(storage: Storage, appointment_id: int) -> int:
    async with storage.sessions() as session:
        found = await session.scalar(
            select(Consultation.id).where(Consultation.appointment_id == appointment_id)
        )
        assert found is not None
        return found
