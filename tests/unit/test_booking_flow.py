"""Booking, rescheduling and cancelling through the core over the fake port."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from handlers.events import Event
from handlers.port import InlineKeyboard
from storage.models import Appointment
from storage.seeding import seed_doctor, seed_patient
from storage.unit_of_work import UnitOfWork
from tests.conftest import Storage
from tests.support.harness import Clock, Harness, make_harness

pytestmark = pytest.mark.parametrize("db_kind", ["sqlite"], indirect=True)

NOW = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)  # a Thursday
ANNA, BEN, DOC, DOC2 = 501, 502, 801, 802


@pytest.fixture
async def harness(storage: Storage) -> Harness:
    await seed_doctor(storage.sessions, DOC, "Dr Mira Kaur", "Cardiology", "Europe/Berlin")
    await seed_patient(storage.sessions, ANNA, "Anna Schmidt", "Europe/Berlin")
    await seed_patient(storage.sessions, BEN, "Ben Okafor", "America/New_York")
    return make_harness(storage, clock=Clock(NOW))


def buttons(h: Harness, user: int, pattern: str) -> list[tuple[int, str, str]]:
    """(message id, label, data) of the newest message's buttons whose action matches."""
    for message in reversed([m for m in h.messenger.sent if m.chat_id == user]):
        if isinstance(message.markup, InlineKeyboard):
            found = [
                (message.message_id, b.text, b.callback_data or "")
                for row in message.markup.rows
                for b in row
                if b.callback_data and re.search(pattern, b.callback_data.split(":")[-1])
            ]
            if found:
                return found
    raise AssertionError(f"no buttons matching {pattern} for {user}")


async def pick(h: Harness, user: int, pattern: str, index: int = 0) -> str:
    message_id, label, data = buttons(h, user, pattern)[index]
    await h.tap_data(user, message_id, data)
    return label


async def to_times(h: Harness, user: int) -> None:
    await h.send(user, "/book")
    await h.tap(user, "Cardiology")
    await pick(h, user, r"^d\d+$")  # the doctor
    await pick(h, user, r"^d\d{8}$")  # the first day with free times


async def appointments(h: Harness) -> list[Appointment]:
    async with h.storage.sessions() as session:
        rows = list(await session.scalars(select(Appointment).order_by(Appointment.id)))
        session.expunge_all()  # keep the loaded values after the session closes
        return rows


async def test_a_patient_books_and_both_are_told(harness: Harness) -> None:
    await to_times(harness, ANNA)
    assert "Free times on 03.12.2026" in harness.last(ANNA)
    first_time = await pick(harness, ANNA, r"^t\d+$")
    assert first_time == "13:00"  # 2 hours' notice from 11:00 Berlin time
    assert "reason for your visit" in harness.last(ANNA)
    await harness.send(ANNA, "Chest pain when climbing stairs")
    assert "Chest pain" in harness.last(ANNA) and "€50.00" in harness.last(ANNA)
    await harness.tap(ANNA, "✅ Book")
    texts = harness.messenger.texts_to(ANNA)
    assert any("Booked! Your consultation with <b>Dr Mira Kaur</b>" in t for t in texts)
    assert texts[-1] == "appointment-1.ics"
    doctor_notes = harness.messenger.texts_to(DOC)
    assert doctor_notes == ["New booking: Anna Schmidt on Thu, Dec 3, 2026, 13:00 (Europe/Berlin)."]
    (booked,) = await appointments(harness)
    assert booked.status == "booked" and booked.reason == "Chest pain when climbing stairs"


async def test_times_are_shown_in_the_patients_zone(harness: Harness) -> None:
    await to_times(harness, BEN)
    labels = [label for _, label, _ in buttons(harness, BEN, r"^t\d+$")]
    assert labels[0] == "07:00"  # 13:00 in Berlin is 07:00 in New York
    assert "America/New_York" in harness.last(BEN)


async def test_a_slot_taken_meanwhile_is_refused_and_nearest_offered(harness: Harness) -> None:
    await to_times(harness, ANNA)
    await to_times(harness, BEN)
    await pick(harness, ANNA, r"^t\d+$")
    await harness.tap(ANNA, "Skip")
    await pick(harness, BEN, r"^t\d+$")  # the same 13:00 slot, still free now
    await harness.tap(BEN, "Skip")
    await harness.tap(ANNA, "✅ Book")
    await harness.tap(BEN, "✅ Book")
    assert "just taken" in "\n".join(harness.messenger.texts_to(BEN)[-3:])
    nearest = [label for _, label, _ in buttons(harness, BEN, r"^t\d+$")]
    assert nearest and all("07:00" not in label for label in nearest)
    assert [a.patient.telegram_id for a in await appointments(harness)] == [ANNA]


async def test_a_stale_time_button_after_someone_else_took_it(harness: Harness) -> None:
    await to_times(harness, ANNA)
    await to_times(harness, BEN)
    await pick(harness, ANNA, r"^t\d+$")
    await harness.tap(ANNA, "Skip")
    await harness.tap(ANNA, "✅ Book")
    event = await harness.tap(BEN, "07:00")
    assert harness.answer(event) == "Sorry, that time was just taken."
    assert len(await appointments(harness)) == 1


async def test_past_and_far_dates_typed_are_refused(harness: Harness) -> None:
    await harness.send(ANNA, "/book")
    await harness.tap(ANNA, "Cardiology")
    await pick(harness, ANNA, r"^d\d+$")
    await harness.send(ANNA, "01.12.2026")
    assert "in the past" in harness.last(ANNA)
    await harness.send(ANNA, "01.03.2027")
    assert "open up to" in harness.last(ANNA)
    await harness.send(ANNA, "05.12.2026")  # a Saturday: no hours
    assert "no free times on that day" in harness.last(ANNA)
    await harness.send(ANNA, "07.12.2026")
    assert "Free times on 07.12.2026" in harness.last(ANNA)


async def book_first(h: Harness, user: int) -> None:
    await to_times(h, user)
    await pick(h, user, r"^t\d+$")
    await h.tap(user, "Skip")
    await h.tap(user, "✅ Book")


async def test_reschedule_secures_the_new_time_then_frees_the_old(harness: Harness) -> None:
    await book_first(harness, ANNA)
    await harness.send(ANNA, "/appointments")
    await harness.tap(ANNA, "Reschedule")
    await pick(harness, ANNA, r"^d\d{8}$", index=1)  # another day
    await pick(harness, ANNA, r"^t\d+$")
    assert "Move your appointment" in harness.last(ANNA)
    await harness.tap(ANNA, "✅ Move it")
    old, new = await appointments(harness)
    assert (old.status, new.status) == ("rescheduled", "booked")
    assert new.rescheduled_from_id == old.id and new.starts_at > old.starts_at
    assert "Rescheduled: Anna Schmidt moved" in harness.messenger.texts_to(DOC)[-1]
    # The old time is free again for someone else.
    await to_times(harness, BEN)
    assert buttons(harness, BEN, r"^t\d+$")[0][1] == "07:00"


async def test_cancel_asks_first_and_marks_late_cancellations(harness: Harness) -> None:
    await book_first(harness, ANNA)
    harness.clock.now = NOW + timedelta(hours=1, minutes=30)  # 30 minutes before 13:00 Berlin
    await harness.send(ANNA, "/appointments")
    await harness.tap(ANNA, "Cancel")
    assert "late cancellation" in harness.messenger.last_to(ANNA).text
    await harness.tap(ANNA, "Keep it")
    assert (await appointments(harness))[0].status == "booked"
    await harness.tap(ANNA, "Cancel")
    await harness.tap(ANNA, "Yes, cancel it")
    (cancelled,) = await appointments(harness)
    assert cancelled.status == "cancelled" and cancelled.late_cancellation
    assert "Cancelled (late): Anna Schmidt" in harness.messenger.texts_to(DOC)[-1]
    # The confirm button once more (a double tap, or a replayed update):
    message_id = harness.messenger.last_to(ANNA).message_id
    again = await harness.tap_data(ANNA, message_id, f"ap:-:cy:{cancelled.id}")
    assert harness.answer(again) == "This appointment can no longer be changed."


async def test_forged_buttons_for_someone_elses_appointment(harness: Harness) -> None:
    await book_first(harness, ANNA)
    (appointment,) = await appointments(harness)
    for verb in ("cx", "cy", "re"):
        event = await harness.tap_data(BEN, 1, f"ap:-:{verb}:{appointment.id}")
        assert harness.answer(event) == "This button is not valid."
    event = await harness.tap_data(BEN, 1, "ap:-:cy:99999")
    assert harness.answer(event) == "This button is not valid."
    assert (await appointments(harness))[0].status == "booked"


async def test_a_patient_cannot_hold_two_overlapping_appointments(harness: Harness) -> None:
    await seed_doctor(harness.storage.sessions, DOC2, "Dr Ola Berg", "Dermatology")
    await book_first(harness, ANNA)
    (booked,) = await appointments(harness)
    taken = f"t{int(booked.starts_at.timestamp()) // 60}"
    await harness.send(ANNA, "/book")
    await harness.tap(ANNA, "Dermatology")
    await pick(harness, ANNA, r"^d\d+$")
    await pick(harness, ANNA, r"^d\d{8}$")
    # The other doctor is free at Anna's own 13:00, but it is not offered to her.
    times = buttons(harness, ANNA, r"^t\d+$")
    assert times and all(not data.endswith(":" + taken) for _, _, data in times)
    # A stale or forged tap on it says why, and the list stays.
    message_id, _, data = times[0]
    stale = await harness.tap_data(ANNA, message_id, data.rsplit(":", 1)[0] + ":" + taken)
    assert harness.answer(stale) == (
        "You already have an appointment at that time. Please pick another time."
    )
    # Booked elsewhere between choosing a time and "Book": Book refuses it.
    await pick(harness, ANNA, r"^t\d+$")
    await harness.tap(ANNA, "Skip")
    chosen = next(a for a in await appointments(harness))
    async with harness.storage.sessions() as session:
        clash = Appointment(
            doctor_id=chosen.doctor_id,
            patient_id=chosen.patient_id,
            starts_at=booked.ends_at,
            ends_at=booked.ends_at + (booked.ends_at - booked.starts_at),
            status="booked",
            created_at=NOW,
            updated_at=NOW,
            late_cancellation=False,
        )
        session.add(clash)
        await session.commit()
    await harness.tap(ANNA, "✅ Book")
    assert any("already have an appointment" in t for t in harness.messenger.texts_to(ANNA)[-3:])
    assert len(await appointments(harness)) == 2


async def test_book_again_button_opens_the_doctors_calendar(harness: Harness) -> None:
    async with UnitOfWork(harness.storage.sessions) as uow:
        doctor = await uow.doctors.by_user(
            (await uow.users.by_telegram_id(DOC)).id  # type: ignore[union-attr]
        )
        assert doctor is not None
        doctor_id = doctor.id
    event = await harness.tap_data(ANNA, 1, f"bk:-:again:{doctor_id}")
    assert harness.answer(event) is None
    assert "Dr Mira Kaur" in harness.last(ANNA) and "pick a day" in harness.last(ANNA)
    forged = await harness.tap_data(ANNA, 1, "bk:-:again:4242")
    assert harness.answer(forged) == "This doctor is not taking bookings at the moment."


async def test_buttons_carry_ids_only_and_fit_64_bytes(harness: Harness) -> None:
    await to_times(harness, ANNA)
    for message in harness.messenger.sent:
        if isinstance(message.markup, InlineKeyboard):
            for row in message.markup.rows:
                for button in row:
                    data = button.callback_data or ""
                    assert len(data.encode()) <= 64 and "Kaur" not in data


async def test_committed_changes_reach_the_planner(storage: Storage) -> None:
    class RecordingPlanner:
        def __init__(self) -> None:
            self.calls: list[tuple[set[int], set[int]]] = []

        async def changed(self, appointment_ids: Iterable[int], doctor_ids: Iterable[int]) -> None:
            self.calls.append((set(appointment_ids), set(doctor_ids)))

    planner = RecordingPlanner()
    await seed_doctor(storage.sessions, DOC, "Dr Mira Kaur", "Cardiology", "Europe/Berlin")
    await seed_patient(storage.sessions, ANNA, "Anna Schmidt", "Europe/Berlin")
    h = make_harness(storage, clock=Clock(NOW), planner=planner)
    await book_first(h, ANNA)
    (booked,) = await appointments(h)
    assert planner.calls == [({booked.id}, set())]
    await h.send(ANNA, "/appointments")
    await h.tap(ANNA, "Cancel")
    await h.tap(ANNA, "Yes, cancel it")
    assert planner.calls[-1] == ({booked.id}, set())


async def test_forged_ids_too_large_for_an_id_column_are_refused(harness: Harness) -> None:
    for data in ("ap:-:cy:99999999999999999999", "bk:-:again:4294967296", "cs:-:open:2147483648"):
        event = await harness.tap_data(ANNA, 1, data)
        assert harness.answer(event) == "This button is not valid."


async def test_replies_go_out_before_time_driven_work_is_planned(storage: Storage) -> None:
    """A reminder already due when the booking is made must not reach the chat first."""
    seen_when_planned: list[list[str]] = []

    class PeekingPlanner:
        async def changed(self, appointment_ids: Iterable[int], doctor_ids: Iterable[int]) -> None:
            seen_when_planned.append(h.messenger.texts_to(ANNA)[-2:])

    await seed_doctor(storage.sessions, DOC, "Dr Mira Kaur", "Cardiology", "Europe/Berlin")
    await seed_patient(storage.sessions, ANNA, "Anna Schmidt", "Europe/Berlin")
    h = make_harness(storage, clock=Clock(NOW), planner=PeekingPlanner())
    await book_first(h, ANNA)
    assert any("Booked!" in text for text in seen_when_planned[-1])


async def test_a_double_tap_on_the_next_month_sends_one_calendar(harness: Harness) -> None:
    await harness.send(ANNA, "/book")
    await harness.tap(ANNA, "Cardiology")
    await pick(harness, ANNA, r"^d\d+$")
    message_id, _label, data = next(
        b for b in buttons(harness, ANNA, r"^m\d{6}$") if b[1].endswith("›")
    )
    sent = len(harness.messenger.texts_to(ANNA))
    first = await harness.tap_data(ANNA, message_id, data)
    second = await harness.tap_data(ANNA, message_id, data)
    assert harness.answer(first) is None
    assert harness.answer(second) == "This button is no longer active."
    calendars = [t for t in harness.messenger.texts_to(ANNA)[sent:] if "pick a day" in t]
    assert len(calendars) == 1 and "January 2027" in calendars[0]
    # An empty cell outside the month answers quietly; a day without times says so.
    pad = await tap_matching(harness, ANNA, r"^pad$")
    no_times = await tap_matching(harness, ANNA, r"^x$")
    assert harness.answer(pad) is None
    assert harness.answer(no_times) == "No free times on that day."


async def tap_matching(h: Harness, user: int, pattern: str) -> Event:
    message_id, _label, data = buttons(h, user, pattern)[0]
    return await h.tap_data(user, message_id, data)
