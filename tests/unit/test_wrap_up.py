"""/end: the doctor's wrap-up over the fake port and a real database."""

from __future__ import annotations

import html
import io
import re
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import pytest
from pypdf import PdfReader
from sqlalchemy import inspect, select

from handlers import prescription_pdf as prescription_pdf_module
from handlers.i18n import translator
from handlers.port import Document, InlineKeyboard, SentMessage
from handlers.prescription_pdf import find_fonts, prescription_pdf
from storage.models import Appointment, Base, Consultation, DoctorFocus, Prescription
from storage.seeding import seed_doctor, seed_patient
from storage.unit_of_work import UnitOfWork
from tests.conftest import Storage
from tests.support.harness import Clock, Harness, make_harness

NOW = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)  # a Thursday
ANNA, BEN, DOC, DOC2 = 601, 602, 901, 902
NOTES = "Suspect viral infection; recheck CRP"
Row = TypeVar("Row", bound=Base)


class Documents:
    """Records every document the core sends (the fake port keeps only its name)."""

    def __init__(self, harness: Harness) -> None:
        self.sent: list[tuple[int, Document]] = []
        original = harness.messenger.send_document

        async def send_document(
            chat_id: int, document: Document, caption: str | None = None
        ) -> SentMessage:
            self.sent.append((chat_id, document))
            return await original(chat_id, document, caption)

        harness.messenger.send_document = send_document  # type: ignore[method-assign]

    def to(self, chat_id: int) -> list[Document]:
        return [d for c, d in self.sent if c == chat_id]


@pytest.fixture
async def harness(storage: Storage) -> Harness:
    await seed_doctor(storage.sessions, DOC, "Dr Mira Kaur", "Cardiology", "Europe/Berlin")
    await seed_doctor(storage.sessions, DOC2, "Dr Ola Berg", "Dermatology", "Europe/Berlin")
    await seed_patient(storage.sessions, ANNA, "Anna Schmidt", "Europe/Berlin")
    await seed_patient(storage.sessions, BEN, "Ben Okafor", "America/New_York")
    return make_harness(storage, clock=Clock(NOW))


async def book(h: Harness, doctor: int, patient: int, starts_at: datetime = NOW) -> int:
    """A booked appointment straight in the database, as the booking flow leaves it."""
    async with UnitOfWork(h.storage.sessions) as uow:
        doc = await uow.users.by_telegram_id(doctor)
        pat = await uow.users.by_telegram_id(patient)
        assert doc is not None and pat is not None
        found = await uow.doctors.by_user(doc.id)
        assert found is not None
        appointment = Appointment(
            doctor_id=found.id,
            patient_id=pat.id,
            starts_at=starts_at,
            ends_at=starts_at + timedelta(minutes=30),
            status="booked",
            created_at=NOW - timedelta(days=1),
            updated_at=NOW - timedelta(days=1),
        )
        uow.appointments.add(appointment)
        await uow.commit()
        return appointment.id


async def open_visit(h: Harness, doctor: int, appointment_id: int) -> None:
    """The doctor taps the visit's "Open" button (handled by handlers/consultation.py)."""
    await h.send(doctor, "/help")  # a message of the bot in the doctor's chat to tap on
    message_id = h.messenger.last_to(doctor).message_id
    event = await h.tap_data(doctor, message_id, f"cs:-:open:{appointment_id}")
    assert h.answer(event) is None, h.answer(event)
    assert "is open" in h.last(doctor)


async def rows(h: Harness, model: type[Row]) -> list[Row]:
    """Every row of a table, oldest first, readable after the session closes."""
    async with h.storage.sessions() as session:
        key = inspect(model).primary_key[0]
        found = list(await session.scalars(select(model).order_by(key)))
        session.expunge_all()
        return found


def button(h: Harness, user: int, label: str) -> str:
    return h.messenger.button_data(user, label)[1]


def labels(h: Harness, user: int) -> list[str]:
    markup = h.messenger.last_to(user).markup
    assert isinstance(markup, InlineKeyboard)
    return [b.text for row in markup.rows for b in row]


async def prescribe(h: Harness, first: str, medicine: str, instructions: str | None) -> None:
    await h.tap(DOC, first)
    assert "the <b>medicine</b>" in h.last(DOC)
    for answer in (medicine, "500 mg", "1 tablet", "3 times a day", "7 days"):
        await h.send(DOC, answer)
    assert "<b>Instructions</b>" in h.last(DOC)
    if instructions is None:
        await h.tap(DOC, "Skip")
    else:
        await h.send(DOC, instructions)
    assert "Prescriptions</b> so far" in h.last(DOC)


async def test_a_full_wrap_up_reaches_the_patient_and_completes_the_visit(
    harness: Harness,
) -> None:
    h, documents = harness, Documents(harness)
    appointment_id = await book(h, DOC, ANNA)
    await open_visit(h, DOC, appointment_id)
    await h.send(DOC, "/end")
    assert "Wrapping up the consultation with Anna Schmidt" in h.last(DOC)

    # Bad answers are refused with a reason, and nothing is lost.
    await h.dispatcher.handle(h.events.photo(DOC))
    assert "Please type this as text" in h.last(DOC)
    await h.send(DOC, "   ")
    assert "That was empty" in h.last(DOC)
    await h.send(DOC, "x" * 3001)
    assert "under 3,000 characters (yours has 3,001)" in h.last(DOC)
    await h.send(DOC, "<b>Rest</b> & drink plenty.\nCome back if the fever lasts.")
    assert "Private notes" in h.last(DOC)
    await h.send(DOC, NOTES)

    assert "none yet" in h.last(DOC)
    await prescribe(h, "➕ Add a prescription", "Amoxicillin", "after meals")
    await prescribe(h, "➕ Add another", "Ibuprofen", None)
    assert labels(h, DOC) == ["➕ Add another", "Remove #1", "Remove #2", "Done"]
    stale_remove = h.messenger.button_data(DOC, "Remove #1")
    await h.tap(DOC, "Remove #1")
    assert "Removed prescription #1: Amoxicillin 500 mg" in "\n".join(
        h.messenger.texts_to(DOC)[-2:]
    )
    assert "Amoxicillin" not in h.last(DOC) and "1. <b>Ibuprofen</b>" in h.last(DOC)
    # The same Remove button again (a double tap) removes nothing more.
    again = await h.tap_data(DOC, *stale_remove)
    assert h.answer(again) == "That prescription was already removed."
    await prescribe(h, "➕ Add another", "Amoxicillin", "after meals")
    await h.tap(DOC, "Done")
    assert "follow-up" in h.last(DOC)
    await h.tap(DOC, "14 days")

    review = "\n".join(h.messenger.texts_to(DOC)[-2:])
    assert "Please check the wrap-up" in review and NOTES in review
    assert "&lt;b&gt;Rest&lt;/b&gt; &amp; drink" in review
    assert "Follow-up</b>: in 14 days" in review
    before = len(h.messenger.texts_to(ANNA))
    await h.tap(DOC, "📨 Send to patient")

    # The patient: the summary and both prescriptions as a message, then the PDF.
    to_anna = h.messenger.texts_to(ANNA)
    reference = f"C20261203-{appointment_id:06d}"
    message = "\n".join(to_anna[before:-1])
    assert "Your consultation with Dr Mira Kaur" in message and reference in message
    assert "&lt;b&gt;Rest&lt;/b&gt; &amp; drink plenty." in message  # user text escaped
    assert "1. Ibuprofen</b>" in message and "2. Amoxicillin</b>" in message
    assert "Instructions: after meals" in message
    assert "follow-up consultation in 14 days" in message
    assert to_anna[-1] == f"prescription-{reference}.pdf"
    book_again = h.messenger.button_data(ANNA, "Book again with Dr Mira Kaur")[1]
    (appointment,) = await rows(h, Appointment)
    assert book_again == f"bk:-:again:{appointment.doctor_id}"
    (pdf,) = documents.to(ANNA)
    assert pdf.mime_type == "application/pdf" and pdf.filename == f"prescription-{reference}.pdf"
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.data)).pages)
    assert "Amoxicillin" in text and "Ibuprofen" in text and reference in text
    assert "Dr Mira Kaur" in text and "Anna Schmidt" in text and "<b>Rest</b> & drink" in text
    # Private notes reach nothing the patient received.
    assert not any("recheck CRP" in t for t in to_anna)
    assert "recheck CRP" not in text

    # The doctor is told; the records say completed, closed, and hold what was written.
    assert "✅ Sent to Anna Schmidt" in h.last(DOC) and reference in h.last(DOC)
    # The review left in the chat says it was sent, and lost its buttons.
    kept = [m for m in h.messenger.sent if m.chat_id == DOC][-2]
    assert kept.text.endswith("✅ <b>Sent to the patient</b> as shown.") and NOTES in kept.text
    assert kept.markup is None
    assert appointment.status == "completed"
    (consultation,) = await rows(h, Consultation)
    assert consultation.closed_at == NOW and consultation.follow_up_days == 14
    assert consultation.private_notes == NOTES
    assert consultation.summary == "<b>Rest</b> & drink plenty.\nCome back if the fever lasts."
    prescriptions = await rows(h, Prescription)
    assert [(p.medicine, p.instructions) for p in prescriptions] == [
        ("Ibuprofen", None),
        ("Amoxicillin", "after meals"),
    ]
    assert await rows(h, DoctorFocus) == []
    # The visit is over: the patient's next message is not relayed, and /end finds nothing.
    await h.send(ANNA, "One more question")
    assert "No consultation is open right now" in h.last(ANNA)
    await h.send(DOC, "/end")
    assert h.last(DOC) == "No consultation is open."
    # "Book again" opens the doctor's calendar for the patient.
    await h.tap(ANNA, "Book again with Dr Mira Kaur")
    assert "pick a day" in h.last(ANNA)


async def test_a_forged_or_foreign_wrap_up_button_changes_nothing(harness: Harness) -> None:
    h = harness
    appointment_id = await book(h, DOC, ANNA)
    await open_visit(h, DOC, appointment_id)
    await h.send(DOC, "/end")
    await h.send(DOC, "Summary for Anna")
    await h.tap(DOC, "Skip")
    await h.tap(DOC, "Done")
    await h.tap(DOC, "No follow-up")
    message_id, send = h.messenger.button_data(DOC, "📨 Send to patient")
    # Another doctor replays the button, asks to wrap up, and tries to pick the consultation.
    await h.send(DOC2, "/help")
    theirs = h.messenger.last_to(DOC2).message_id
    event = await h.tap_data(DOC2, theirs, send)
    assert h.answer(event) == "This button is no longer active."
    await h.send(DOC2, "/end")
    assert h.last(DOC2) == "No consultation is open."
    (consultation,) = await rows(h, Consultation)
    forged = await h.tap_data(DOC2, theirs, f"wu:{send.split(':')[1]}:pick:c{consultation.id}")
    assert h.answer(forged) == "This button is no longer active."
    # A patient cannot end anything either.
    await h.send(ANNA, "/end")
    assert "I don't know that command" in h.last(ANNA)
    (consultation,) = await rows(h, Consultation)
    (appointment,) = await rows(h, Appointment)
    assert consultation.closed_at is None and consultation.summary is None
    assert appointment.status == "in_consultation"
    assert not any(t.endswith(".pdf") for t in h.messenger.texts_to(ANNA))
    # The owner's button still works.
    await h.tap_data(DOC, message_id, send)
    assert "✅ Sent to Anna Schmidt" in h.last(DOC)
    assert not any("Book again" in label for label in _all_labels(h, ANNA))


def _all_labels(h: Harness, user: int) -> list[str]:
    return [
        b.text
        for m in h.messenger.sent
        if m.chat_id == user and isinstance(m.markup, InlineKeyboard)
        for row in m.markup.rows
        for b in row
    ]


async def test_cancel_mid_wrap_up_keeps_the_consultation_open(harness: Harness) -> None:
    h = harness
    appointment_id = await book(h, DOC, ANNA)
    await open_visit(h, DOC, appointment_id)
    await h.send(DOC, "/end")
    await h.send(DOC, "A summary that will not be kept")
    await h.send(DOC, "Notes that will not be kept")
    await prescribe(h, "➕ Add a prescription", "Amoxicillin", None)
    await h.send(DOC, "/cancel")
    assert "Wrap-up stopped. Nothing was saved or sent" in h.last(DOC)
    (consultation,) = await rows(h, Consultation)
    (appointment,) = await rows(h, Appointment)
    assert consultation.closed_at is None and consultation.summary is None
    assert consultation.private_notes is None
    assert appointment.status == "in_consultation"
    assert await rows(h, Prescription) == []
    # The chat goes on: the doctor's next message is relayed to the patient again.
    await h.send(DOC, "Sorry, one more question: any allergies?")
    assert h.last(ANNA).startswith("(copy of")
    # /end starts afresh.
    await h.send(DOC, "/end")
    assert "Wrapping up the consultation with Anna Schmidt" in h.last(DOC)


async def test_the_draft_survives_a_restart_and_end_resumes_it(harness: Harness) -> None:
    h = harness
    appointment_id = await book(h, DOC, ANNA)
    await open_visit(h, DOC, appointment_id)
    await h.send(DOC, "/end")
    await h.send(DOC, "Kept across the restart")
    await h.tap(DOC, "Skip")
    await prescribe(h, "➕ Add a prescription", "Cetirizine", None)
    await h.tap(DOC, "➕ Add another")
    await h.send(DOC, "Paracetamol")
    # A new process: a new dispatcher over the same database.
    h2 = make_harness(h.storage, clock=Clock(NOW + timedelta(minutes=5)))
    h2.events = h.events  # keep update ids increasing, as Telegram does
    await h2.send(DOC, "/end")
    assert "continue the wrap-up" in h2.messenger.texts_to(DOC)[0]
    assert "<b>strength</b>" in h2.last(DOC)
    for answer in ("500 mg", "2 tablets", "when needed", "3 days"):
        await h2.send(DOC, answer)
    await h2.tap(DOC, "Skip")
    assert "1. <b>Cetirizine</b>" in h2.last(DOC) and "2. <b>Paracetamol</b>" in h2.last(DOC)
    await h2.tap(DOC, "Done")
    await h2.tap(DOC, "30 days")
    review = "\n".join(h2.messenger.texts_to(DOC)[-2:])
    assert "Kept across the restart" in review and "Private notes</b>: none" in review
    await h2.tap(DOC, "Edit summary")
    assert "The current one:\n\nKept across the restart" in h2.last(DOC)
    await h2.send(DOC, "Edited summary")
    assert "Edited summary" in h2.last(DOC) and "Please check the wrap-up" in h2.last(DOC)
    await h2.tap(DOC, "📨 Send to patient")
    (consultation,) = await rows(h, Consultation)
    assert consultation.summary == "Edited summary" and consultation.private_notes is None
    assert [p.medicine for p in await rows(h, Prescription)] == ["Cetirizine", "Paracetamol"]


async def test_with_two_open_the_doctor_picks_which(harness: Harness) -> None:
    h, documents = harness, Documents(harness)
    first = await book(h, DOC, ANNA)
    second = await book(h, DOC, BEN, NOW + timedelta(minutes=30))
    await open_visit(h, DOC, first)
    h.clock.now = NOW + timedelta(minutes=25)
    await open_visit(h, DOC, second)
    await h.send(DOC, "/end")
    assert "Several consultations are open" in h.last(DOC)
    assert labels(h, DOC) == [
        "Anna Schmidt · Thu, Dec 3, 2026, 11:00",
        "Ben Okafor · Thu, Dec 3, 2026, 11:30",
    ]
    await h.tap(DOC, "Ben Okafor · Thu, Dec 3, 2026, 11:30")
    assert "with Ben Okafor" in h.last(DOC)
    await h.send(DOC, "Nothing serious. Sleep more.")
    await h.tap(DOC, "Skip")
    await h.tap(DOC, "Done")
    await h.tap(DOC, "No follow-up")
    assert "Prescriptions</b>: none" in h.last(DOC)
    await h.tap(DOC, "📨 Send to patient")
    assert "Other consultations still open: 1" in h.last(DOC)
    # Ben hears it in his own zone; no prescriptions, no book-again button.
    assert "Thu, Dec 3, 2026, 05:30" in h.messenger.texts_to(BEN)[-2]
    (pdf,) = documents.to(BEN)
    text = PdfReader(io.BytesIO(pdf.data)).pages[0].extract_text()
    assert "No medicines were prescribed." in text and "Ben Okafor" in text
    consultations = await rows(h, Consultation)
    assert [c.closed_at is None for c in consultations] == [True, False]
    appointments = await rows(h, Appointment)
    assert [a.status for a in appointments] == ["in_consultation", "completed"]
    # The next /end goes straight to the one left.
    await h.send(DOC, "/end")
    assert "with Anna Schmidt" in h.last(DOC)


async def test_end_with_nothing_open(harness: Harness) -> None:
    await harness.send(DOC, "/end")
    assert harness.last(DOC) == "No consultation is open."
    await harness.send(DOC, "/help")
    assert "/end — wrap up the open consultation" in harness.last(DOC)


def _pdf_text(document: Document) -> str:
    return "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(document.data)).pages)


def _sample_pdf() -> Document:
    return prescription_pdf(
        translator("en"),
        clinic_name="Clinic & Co",
        doctor_name="Dr Мира Каур",
        specialty="Cardiology",
        patient_name="अर्जुन Rao\x00",
        issued_on="December 3, 2026",
        reference="C20261203-000001",
        summary="Rest.\n" + "long " * 700,
        prescriptions=[
            {"medicine": "Ибупрофен", "strength": "200 mg", "dose": "1", "frequency": "daily"},
        ],
        follow_up_days=7,
    )


def test_the_pdf_draws_other_scripts_or_replaces_what_it_cannot() -> None:
    document = _sample_pdf()
    assert document.filename == "prescription-C20261203-000001.pdf"
    text = _pdf_text(document)
    if find_fonts() is not None:  # DejaVu Sans: Cyrillic drawn as is
        assert "Ибупрофен" in text and "Dr Мира Каур" in text
    assert "Rao" in text and "C20261203-000001" in text and "Clinic & Co" in text


def test_without_a_unicode_font_the_core_font_never_fails(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(prescription_pdf_module, "find_fonts", lambda: None)
    text = _pdf_text(_sample_pdf())
    assert "Dr ???? ????" in text and "Rao" in text and "C20261203-000001" in text


def _visible(text: str) -> int:
    return len(html.unescape(re.sub(r"<[^>]*>", "", text)))


async def test_replies_still_reach_the_patient_and_long_wrap_ups_are_split(
    harness: Harness,
) -> None:
    h, documents = harness, Documents(harness)
    appointment_id = await book(h, DOC, ANNA)
    await open_visit(h, DOC, appointment_id)
    await h.send(ANNA, "Is it serious?")
    copy_id = h.messenger.last_to(DOC).message_id
    await h.send(DOC, "/end")
    # A reply to the patient's message is relayed, not taken as the summary.
    await h.dispatcher.handle(h.events.text(DOC, "No, not at all.", reply_to=copy_id))
    assert h.last(ANNA).startswith("(copy of")
    assert "Wrapping up" in h.last(DOC)
    await h.send(DOC, ("Word & <tag> " * 230).strip())  # 2,989 characters; more when escaped
    await h.send(DOC, ("Note " * 599) + "end")
    medicine = "M" * 199
    for number in range(1, 11):
        await h.tap(DOC, "➕ Add another" if number > 1 else "➕ Add a prescription")
        for answer in (f"{medicine}{number % 10}", "s" * 100, "d" * 200, "f" * 200, "u" * 100):
            await h.send(DOC, answer)
        await h.send(DOC, "i" * 500)
    assert "That is the most one wrap-up can hold (10)" in h.last(DOC)
    assert "➕ Add another" not in labels(h, DOC)
    assert all(_visible(t) <= 4096 for t in h.messenger.texts_to(DOC))
    await h.tap(DOC, "Done")
    await h.tap(DOC, "7 days")
    doctor_before = len(h.messenger.sent)
    await h.tap(DOC, "📨 Send to patient")
    assert "✅ Sent to Anna Schmidt" in h.last(DOC)
    to_anna = [m for m in h.messenger.sent[doctor_before:] if m.chat_id == ANNA]
    assert len(to_anna) > 2 and all(_visible(m.text) <= 4096 for m in to_anna)
    assert [m.markup is not None for m in to_anna[:-1]] == [False] * (len(to_anna) - 2) + [True]
    joined = "\n".join(m.text for m in to_anna)
    assert joined.count(medicine) == 10 and "Note end" not in joined
    (pdf,) = documents.to(ANNA)
    text = _pdf_text(pdf).replace("\n", "")
    assert text.count("MMMMMMMMMM") >= 10
    assert len(await rows(h, Prescription)) == 10


async def test_a_long_review_kept_after_sending_loses_nothing(harness: Harness) -> None:
    """Two messages of review: each keeps what it showed; the last says it was sent."""
    h = harness
    appointment_id = await book(h, DOC, ANNA)
    await open_visit(h, DOC, appointment_id)
    await h.send(DOC, "/end")
    await h.send(DOC, "S" * 3000)
    await h.send(DOC, "N" * 870)
    await h.tap(DOC, "Done")
    await h.tap(DOC, "No follow-up")
    review = [m for m in h.messenger.sent if m.chat_id == DOC][-2:]
    before = [m.text for m in review]
    assert "N" * 870 in before[1] and review[1].markup is not None
    await h.tap(DOC, "📨 Send to patient")
    assert review[0].text == before[0]
    assert review[1].text == before[1] + "\n\n✅ <b>Sent to the patient</b> as shown."
    assert review[1].markup is None and all(_visible(m.text) <= 4096 for m in review)
