"""/export and /delete_me through the real bot process and the Bot API emulator, on both frameworks.

Two patients of the same doctor, each with a finished consultation (chat both ways, private
notes, a prescription), a rating with a comment, an upload and a future appointment. Anna's
export holds all of hers and nothing of Ben's; after Anna's /delete_me (asked twice, through a
stale button and typed text) her doctor is told, the ORM with the key finds her fields gone,
the raw SQLite files hold neither her plaintext nor any ciphertext her fields had, and Ben's
data is untouched.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import pytest_asyncio
from pypdf import PdfReader
from sqlalchemy import func, select, text

from storage.models import (
    Appointment,
    AuditEntry,
    Consultation,
    Feedback,
    JobRun,
    Payment,
    Prescription,
    RecordDocument,
    RelayedMessage,
    User,
)
from storage.seeding import seed_doctor, seed_patient
from storage.unit_of_work import UnitOfWork
from tests.e2e.conftest import World
from tests.support.clinic_records import Rx, Said, seed_closed_consultation, user_id_of

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.e2e]

DOC_TG, ANNA_TG, BEN_TG = 730_001, 730_002, 730_003
ANNA_NAME, BEN_NAME = "Anna Quellenhof", "Ben Zwiebelturm"
ANNA_PHONE, BEN_PHONE = "+4915198765432", "+12125550187"
ANNA = {
    "chat": "Mein Knie schmerzt seit Dienstag 🦵",
    "reply": "Bitte kühlen & <schonen>",
    "summary": "Zerrung am rechten Knie",
    "private": "Meniskus beim nächsten Mal prüfen",
    "medicine": "Ibuprofenum Quellax",
    "reason": "Knieschmerzen beim Treppensteigen",
    "comment": "Sehr hilfreich, danke Frau Doktor",
    "upload": "mrt-knie-anna.pdf",
    "caption": "MRT aus der Radiologie Nord",
}
BEN = {
    "chat": "My wrist clicks when I type",
    "reply": "Try a wrist brace at night",
    "summary": "Tendinitis of the left wrist",
    "private": "Consider ultrasound",
    "medicine": "Naproxenum Benwrist",
    "reason": "Wrist pain after typing",
    "comment": "Quick and friendly",
    "upload": "xray-wrist-ben.png",
    "caption": "X-ray from the walk-in clinic",
}


@dataclass(frozen=True)
class Seeded:
    doctor_id: int
    anna_id: int
    ben_id: int
    anna_future: int
    ben_future: int


async def _seed_patient_data(
    world: World, doctor_id: int, telegram_id: int, strings: dict[str, str], hour: int
) -> int:
    """A finished visit with chat, notes, a prescription, a rating, an upload, a payment and
    a future appointment; returns the future appointment's id."""
    now = datetime.now(UTC).replace(microsecond=0)
    visit = await seed_closed_consultation(
        world.sessions,
        doctor_id,
        telegram_id,
        now - timedelta(days=3, hours=hour),
        summary=strings["summary"],
        private_notes=strings["private"],
        chat=[Said(True, strings["chat"]), Said(False, strings["reply"])],
        prescriptions=[Rx(strings["medicine"], "400 mg")],
    )
    patient_id = await user_id_of(world.sessions, telegram_id)
    async with UnitOfWork(world.sessions) as uow:
        consultation = await uow.consultations.get(visit)
        assert consultation is not None
        past = consultation.appointment_id
        uow.appointments.add(
            future := Appointment(
                doctor_id=doctor_id,
                patient_id=patient_id,
                starts_at=now.replace(minute=0, second=0) + timedelta(days=5, hours=hour),
                ends_at=now.replace(minute=0, second=0) + timedelta(days=5, hours=hour, minutes=30),
                status="booked",
                reason=strings["reason"],
                created_at=now,
                updated_at=now,
                late_cancellation=False,
            )
        )
        uow.consultations.add_document(
            RecordDocument(
                patient_id=patient_id,
                kind="document",
                file_id=f"file-{telegram_id}",
                file_name=strings["upload"],
                caption=strings["caption"],
                created_at=now - timedelta(days=1),
            )
        )
        await uow.feedback.add(
            Feedback(appointment_id=past, rating=5, comment=strings["comment"], created_at=now)
        )
        await uow.flush()
        await uow.commit()
    async with world.sessions() as session:
        session.add(
            Payment(
                appointment_id=past,
                patient_id=patient_id,
                doctor_id=doctor_id,
                payload=f"pay-{telegram_id}",
                amount_minor=5000,
                currency="EUR",
                status="paid",
                telegram_charge_id=f"charge-{telegram_id}",
                invoiced_at=now - timedelta(days=4),
                paid_at=now - timedelta(days=4),
                refund_minor=0,
            )
        )
        await session.commit()
    return future.id


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def seeded(world: World) -> Seeded:
    doctor_id = await seed_doctor(
        world.sessions, DOC_TG, "Dr Mira Kaur", "Cardiology", "Europe/Berlin"
    )
    anna_id = await seed_patient(world.sessions, ANNA_TG, ANNA_NAME, "Europe/Berlin", ANNA_PHONE)
    ben_id = await seed_patient(world.sessions, BEN_TG, BEN_NAME, "America/New_York", BEN_PHONE)
    anna_future = await _seed_patient_data(world, doctor_id, ANNA_TG, ANNA, 0)
    ben_future = await _seed_patient_data(world, doctor_id, BEN_TG, BEN, 2)
    return Seeded(doctor_id, anna_id, ben_id, anna_future, ben_future)


def _strings_of_ben() -> list[str]:
    return [*BEN.values(), BEN_NAME, BEN_PHONE, f"file-{BEN_TG}", f"charge-{BEN_TG}"]


async def test_export_holds_everything_of_the_patient_and_nothing_of_anyone_else(
    world: World, seeded: Seeded
) -> None:
    anna = world.emulator.user("Anna", user_id=ANNA_TG)
    await anna.send_command("export")
    await anna.expect("Here is everything the clinic holds about you")
    first = await anna.expect_document()
    second = await anna.expect_document()
    by_name = {m["document"]["file_name"]: m for m in (first, second)}
    json_name = next(n for n in by_name if n.endswith(".json"))
    pdf_name = next(n for n in by_name if n.endswith(".pdf"))
    raw = world.emulator.file_bytes(by_name[json_name]["document"]["file_id"]).decode("utf-8")
    data: dict[str, Any] = json.loads(raw)

    assert list(data) == [
        "format",
        "exported_at",
        "profile",
        "appointments",
        "consultations",
        "prescriptions",
        "feedback",
        "uploads",
        "payments",
    ]
    profile = data["profile"]
    assert (profile["full_name"], profile["phone"], profile["date_of_birth"]) == (
        ANNA_NAME,
        ANNA_PHONE,
        "1990-01-01",
    )
    assert profile["timezone"] == "Europe/Berlin" and profile["consent"]["version"] == "test"
    assert profile["registered_at"]["utc"].endswith("Z")
    assert profile["registered_at"]["local"].endswith("+01:00")  # 1 January: CET
    reasons = [a["reason"] for a in data["appointments"]]
    assert ANNA["reason"] in reasons and len(data["appointments"]) == 2
    assert {a["doctor"]["name"] for a in data["appointments"]} == {"Dr Mira Kaur"}
    (visit,) = data["consultations"]
    assert visit["summary"] == ANNA["summary"]
    assert [(m["from"], m["text"]) for m in visit["chat"]] == [
        ("you", ANNA["chat"]),
        ("doctor", ANNA["reply"]),
    ]
    assert [p["medicine"] for p in data["prescriptions"]] == [ANNA["medicine"]]
    assert [(f["rating"], f["comment"]) for f in data["feedback"]] == [(5, ANNA["comment"])]
    assert [(u["file_name"], u["caption"]) for u in data["uploads"]] == [
        (ANNA["upload"], ANNA["caption"])
    ]
    assert [(p["amount_minor"], p["currency"]) for p in data["payments"]] == [(5000, "EUR")]
    # Unicode kept as is (ensure_ascii=False); never the doctor's private notes.
    assert ANNA["chat"] in raw and ANNA["private"] not in raw
    for other in _strings_of_ben():
        assert other not in raw, other

    pdf = world.emulator.file_bytes(by_name[pdf_name]["document"]["file_id"])
    assert pdf.startswith(b"%PDF")
    text_of_pdf = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    for mine in (ANNA_NAME, ANNA["summary"], ANNA["medicine"], ANNA["reason"], ANNA["upload"]):
        assert mine in text_of_pdf, mine
    assert ANNA["private"] not in text_of_pdf
    for other in (BEN_NAME, BEN["summary"], BEN["medicine"], BEN["chat"]):
        assert other not in text_of_pdf

    async with world.sessions() as session:
        entry = await session.scalar(
            select(AuditEntry).where(
                AuditEntry.action == "privacy.export", AuditEntry.subject_user_id == seeded.anna_id
            )
        )
        assert entry is not None and entry.actor_telegram_id == ANNA_TG


async def _ciphertexts(world: World, patient_id: int) -> list[str]:
    """Anna's sealed values exactly as stored (read without the key)."""
    queries = [
        "SELECT full_name, date_of_birth, phone, phone_hash FROM users WHERE id = :p",
        "SELECT reason FROM appointments WHERE patient_id = :p",
        "SELECT file_id, file_name, caption FROM record_documents WHERE patient_id = :p",
        "SELECT r.content FROM relayed_messages r JOIN consultations c "
        "ON c.id = r.consultation_id JOIN appointments a ON a.id = c.appointment_id "
        "WHERE a.patient_id = :p",
        "SELECT f.comment FROM feedback f JOIN appointments a ON a.id = f.appointment_id "
        "WHERE a.patient_id = :p",
    ]
    found: list[str] = []
    async with world.engine.connect() as connection:
        for query in queries:
            for row in await connection.execute(text(query), {"p": patient_id}):
                found += [value for value in row if isinstance(value, str)]
    assert len(found) >= 10
    return found


async def test_delete_me_asks_twice_tells_the_doctor_and_leaves_no_trace(
    world: World, seeded: Seeded
) -> None:
    anna = world.emulator.user("Anna", user_id=ANNA_TG)
    doctor = world.emulator.user("Mira", user_id=DOC_TG)
    ben = world.emulator.user("Ben", user_id=BEN_TG)

    await doctor.send_command("delete_me")
    await doctor.expect("A doctor account is closed by the clinic's admins")

    await anna.send_command("delete_me")
    first = await anna.expect("Delete your account?")
    assert anna.inline_buttons(first.message_id) == ["Continue", "Keep my account"]
    first_continue = button_data(first, "Continue")
    assert "Kept, with your name and contact details removed" in first.text
    assert "prescriptions: medical records the clinic must keep by law" in first.text
    await anna.send_text("Was passiert mit meinen Daten? 🤔")
    await anna.expect("Please answer with the buttons")
    await anna.expect("Delete your account?")
    await (await anna.tap("Keep my account", first.message_id)).answer()
    await anna.expect_edit(first.message_id, "Nothing was deleted")
    async with world.sessions() as session:
        still = await session.get(User, seeded.anna_id)
        assert still is not None and still.full_name == ANNA_NAME

    await anna.send_command("delete_me")
    again = await anna.expect("Delete your account?")
    again_continue = button_data(again, "Continue")
    stale = await (await anna.tap_data(first_continue, first.message_id)).answer()
    assert stale.get("text") == "This button is no longer active."
    await (await anna.tap("Continue", again.message_id)).answer()
    final = await anna.expect("Last step.")
    assert anna.inline_buttons(final.message_id) == ["Yes, delete everything", "Keep my account"]
    moved_on = await (await anna.tap_data(again_continue, again.message_id)).answer()
    assert moved_on.get("text") == "This button is no longer active."
    await anna.send_sticker()
    await anna.expect("Please answer with the buttons")
    await anna.expect("Last step.")

    sealed = await _ciphertexts(world, seeded.anna_id)
    async with world.sessions() as session:  # job claims that carry her Telegram id
        for kind in ("idle-warn", "pin-lock"):
            session.add(JobRun(key=f"{kind}:{ANNA_TG}:1", ran_at=datetime.now(UTC), outcome="sent"))
        session.add(JobRun(key=f"idle-warn:{BEN_TG}:1", ran_at=datetime.now(UTC), outcome="sent"))
        await session.commit()
    await (await anna.tap("Yes, delete everything", final.message_id)).answer()
    done = await anna.expect("Your account is deleted.")
    assert "Cancelled appointments: 1" in done.text and "Chat messages erased: 2" in done.text
    assert "Kept without your name: 2 appointments, 1 consultation summaries" in done.text
    notice = await doctor.wait_for_text("closed their account")
    assert ANNA_NAME in notice.text and ANNA["reason"] not in notice.text

    async with world.sessions() as session:
        erased = await session.get(User, seeded.anna_id)
        assert erased is not None and erased.erased_at is not None
        assert (erased.full_name, erased.date_of_birth, erased.phone, erased.phone_hash) == (
            None,
            None,
            None,
            None,
        )
        assert erased.telegram_id == -seeded.anna_id
        assert await session.scalar(select(User).where(User.telegram_id == ANNA_TG)) is None
        mine = list(
            await session.scalars(
                select(Appointment).where(Appointment.patient_id == seeded.anna_id)
            )
        )
        assert {a.id: a.status for a in mine}[seeded.anna_future] == "cancelled"
        assert all(a.reason is None for a in mine)
        (kept,) = await session.scalars(
            select(Consultation)
            .join(Appointment, Appointment.id == Consultation.appointment_id)
            .where(Appointment.patient_id == seeded.anna_id)
        )
        assert kept.summary == ANNA["summary"]  # medical record, kept by the default rules
        assert await _count(session, RelayedMessage, RelayedMessage.consultation_id == kept.id) == 0
        assert await _count(session, Prescription, Prescription.consultation_id == kept.id) == 1
        assert (
            await _count(session, RecordDocument, RecordDocument.patient_id == seeded.anna_id) == 0
        )
        assert (
            await _count(session, Feedback, Feedback.appointment_id.in_([a.id for a in mine])) == 0
        )
        assert await _count(session, Payment, Payment.patient_id == seeded.anna_id) == 1
        assert await _count(session, AuditEntry, AuditEntry.actor_telegram_id == ANNA_TG) == 0
        claims = list(await session.scalars(select(JobRun.key).where(JobRun.key.contains("730"))))
        assert claims == [f"idle-warn:{BEN_TG}:1"]
        erase = await session.scalar(select(AuditEntry).where(AuditEntry.action == "erase"))
        assert erase is not None and erase.actor_telegram_id == -seeded.anna_id

        # Ben, the same doctor's other patient, keeps everything.
        ben_row = await session.get(User, seeded.ben_id)
        assert ben_row is not None and (ben_row.full_name, ben_row.phone) == (BEN_NAME, BEN_PHONE)
        ben_future = await session.get(Appointment, seeded.ben_future)
        assert ben_future is not None
        assert (ben_future.status, ben_future.reason) == ("booked", BEN["reason"])
        ben_docs = list(
            await session.scalars(
                select(RecordDocument).where(RecordDocument.patient_id == seeded.ben_id)
            )
        )
        assert [d.caption for d in ben_docs] == [BEN["caption"]]
        ben_chat = list(
            await session.scalars(
                select(RelayedMessage.content)
                .join(Consultation, Consultation.id == RelayedMessage.consultation_id)
                .join(Appointment, Appointment.id == Consultation.appointment_id)
                .where(Appointment.patient_id == seeded.ben_id)
            )
        )
        assert ben_chat == [BEN["chat"], BEN["reply"]]

    async with world.engine.connect() as connection:
        for value in sealed:
            hits = await connection.scalar(
                text(
                    "SELECT (SELECT count(*) FROM users WHERE full_name = :v OR phone = :v "
                    "OR date_of_birth = :v OR phone_hash = :v) + (SELECT count(*) FROM "
                    "appointments WHERE reason = :v) + (SELECT count(*) FROM relayed_messages "
                    "WHERE content = :v) + (SELECT count(*) FROM feedback WHERE comment = :v)"
                ),
                {"v": value},
            )
            assert hits == 0

    if world.db_kind == "sqlite":
        # Closing a file descriptor drops this process's SQLite locks: dispose first.
        await world.engine.dispose()
        raw = b"".join(path.read_bytes() for path in world.database_files())
        assert raw
        for plaintext in (ANNA_NAME, ANNA_PHONE, *ANNA.values()):
            assert plaintext.encode() not in raw, plaintext
        for value in sealed:  # not even the ciphertext is left in free space or the WAL
            assert value.encode() not in raw, "a sealed value of the erased patient remains"

    # The chat is no longer linked: Anna is a stranger who may register afresh.
    await anna.send_command("export")
    await anna.expect("Please register first")
    await anna.send_command("start")
    consent = await anna.expect()
    assert "✅ I agree" in anna.inline_buttons(consent.message_id)
    await ben.send_command("export")
    await ben.expect("Here is everything the clinic holds about you")


def button_data(message: dict[str, Any], label: str) -> str:
    """A button's callback data, kept to press it again after the message lost its buttons."""
    rows = message["reply_markup"]["inline_keyboard"]
    return str(next(b["callback_data"] for row in rows for b in row if b["text"] == label))


async def _count(session: Any, model: Any, condition: Any) -> int:
    return int(await session.scalar(select(func.count()).select_from(model).where(condition)))
