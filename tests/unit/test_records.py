"""/records and /upload through the core over the fake port, on a real database.

Patients read their own record only, doctors their own patients' only; every read, allowed or
refused, lands in the audit log; private notes never reach a patient; uploads are sealed.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from handlers import callbacks
from handlers.events import Attachment, Event, EventKind, Sender
from handlers.port import InlineKeyboard
from storage.seeding import seed_doctor, seed_patient
from tests.conftest import Storage
from tests.support.clinic_records import (
    Rx,
    Said,
    audit_entries,
    doctor_id_of,
    record_documents,
    seed_closed_consultation,
    unlocked_session,
    user_id_of,
)
from tests.support.harness import Clock, Harness, make_harness

pytestmark = pytest.mark.parametrize("db_kind", ["sqlite", "postgresql"], indirect=True)

NOW = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)
ANNA, BEN, DOC, DOC2 = 501, 502, 801, 802
NOT_VALID = "This button is not valid."


@pytest.fixture
async def harness(storage: Storage) -> Harness:
    await seed_doctor(storage.sessions, DOC, "Dr Mira Kaur", "Cardiology", "Europe/Berlin")
    await seed_doctor(storage.sessions, DOC2, "Dr Arjun Rao", "Neurology", "Asia/Kolkata")
    await seed_patient(storage.sessions, ANNA, "Anna Schmidt", "Europe/Berlin")
    await seed_patient(storage.sessions, BEN, "Ben Okafor", "America/New_York")
    for doctor in (DOC, DOC2):  # records are behind the doctor's PIN (tests/unit/test_pin.py)
        await unlocked_session(storage.sessions, doctor, NOW)
    return make_harness(storage, clock=Clock(NOW))


async def doctor_id(h: Harness, telegram_id: int) -> int:
    return await doctor_id_of(h.storage.sessions, telegram_id)


def rc(verb: str, ident: int) -> str:
    return callbacks.pack("rc", "", verb, str(ident))


def texts(h: Harness, user: int) -> list[str]:
    return h.messenger.texts_to(user)


def new_texts(h: Harness, user: int, before: int) -> list[str]:
    return texts(h, user)[before:]


async def tap_rc(h: Harness, user: int, verb: str, ident: int) -> Event:
    anchor = h.messenger.last_to(user).message_id if texts(h, user) else 1
    return await h.tap_data(user, anchor, rc(verb, ident))


async def anna_visits(h: Harness) -> tuple[int, int]:
    """Two finished visits of Anna with Dr Kaur: a week ago and two days ago."""
    doc = await doctor_id(h, DOC)
    older = await seed_closed_consultation(
        h.storage.sessions,
        doc,
        ANNA,
        NOW - timedelta(days=7),
        summary="Mild hypertension; recheck in a month.",
        private_notes="Suspect white-coat effect.",
        chat=[
            Said(True, "Hello doctor, my pressure is 150/95 <b>today</b> & yesterday"),
            Said(False, "Please send a photo of the readings."),
            Said(True, "the readings", kind="photo", files=["photo-1"]),
            Said(True, None, kind="document", files=[{"file_id": "d-1", "file_name": "ecg.pdf"}]),
            Said(True, "old style", kind="document", files=["d-2"]),
            Said(False, "Thank you, all clear."),
        ],
        prescriptions=[
            Rx("Amlodipine", "5 mg", "1 tablet", "once a day", "30 days", "In the morning"),
        ],
    )
    newer = await seed_closed_consultation(
        h.storage.sessions,
        doc,
        ANNA,
        NOW - timedelta(days=2),
        summary="Pressure normal now.",
        private_notes="Patient anxious about results.",
    )
    return older, newer


async def test_a_patient_sees_her_visits_newest_first_and_never_private_notes(
    harness: Harness,
) -> None:
    older, newer = await anna_visits(harness)
    await harness.send(ANNA, "/records")
    shown = texts(harness, ANNA)
    joined = "\n".join(shown)
    assert "Your records, newest first" in shown[0]
    newer_at = joined.index("Pressure normal now.")
    older_at = joined.index("Mild hypertension")
    assert newer_at < older_at
    assert "Dr Mira Kaur" in joined and "Europe/Berlin" in joined
    assert re.search(r"ref\. C20261126-\d{6}", joined)  # the older visit's reference
    assert "You have not added any documents" in shown[-1]
    await tap_rc(harness, ANNA, "chat", older)
    await tap_rc(harness, ANNA, "rx", older)
    await tap_rc(harness, ANNA, "chat", newer)
    everything = "\n".join(texts(harness, ANNA))
    assert "white-coat" not in everything and "anxious" not in everything
    assert "private notes" not in everything.lower()
    anna_id = await user_id_of(harness.storage.sessions, ANNA)
    entries = await audit_entries(harness.storage.sessions)
    assert [(e.action, e.subject_user_id, e.allowed) for e in entries] == [
        ("records.list", anna_id, True),
        ("records.chat", anna_id, True),
        ("records.prescriptions", anna_id, True),
        ("records.chat", anna_id, True),
    ]
    assert all(e.actor_telegram_id == ANNA and e.at == NOW for e in entries)
    assert entries[1].target == f"consultation:{older}"


async def test_chat_history_in_order_with_labels_markers_and_escaping(harness: Harness) -> None:
    older, _ = await anna_visits(harness)
    await harness.send(ANNA, "/records")
    before = len(texts(harness, ANNA))
    event = await tap_rc(harness, ANNA, "chat", older)
    assert harness.answer(event) is None
    (log,) = new_texts(harness, ANNA, before)
    assert "ref. C20261126-" in log
    expected = [
        "<b>You</b> · 11:01\nHello doctor, my pressure is 150/95 &lt;b&gt;today&lt;/b&gt; "
        "&amp; yesterday",
        "<b>Dr Mira Kaur</b> · 11:01\nPlease send a photo of the readings.",
        "<b>You</b> · 11:01\n[photo]\nthe readings",
        "<b>You</b> · 11:01\n[document: ecg.pdf]",
        "<b>You</b> · 11:01\n[document]\nold style",
        "<b>Dr Mira Kaur</b> · 11:01\nThank you, all clear.",
    ]
    positions = [log.index(part) for part in expected]
    assert positions == sorted(positions)


async def test_prescriptions_as_text(harness: Harness) -> None:
    older, newer = await anna_visits(harness)
    await harness.send(ANNA, "/records")
    before = len(texts(harness, ANNA))
    await tap_rc(harness, ANNA, "rx", older)
    (text,) = new_texts(harness, ANNA, before)
    assert "1. <b>Amlodipine</b> 5 mg\n1 tablet, once a day, for 30 days" in text
    assert "In the morning" in text
    await harness.tap(ANNA, "📄 PDF again")
    assert re.fullmatch(r"prescription-C20261126-\d{6}\.pdf", harness.last(ANNA))
    await tap_rc(harness, ANNA, "rx", newer)
    assert "No prescriptions were written" in harness.last(ANNA)
    actions = [e.action for e in await audit_entries(harness.storage.sessions)]
    assert actions == [
        "records.list",
        "records.prescriptions",
        "records.pdf",
        "records.prescriptions",
    ]


async def test_a_long_chat_is_split_in_order_under_the_limit(harness: Harness) -> None:
    doc = await doctor_id(harness, DOC)
    lines = [Said(index % 2 == 0, f"message {index:03d} " + "x" * 900) for index in range(40)]
    lines.append(Said(True, "&" * 4096))  # one message that alone escapes to 20,480 characters
    lines.append(Said(False, "the very end"))
    visit = await seed_closed_consultation(
        harness.storage.sessions, doc, ANNA, NOW - timedelta(days=1), chat=lines
    )
    await harness.send(ANNA, "/records")
    before = len(texts(harness, ANNA))
    await tap_rc(harness, ANNA, "chat", visit)
    parts = new_texts(harness, ANNA, before)
    assert len(parts) > 10
    assert all(len(part) < 4096 for part in parts)
    joined = "\n".join(parts)
    positions = [joined.index(f"message {index:03d} ") for index in range(40)]
    assert positions == sorted(positions)
    assert joined.count("&amp;") == 4096
    assert all(not re.search(r"&(?!amp;)", part) for part in parts)  # no escape cut in two
    assert parts[-1].endswith("the very end")


async def test_another_patients_record_by_forged_button_is_refused_and_audited(
    harness: Harness,
) -> None:
    older, _ = await anna_visits(harness)
    await harness.send(BEN, "/records")
    assert "Your record is empty" in harness.last(BEN)
    before = len(texts(harness, BEN))
    refused_chat = await tap_rc(harness, BEN, "chat", older)
    refused_rx = await tap_rc(harness, BEN, "rx", older)
    refused_pt = await tap_rc(harness, BEN, "pt", await user_id_of(harness.storage.sessions, ANNA))
    refused_pdf = await tap_rc(harness, BEN, "pdf", older)
    refused_missing = await tap_rc(harness, BEN, "chat", 99_999)
    refused_huge = await tap_rc(harness, BEN, "rx", 10**20)  # beyond any id column
    for event in (refused_chat, refused_rx, refused_pt, refused_pdf, refused_missing, refused_huge):
        assert harness.answer(event) == NOT_VALID
    assert new_texts(harness, BEN, before) == []
    anna_id = await user_id_of(harness.storage.sessions, ANNA)
    ben_id = await user_id_of(harness.storage.sessions, BEN)
    entries = await audit_entries(harness.storage.sessions)
    assert [(e.actor_telegram_id, e.subject_user_id, e.action, e.allowed) for e in entries] == [
        (BEN, ben_id, "records.list", True),
        (BEN, anna_id, "records.chat", False),
        (BEN, anna_id, "records.prescriptions", False),
        (BEN, anna_id, "records.patient", False),
        (BEN, anna_id, "records.pdf", False),
        (BEN, None, "records.chat", False),
        # An id beyond any id column names no record: the router refuses it before any lookup.
    ]


async def test_a_doctor_sees_own_patients_only_with_own_private_notes(harness: Harness) -> None:
    older, _ = await anna_visits(harness)
    doc2 = await doctor_id(harness, DOC2)
    with_rao = await seed_closed_consultation(
        harness.storage.sessions,
        doc2,
        ANNA,
        NOW - timedelta(days=4),
        summary="Migraine; keep a diary.",
        private_notes="Rao's own note.",
    )
    bens = await seed_closed_consultation(
        harness.storage.sessions,
        doc2,
        BEN,
        NOW - timedelta(days=3),
        summary="Ben's visit",
        chat=[Said(True, "Ben's private words")],
    )
    anna_id = await user_id_of(harness.storage.sessions, ANNA)
    ben_id = await user_id_of(harness.storage.sessions, BEN)

    await harness.send(DOC, "/records")
    assert "Your patients (1)" in harness.last(DOC)
    markup = harness.messenger.last_to(DOC).markup
    assert isinstance(markup, InlineKeyboard)
    assert [b.text for row in markup.rows for b in row] == ["Anna Schmidt"]
    await harness.tap(DOC, "Anna Schmidt")
    record = "\n".join(texts(harness, DOC))
    assert "Record of Anna Schmidt" in record
    assert "Suspect white-coat effect." in record and "Patient anxious" in record
    assert "Migraine; keep a diary." in record  # the patient's record, across the clinic
    assert "Rao's own note." not in record  # another doctor's private notes stay theirs
    before = len(texts(harness, DOC))
    await tap_rc(harness, DOC, "chat", older)
    assert "Please send a photo of the readings." in harness.last(DOC)
    assert "<b>You</b> · 11:01\nPlease send a photo" in harness.last(DOC)
    assert len(texts(harness, DOC)) == before + 1

    before = len(texts(harness, DOC))
    refused = [
        await tap_rc(harness, DOC, "pt", ben_id),
        await tap_rc(harness, DOC, "chat", bens),
        await tap_rc(harness, DOC, "rx", bens),
    ]
    assert [harness.answer(e) for e in refused] == [NOT_VALID] * 3
    assert new_texts(harness, DOC, before) == []
    entries = await audit_entries(harness.storage.sessions)
    assert [(e.actor_telegram_id, e.subject_user_id, e.action, e.allowed) for e in entries] == [
        (DOC, None, "records.patients", True),
        (DOC, anna_id, "records.patient", True),
        (DOC, anna_id, "records.chat", True),
        (DOC, ben_id, "records.patient", False),
        (DOC, ben_id, "records.chat", False),
        (DOC, ben_id, "records.prescriptions", False),
    ]
    assert with_rao  # Dr Rao's visit exists and was shown above, notes withheld


async def test_a_doctor_without_any_appointment_is_refused(harness: Harness) -> None:
    older, _ = await anna_visits(harness)
    anna_id = await user_id_of(harness.storage.sessions, ANNA)
    await harness.send(DOC2, "/records")
    assert "No patient has booked with you yet" in harness.last(DOC2)
    before = len(texts(harness, DOC2))
    events = [
        await tap_rc(harness, DOC2, "pt", anna_id),
        await tap_rc(harness, DOC2, "chat", older),
        await tap_rc(harness, DOC2, "rx", older),
    ]
    assert [harness.answer(e) for e in events] == [NOT_VALID] * 3
    assert new_texts(harness, DOC2, before) == []
    entries = [e for e in await audit_entries(harness.storage.sessions) if not e.allowed]
    assert [(e.actor_telegram_id, e.subject_user_id, e.action) for e in entries] == [
        (DOC2, anna_id, "records.patient"),
        (DOC2, anna_id, "records.chat"),
        (DOC2, anna_id, "records.prescriptions"),
    ]


def file_event(
    h: Harness,
    user: int,
    attachment: Attachment | None = None,
    caption: str | None = None,
    media_group_id: str | None = None,
) -> Event:
    return Event(
        update_id=next(h.events._update_ids),
        kind=EventKind.MESSAGE,
        sender=Sender(user, "Test"),
        chat_id=user,
        message_id=next(h.events._message_ids),
        caption=caption,
        attachments=(attachment,) if attachment else (),
        media_group_id=media_group_id,
    )


SCAN_NAME = "blood-panel-Zoe-Quist.pdf"
SCAN_CAPTION = "Cholesterol panel from Labor Quist"


async def test_upload_stores_a_sealed_document_and_records_sends_it_again(
    harness: Harness, db_kind: str
) -> None:
    h = harness
    await h.send(ANNA, "/upload")
    assert "Send the document or photo to add to your record" in h.last(ANNA)
    await h.send(ANNA, "here is my report")
    assert "That was not a file" in h.last(ANNA)
    voice = Attachment("voice", "voice-1", "uv1", None, "audio/ogg", 1200)
    await h.dispatcher.handle(file_event(h, ANNA, voice))
    assert "Only documents and photos" in h.last(ANNA)
    program = Attachment("document", "exe-1", "ux1", "<evil>&.exe", "application/x-msdownload", 9)
    await h.dispatcher.handle(file_event(h, ANNA, program))
    assert "Only PDF files and images" in h.last(ANNA)
    empty = Attachment("document", "empty-1", "ue1", "empty.pdf", "application/pdf", 0)
    await h.dispatcher.handle(file_event(h, ANNA, empty))
    assert "That file is empty" in h.last(ANNA)
    scan = Attachment("document", "scan-file-id", "us1", SCAN_NAME, "application/pdf", 52_000)
    await h.dispatcher.handle(file_event(h, ANNA, scan, caption=SCAN_CAPTION))
    assert f"Added to your record: {SCAN_NAME}" in h.last(ANNA)
    (stored,) = await record_documents(h.storage.sessions)
    assert (stored.kind, stored.file_id, stored.file_name, stored.caption) == (
        "document",
        "scan-file-id",
        SCAN_NAME,
        SCAN_CAPTION,
    )
    await h.send(ANNA, "just chatting")  # the flow has ended
    assert "Added to your record" not in h.last(ANNA)

    h.clock.now += timedelta(minutes=5)
    await h.send(ANNA, "/upload")
    photo = Attachment("photo", "photo-file-id", "up1", None, None, 30_000)
    await h.dispatcher.handle(file_event(h, ANNA, photo))
    assert "Added to your record: photo" in h.last(ANNA)

    await h.send(ANNA, "/records")
    listing = h.last(ANNA)
    assert SCAN_NAME in listing and SCAN_CAPTION in listing
    await h.tap(ANNA, f"📎 2. {SCAN_NAME}")
    await h.tap(ANNA, "📎 1. photo")
    assert h.messenger.files_sent == [
        (ANNA, "document", "scan-file-id", SCAN_CAPTION),
        (ANNA, "photo", "photo-file-id", None),
    ]
    _, data = h.messenger.button_data(ANNA, f"📎 2. {SCAN_NAME}")
    forged = await h.tap_data(BEN, 1, data)
    assert h.answer(forged) == NOT_VALID
    assert len(h.messenger.files_sent) == 2
    last = (await audit_entries(h.storage.sessions))[-1]
    assert (last.actor_telegram_id, last.action, last.allowed) == (BEN, "records.document", False)

    if db_kind == "sqlite":
        # Closing a file descriptor drops this process's SQLite locks: dispose first.
        await h.storage.engine.dispose()
        database = Path(str(make_url(h.storage.url).database))
        raw = b"".join(p.read_bytes() for p in database.parent.glob(database.name + "*"))
        for secret in (SCAN_NAME, SCAN_CAPTION, "scan-file-id"):
            assert secret.encode() not in raw


async def test_upload_refuses_an_album_once_and_cancel_keeps_nothing(harness: Harness) -> None:
    h = harness
    await h.send(ANNA, "/upload")
    for index in range(3):
        photo = Attachment("photo", f"album-{index}", f"ua{index}", None, None, 1000)
        await h.dispatcher.handle(file_event(h, ANNA, photo, media_group_id="album-7"))
    assert sum("one file at a time" in text for text in texts(h, ANNA)) == 1
    await h.send(ANNA, "/cancel")
    assert "Nothing was added to your record" in h.last(ANNA)
    assert await record_documents(h.storage.sessions) == []


async def test_doctors_cannot_upload_and_see_the_patients_documents(harness: Harness) -> None:
    h = harness
    await anna_visits(h)
    await h.send(DOC, "/upload")
    assert "I don't know that command" in h.last(DOC)
    await h.send(ANNA, "/upload")
    scan = Attachment("document", "scan-2", "us2", "x-ray.png", "image/png", 10)
    await h.dispatcher.handle(file_event(h, ANNA, scan))
    await h.send(DOC, "/records")
    await h.tap(DOC, "Anna Schmidt")
    assert "Documents the patient added" in h.last(DOC) and "x-ray.png" in h.last(DOC)
    await h.tap(DOC, "📎 1. x-ray.png")
    assert h.messenger.files_sent == [(DOC, "document", "scan-2", None)]
