"""/records and /upload through the real bot process and the Bot API emulator, on both frameworks.

A finished consultation is put straight into the database; the patient reads it back, another
patient's forged buttons are refused, and the raw database file holds none of it in plaintext.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from handlers import callbacks
from storage.seeding import seed_doctor, seed_patient
from tests.e2e.conftest import World
from tests.support.clinic_records import Rx, Said, seed_closed_consultation

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.e2e]

CHAT_TEXT = "My knee hurts when I climb stairs since Tuesday"
DOCTOR_TEXT = "Please rest it & cool it <twice> a day"
MEDICINE = "Ibuprofenum Quistax"
SUMMARY = "Strained ligament, right knee"
PRIVATE = "Check for meniscus tear next time"
UPLOAD_NAME = "mri-knee-Zoe.pdf"
UPLOAD_CAPTION = "MRI from Radiologie Nord"


async def test_a_patient_reads_her_record_and_forged_buttons_are_refused(world: World) -> None:
    doctor = world.emulator.user("Mira", user_id=710_001)
    doctor_id = await seed_doctor(
        world.sessions, doctor.id, "Dr Mira Kaur", "Cardiology", "Europe/Berlin"
    )
    anna = world.emulator.user("Anna", user_id=710_002)
    ben = world.emulator.user("Ben", user_id=710_003)
    await seed_patient(world.sessions, anna.id, "Anna Schmidt", "Europe/Berlin")
    await seed_patient(world.sessions, ben.id, "Ben Okafor", "America/New_York")
    visit = await seed_closed_consultation(
        world.sessions,
        doctor_id,
        anna.id,
        datetime.now(UTC).replace(microsecond=0) - timedelta(days=3),
        summary=SUMMARY,
        private_notes=PRIVATE,
        chat=[Said(True, CHAT_TEXT), Said(False, DOCTOR_TEXT)],
        prescriptions=[Rx(MEDICINE, "400 mg", "1 tablet", "three times a day", "5 days")],
    )

    await anna.send_command("records")
    await anna.expect("Your records, newest first")
    card = await anna.expect(SUMMARY)
    assert "Dr Mira Kaur" in card.text and "ref. C" in card.text
    assert anna.inline_buttons(card.message_id) == ["Chat history", "Prescriptions"]
    await anna.expect("You have not added any documents")

    await (await anna.tap("Chat history", card.message_id)).answer()
    log = await anna.expect(CHAT_TEXT)
    assert log.text.index(CHAT_TEXT) < log.text.index("Please rest it & cool it <twice> a day")
    await (await anna.tap("Prescriptions", card.message_id)).answer()
    prescriptions = await anna.expect(MEDICINE)
    assert "three times a day" in prescriptions.text
    await (await anna.tap("📄 PDF again", prescriptions.message_id)).answer()
    pdf = await anna.expect_document()
    assert world.emulator.file_bytes(pdf["document"]["file_id"]).startswith(b"%PDF")
    assert all(PRIVATE not in m.text for m in anna.messages)

    await ben.send_command("records")
    empty = await ben.expect("Your record is empty")
    for verb in ("chat", "rx", "pdf"):
        forged = callbacks.pack("rc", "", verb, str(visit))
        answer = await (await ben.tap_data(forged, empty.message_id)).answer()
        assert answer.get("text") == "This button is not valid."
    await ben.expect_nothing()

    await anna.send_command("upload")
    await anna.expect("Send the document or photo to add to your record")
    await anna.send_text("it is an MRI")
    await anna.expect("That was not a file")
    await anna.send_document(b"%PDF-1.4 mri", UPLOAD_NAME, caption=UPLOAD_CAPTION)
    await anna.expect(f"Added to your record: {UPLOAD_NAME}")
    await anna.send_command("records")
    listing = await anna.expect("Documents you added")
    assert UPLOAD_CAPTION in listing.text
    await (await anna.tap(f"📎 1. {UPLOAD_NAME}", listing.message_id)).answer()
    again = await anna.expect_document()
    assert again["document"]["file_name"] == UPLOAD_NAME
    assert again.get("caption") == UPLOAD_CAPTION

    if world.db_kind == "sqlite":
        # Closing a file descriptor drops this process's SQLite locks: dispose first.
        await world.engine.dispose()
        raw = b"".join(path.read_bytes() for path in world.database_files())
        assert raw
        for plaintext in (CHAT_TEXT, MEDICINE, SUMMARY, PRIVATE, UPLOAD_NAME, UPLOAD_CAPTION):
            assert plaintext.encode() not in raw, plaintext
