"""/export and /delete_me on the harness: who may use them, and the bad input of each step
(typed text, media, a stale or forged button, two taps at once on the final confirm)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from storage.models import AuditEntry, Consultation, User
from storage.seeding import seed_doctor, seed_patient
from tests.conftest import Storage
from tests.support.clinic_records import Rx, Said, doctor_id_of, seed_closed_consultation
from tests.support.harness import Clock, Harness, make_harness

pytestmark = pytest.mark.parametrize("db_kind", ["sqlite", "postgresql"], indirect=True)

NOW = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)
ANNA, DOC, STRANGER = 601, 901, 602
NO_LONGER_ACTIVE = "This button is no longer active."


@pytest.fixture
async def harness(storage: Storage) -> Harness:
    await seed_doctor(storage.sessions, DOC, "Dr Mira Kaur", "Cardiology")
    await seed_patient(storage.sessions, ANNA, "Anna Schmidt", "Europe/Berlin")
    return make_harness(storage, clock=Clock(NOW))


async def two_visits(h: Harness) -> tuple[int, int]:
    doctor = await doctor_id_of(h.storage.sessions, DOC)
    first = await seed_closed_consultation(
        h.storage.sessions,
        doctor,
        ANNA,
        NOW - timedelta(days=9),
        chat=[Said(True, "Первый визит 🩺"), Said(False, "Noted")],
        prescriptions=[Rx("Amlodipine")],
    )
    second = await seed_closed_consultation(
        h.storage.sessions,
        doctor,
        ANNA,
        NOW - timedelta(days=2),
        chat=[Said(True, "Second visit")],
        prescriptions=[Rx("Ibuprofen"), Rx("Omeprazole")],
    )
    return first, second


def texts(h: Harness, user: int) -> list[str]:
    return h.messenger.texts_to(user)


def with_action(data: str, action: str) -> str:
    """The same flow, token and step with another action: a forged button."""
    return data.rsplit(":", 1)[0] + ":" + action


# /export ------------------------------------------------------------------------------------


async def test_export_keeps_each_chat_and_prescription_with_its_own_consultation(
    harness: Harness,
) -> None:
    await two_visits(harness)
    await harness.send(ANNA, "/export")
    files = {d.filename.rsplit(".", 1)[1]: d for chat, d in harness.messenger.documents}
    assert set(files) == {"json", "pdf"} and files["pdf"].data.startswith(b"%PDF")
    data = json.loads(files["json"].data)
    chats = {c["reference"]: [m["text"] for m in c["chat"]] for c in data["consultations"]}
    references = [c["reference"] for c in data["consultations"]]
    assert list(chats.values()) == [["Первый визит 🩺", "Noted"], ["Second visit"]]
    assert [(p["consultation"], p["medicine"]) for p in data["prescriptions"]] == [
        (references[0], "Amlodipine"),
        (references[1], "Ibuprofen"),
        (references[1], "Omeprazole"),
    ]
    assert list(data["prescriptions"][0]) == [
        "consultation",
        "medicine",
        "strength",
        "dose",
        "frequency",
        "duration",
        "instructions",
        "written_at",
    ]


async def test_export_is_for_registered_patients_only(harness: Harness) -> None:
    await harness.send(DOC, "/export")
    assert "I don't know that command" in harness.last(DOC)
    await harness.send(STRANGER, "/export")
    assert "Please register first" in harness.last(STRANGER)
    assert harness.messenger.documents == []
    async with harness.storage.sessions() as session:
        exports = select(func.count()).where(AuditEntry.action == "privacy.export")
        assert await session.scalar(exports) == 0


# /delete_me ---------------------------------------------------------------------------------


async def test_delete_me_is_refused_to_strangers_and_during_a_consultation(
    harness: Harness,
) -> None:
    await harness.send(STRANGER, "/delete_me")
    assert "Please register first" in harness.last(STRANGER)

    first, _ = await two_visits(harness)
    async with harness.storage.sessions() as session:
        consultation = await session.get(Consultation, first)
        assert consultation is not None
        consultation.closed_at = None  # still going on
        await session.commit()
    await harness.send(ANNA, "/delete_me")
    assert "You are in a consultation right now" in harness.last(ANNA)


async def test_delete_me_asks_again_after_text_or_media_and_refuses_forged_buttons(
    harness: Harness,
) -> None:
    await harness.send(ANNA, "/delete_me")
    assert "Delete your account?" in harness.last(ANNA)
    first_id, go = harness.messenger.button_data(ANNA, "Continue")

    await harness.send(ANNA, "yes delete it all 🗑️")
    assert "Please answer with the buttons" in texts(harness, ANNA)[-2]
    assert "Delete your account?" in harness.last(ANNA)
    # "Yes" on the first question was never offered: not valid, nothing erased.
    forged = await harness.tap_data(ANNA, first_id, with_action(go, "yes"))
    assert harness.answer(forged) == "This button is not valid."

    await harness.tap(ANNA, "Continue")
    assert "Last step." in harness.last(ANNA)
    stale = await harness.tap_data(ANNA, first_id, go)  # the first step's button, again
    assert harness.answer(stale) == NO_LONGER_ACTIVE
    await harness.dispatcher.handle(harness.events.photo(ANNA))
    assert "Please answer with the buttons" in texts(harness, ANNA)[-2]
    assert "Last step." in harness.last(ANNA)

    await harness.tap(ANNA, "Keep my account")
    assert "Nothing was deleted" in harness.messenger.last_to(ANNA).edits[-1]
    async with harness.storage.sessions() as session:
        anna = await session.scalar(select(User).where(User.telegram_id == ANNA))
        assert anna is not None and anna.full_name == "Anna Schmidt" and anna.erased_at is None


async def test_two_taps_at_once_on_the_final_confirm_erase_once(harness: Harness) -> None:
    await two_visits(harness)
    await harness.send(ANNA, "/delete_me")
    await harness.tap(ANNA, "Continue")
    message_id, yes = harness.messenger.button_data(ANNA, "Yes, delete everything")
    taps = [harness.events.callback(ANNA, message_id, yes) for _ in range(2)]
    for tap in taps:  # as the adapters hand them over: the user's lane runs them in turn
        harness.dispatcher.submit(tap)
    await harness.dispatcher.drain()

    assert [harness.answer(tap) for tap in taps] == [None, NO_LONGER_ACTIVE]
    assert sum("Your account is deleted.\n" in text for text in texts(harness, ANNA)) == 1
    async with harness.storage.sessions() as session:
        erasures = select(func.count()).where(AuditEntry.action == "erase")
        assert await session.scalar(erasures) == 1
        assert await session.scalar(select(User).where(User.telegram_id == ANNA)) is None
    # A reminder's button from before the erasure is over, not forged.
    reminder = await harness.tap_data(ANNA, 1, "ap:-:ok:1")
    assert harness.answer(reminder) == NO_LONGER_ACTIVE
