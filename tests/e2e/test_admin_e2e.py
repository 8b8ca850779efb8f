"""The admin commands through the real bot process and the Bot API emulator, on both frameworks:
statistics (message and chart), rejecting with a reason, suspending and reinstating a doctor,
finding a patient by phone, ban and unban, PIN reset and locked accounts, the audit log, a
broadcast with recipients who blocked the bot, and the feedback CSV. A patient trying any of it
gets "unknown command" or "not valid", and nothing changes.

The tests share one bot and database and run in order: the statistics come first, so their
figures are exactly what the first test seeds.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from bot.emulator import SimulatedUser
from storage.models import (
    Appointment,
    AuditEntry,
    Broadcast,
    Doctor,
    Feedback,
    UnreadableValue,
    User,
)
from storage.seeding import seed_doctor, seed_patient
from tests.e2e.conftest import ADMIN_ID, World
from tests.support.clinic_records import user_id_of

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.e2e]

UNKNOWN = "I don't know that command. Send /help to see what you can do."
NOT_VALID = "This button is not valid."
BANNED = "Your access to this service has been suspended by the clinic"
BERLIN = ZoneInfo("Europe/Berlin")
EVIL_COMMENT = '=HYPERLINK("http://evil.example","click")'


def known(user: SimulatedUser) -> SimulatedUser:
    """The user has written to the bot before, so the bot may message them."""
    user.chat.known = True
    return user


def local_hour_days_ago(days: int, hour: int) -> datetime:
    today = datetime.now(UTC).astimezone(BERLIN).date()
    return datetime.combine(today - timedelta(days=days), time(hour), tzinfo=BERLIN).astimezone(UTC)


async def admin_menu(world: World) -> SimulatedUser:
    admin = world.emulator.user("Admin", user_id=ADMIN_ID)
    await admin.send_command("admin")
    await admin.expect("Clinic administration")
    return admin


def audit(actor: int, subject: int, action: str, allowed: bool, at: datetime) -> AuditEntry:
    target = "consultation:7" if action.startswith("records.") else None
    return AuditEntry(
        actor_telegram_id=actor,
        subject_user_id=subject,
        action=action,
        target=target,
        allowed=allowed,
        at=at,
    )


async def add_appointment(
    world: World,
    doctor_id: int,
    patient_id: int,
    starts_at: datetime,
    status: str,
    cancelled_by: str | None = None,
    late: bool = False,
    rating: int | None = None,
    comment: str | None = None,
) -> int:
    async with world.sessions() as session:
        appointment = Appointment(
            doctor_id=doctor_id,
            patient_id=patient_id,
            starts_at=starts_at,
            ends_at=starts_at + timedelta(minutes=30),
            status=status,
            created_at=starts_at - timedelta(days=5),
            updated_at=starts_at,
            cancelled_by=cancelled_by,
            late_cancellation=late,
        )
        session.add(appointment)
        await session.flush()
        if rating is not None:
            session.add(
                Feedback(
                    appointment_id=appointment.id,
                    rating=rating,
                    comment=comment,
                    created_at=starts_at + timedelta(hours=1),
                )
            )
        await session.commit()
        return appointment.id


async def test_statistics_for_a_period_match_the_seeded_data(world: World) -> None:
    lena = await seed_doctor(world.sessions, 720_001, "Dr Lena Roth", "Cardiology")
    await seed_doctor(world.sessions, 720_002, "Dr Pia Wend", "Neurology", status="pending")
    new_patient = await seed_patient(world.sessions, 720_003, "Nina Frei", phone="+4915112340003")
    await seed_patient(world.sessions, 720_004, "Olaf Alt", phone="+4915112340004")
    async with world.sessions() as session:
        await session.execute(
            update(User)
            .where(User.id == new_patient)
            .values(registered_at=datetime.now(UTC) - timedelta(days=2))
        )
        await session.commit()
    for days, rating in ((1, 5), (2, 4), (3, None)):
        await add_appointment(
            world, lena, new_patient, local_hour_days_ago(days, 10), "completed", rating=rating
        )
    await add_appointment(world, lena, new_patient, local_hour_days_ago(2, 14), "no_show")
    await add_appointment(
        world, lena, new_patient, local_hour_days_ago(4, 9), "cancelled", "patient", late=True
    )
    await add_appointment(
        world, lena, new_patient, local_hour_days_ago(4, 11), "cancelled", "doctor"
    )
    await add_appointment(world, lena, new_patient, local_hour_days_ago(20, 10), "completed")

    admin = await admin_menu(world)
    await (await admin.tap("Statistics")).answer()
    await admin.expect("Statistics for which period?")
    await (await admin.tap("7 days")).answer()
    report = await admin.expect("Statistics for the last 7 days")
    text = report.text
    assert "times in Europe/Berlin" in text
    assert "Patients: 1 registered in the period, 2 in all" in text
    assert "Doctors: 1 approved, 1 pending, 0 suspended, 0 rejected" in text
    assert "Appointments starting in the period: 6" in text
    assert "completed 3, no-show 1, cancelled 2" in text
    assert "No-show rate: 25% (1 of 4 due)" in text
    assert "Cancellations: 2 (by patients 1, of them late 1; by doctors 1; by the clinic 0)" in text
    assert "Dr Lena Roth: ★ 4.5 (2)" in text
    assert "Busiest hours: 10:00–11:00 (3), 14:00–15:00 (1)" in text
    chart = await admin.expect("Appointments by state and busiest hours")
    assert "photo" in chart
    png = world.emulator.file_bytes(chart["photo"][-1]["file_id"])
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 5000

    await (await admin.tap("30 days")).answer()
    month = await admin.expect("Statistics for the last 30 days")
    assert "Appointments starting in the period: 7" in month.text
    assert "completed 4," in month.text
    await admin.expect("Appointments by state and busiest hours")


async def test_a_patient_gets_nothing_from_any_admin_command(world: World) -> None:
    eve = known(world.emulator.user("Eve", user_id=720_010))
    eve_id = await seed_patient(world.sessions, eve.id, "Eve Mallory", phone="+4915112340010")
    victim = await user_id_of(world.sessions, 720_004)
    await eve.send_command("admin")
    unknown = await eve.expect(UNKNOWN)
    forged = [
        "stat:0", "per:7d", "per:month", "aud:0", "audr:0", "audp:0", "audu:0", "lock:0",
        "unr:0", "find:0", "bc:0", "fbx:0", "docs:0", f"ban:{victim}", f"unban:{victim}",
        f"pinr:{victim}", f"audx:{victim}", "susp:1", "susy:1", "rein:1", "no:2", "ok:2",
        f"ban:{eve_id}",
    ]  # fmt: skip
    for data in forged:
        tap = await eve.tap_data(world.signed(eve.id, f"ad:-:{data}"), unknown.message_id)
        assert (await tap.answer()).get("text") == NOT_VALID, data
    for flow_data in ("bc:abcdefgh:aud:patients", "uf:abcdefgh:query:x", "rj:abcdefgh:reason:x"):
        tap = await eve.tap_data(world.signed(eve.id, flow_data), unknown.message_id)
        assert (await tap.answer()).get("text") == "This button is no longer active."
    await eve.expect_nothing()
    async with world.sessions() as session:
        users = {u.telegram_id: u for u in await session.scalars(select(User))}
        doctors = {d.id: d.status for d in await session.scalars(select(Doctor))}
        broadcasts = list(await session.scalars(select(Broadcast)))
        audit = list(await session.scalars(select(AuditEntry)))
    assert users[720_004].banned_at is None and users[eve.id].banned_at is None
    assert sorted(doctors.values()) == ["approved", "pending"]
    assert broadcasts == [] and audit == []


async def test_reject_with_a_reason_then_suspend_and_reinstate(world: World) -> None:
    greta = known(world.emulator.user("Greta", user_id=720_020))
    greta_doctor = await seed_doctor(
        world.sessions, greta.id, "Dr Greta Hoffmann", "Dermatology", status="pending"
    )
    admin = await admin_menu(world)
    await (await admin.tap("Pending doctors")).answer()
    await admin.expect("Doctors waiting for review")
    card = await admin.expect("Dr Greta Hoffmann")
    await (await admin.tap("Reject", card.message_id)).answer()
    await admin.expect("Type a short reason")
    await admin.send_text("   ")
    await admin.expect("The reason must have 1 to 500 characters")
    await admin.send_photo()
    await admin.expect("Please type the reason as text")
    await admin.send_text("x" * 501)
    await admin.expect("The reason must have 1 to 500 characters")
    async with world.sessions() as session:
        assert (await session.get(Doctor, greta_doctor)).status == "pending"  # type: ignore[union-attr]
    await admin.send_text("Licence <scan> unreadable & expired")
    await admin.expect("Rejected Dr Greta Hoffmann. The doctor was told the reason.")
    await admin.expect_edit(card.message_id, "rejected")
    told = await greta.expect("did not approve your profile")
    assert "Reason: Licence <scan> unreadable & expired" in told.text
    late = await (
        await admin.tap_data(world.signed(ADMIN_ID, f"ad:-:no:{greta_doctor}"), card.message_id)
    ).answer()
    assert late.get("text") == "Already decided: rejected."

    # Suspension: a doctor with a booked visit in three days and a patient who is told.
    omar = known(world.emulator.user("Omar", user_id=720_021))
    omar_doctor = await seed_doctor(world.sessions, omar.id, "Dr Omar Said", "Cardiology")
    paula = known(world.emulator.user("Paula", user_id=720_022))
    paula_id = await seed_patient(world.sessions, paula.id, "Paula Jung", phone="+4915112340022")
    booked = await add_appointment(
        world, omar_doctor, paula_id, local_hour_days_ago(-3, 10), "booked"
    )
    await (await admin.tap("Doctors: suspend / reinstate")).answer()
    listing = await admin.expect("Doctors:")
    assert "Dr Omar Said · Cardiology · active" in listing.text
    await (await admin.tap("Suspend Dr Omar Said", listing.message_id)).answer()
    confirm = await admin.expect("Suspend Dr Omar Said?")
    assert "Future appointments to cancel: 1;" in confirm.text
    await (await admin.tap("Yes, suspend", confirm.message_id)).answer()
    await admin.expect_edit(
        confirm.message_id, "Suspended Dr Omar Said. Future appointments cancelled: 1;"
    )
    notice = await paula.expect("was cancelled: the doctor is not available")
    assert "Dr Omar Said" in notice.text
    await omar.expect("suspended your profile")
    async with world.sessions() as session:
        appointment = await session.get(Appointment, booked)
        doctor = await session.get(Doctor, omar_doctor)
        assert appointment is not None and doctor is not None
        assert appointment.status == "cancelled" and appointment.cancelled_by == "clinic"
        assert doctor.status == "suspended"
    stale = world.signed(ADMIN_ID, f"ad:-:susy:{omar_doctor}")
    again = await (await admin.tap_data(stale, confirm.message_id)).answer()
    assert again.get("text") == "This doctor is not active, so cannot be suspended."

    # The one-tap rebook offers the other doctors of the specialty, not the suspended one.
    await (await paula.tap("Book another doctor", notice.message_id)).answer()
    choose = await paula.expect("Choose a doctor")
    labels = paula.inline_buttons(choose.message_id)
    assert any("Dr Lena Roth" in label for label in labels)
    assert not any("Omar" in label for label in labels)

    await (await admin.tap("Doctors: suspend / reinstate")).answer()
    listing = await admin.expect("Doctors:")
    assert "Dr Omar Said · Cardiology · suspended" in listing.text
    await (await admin.tap("Reinstate Dr Omar Said", listing.message_id)).answer()
    await admin.expect_edit(listing.message_id, "Reinstated Dr Omar Said")
    await omar.expect("reinstated your profile")
    async with world.sessions() as session:
        assert (await session.get(Doctor, omar_doctor)).status == "approved"  # type: ignore[union-attr]
        actions = [a.action for a in await session.scalars(select(AuditEntry))]
    assert {"doctor_reject", "doctor_suspend", "doctor_reinstate"} <= set(actions)


async def test_find_by_phone_ban_unban_reset_pin_and_the_audit_log(world: World) -> None:
    zoe = known(world.emulator.user("Zoe", user_id=720_030))
    zoe_id = await seed_patient(world.sessions, zoe.id, "Zoë <Keller>", phone="+4915112340030")
    now = datetime.now(UTC)
    async with world.sessions() as session:
        await session.execute(
            update(User)
            .where(User.id == zoe_id)
            .values(
                pin_hash="$argon2-placeholder",
                pin_failures=5,
                pin_locked_until=now + timedelta(minutes=15),
            )
        )
        session.add_all(
            [
                audit(720_001, zoe_id, "records.patient", True, now - timedelta(minutes=5)),
                audit(zoe.id, zoe_id, "pin_failed", False, now - timedelta(minutes=2)),
                audit(zoe.id, zoe_id, "pin_lockout", False, now - timedelta(minutes=1)),
            ]
        )
        await session.commit()

    admin = await admin_menu(world)
    await (await admin.tap("Find a patient")).answer()
    await admin.expect("Send the user's phone number")
    await admin.send_text("Zoë please")
    await admin.expect("neither a phone number")
    await admin.send_text("+49 151 99999999")
    await admin.expect("Nobody with that phone number")
    await admin.send_text("+49 151 12340030")
    card = await admin.expect("Zoë <Keller>")
    for line in ("Role: patient", "Appointments: 0", "Banned: no", "PIN: locked until"):
        assert line in card.text, line
    assert admin.inline_buttons(card.message_id) == ["Ban", "Reset PIN", "Audit log"]

    await (await admin.tap("Ban", card.message_id)).answer()
    await admin.expect_edit(card.message_id, "Banned: yes")
    await zoe.send_text("hello?")
    refused = await zoe.expect(BANNED)
    await zoe.send_command("book")
    await zoe.expect(BANNED)
    tap = await zoe.tap_data(world.signed(zoe.id, "bk:-:again:1"), refused.message_id)
    assert BANNED in ((await tap.answer()).get("text") or "")
    await zoe.expect_nothing()
    admin_user = await user_id_of(world.sessions, ADMIN_ID)
    own = world.signed(ADMIN_ID, f"ad:-:ban:{admin_user}")
    myself = await (await admin.tap_data(own, card.message_id)).answer()
    assert myself.get("text") == "You cannot ban yourself."
    await (await admin.tap("Unban", card.message_id)).answer()
    await admin.expect_edit(card.message_id, "Banned: no")
    await zoe.expect("restored your access")
    await zoe.send_command("help")
    await zoe.expect("/book")
    async with world.sessions() as session:
        assert (await session.get(User, zoe_id)).banned_at is None  # type: ignore[union-attr]

    # Locked accounts, and the reset that unlocks one.
    await admin.send_command("admin")
    menu = await admin.expect("Clinic administration")
    await (await admin.tap("Audit log", menu.message_id)).answer()
    await admin.expect("Audit log: what would you like to see?")
    await (await admin.tap("Locked accounts")).answer()
    locked = await admin.expect("Locked accounts")
    assert f"#{zoe_id} Zoë <Keller>" in locked.text
    await (await admin.tap(f"Reset PIN of #{zoe_id}", locked.message_id)).answer()
    await admin.expect(f"PIN reset for #{zoe_id}")
    reset = await zoe.expect("reset your PIN")
    assert "records open without one for now" in reset.text  # a patient's PIN is optional
    async with world.sessions() as session:
        zoe_row = await session.get(User, zoe_id)
        assert zoe_row is not None
        assert zoe_row.pin_hash is None and zoe_row.pin_failures == 0
        assert zoe_row.pin_locked_until is None and zoe_row.session_active_at is None
    await (await admin.tap("Locked accounts")).answer()
    await admin.expect("No account is locked right now.")

    await (await admin.tap("Recent record reads")).answer()
    reads = await admin.expect("record reads")
    assert "records.patient" in reads.text and "Dr Lena Roth" in reads.text
    assert f"#{zoe_id} Zoë <Keller>" in reads.text and "allowed" in reads.text
    await (await admin.tap("PIN failures and lockouts")).answer()
    pins = await admin.expect("PIN failures, lockouts and resets")
    assert "pin_lockout" in pins.text and "pin_failed" in pins.text and "refused" in pins.text
    assert "pin_reset" in pins.text
    await (await admin.tap("One user's entries")).answer()
    await admin.send_text(str(zoe.id))
    entries = await admin.expect("Audit log of")
    assert "user_ban" in entries.text and "user_unban" in entries.text
    assert "pin_reset" in entries.text
    await (await admin.tap("Audit log", card.message_id)).answer()
    await admin.expect("Audit log of")

    await (await admin.tap("Unreadable records")).answer()
    await admin.expect("Every encrypted value opens")
    async with world.sessions() as session:
        session.add(
            UnreadableValue(table_name="users", column_name="full_name", row_key="99", found_at=now)
        )
        await session.commit()
    await (await admin.tap("Unreadable records")).answer()
    unreadable = await admin.expect("Encrypted values no configured key opens")
    assert "users.full_name row 99" in unreadable.text


async def test_broadcast_to_patients_with_some_who_blocked_the_bot(world: World) -> None:
    ids = list(range(720_040, 720_046))
    people = [known(world.emulator.user(f"B{i}", user_id=i)) for i in ids]
    for person in people:
        await seed_patient(world.sessions, person.id, f"Patient {person.id}")
    await seed_patient(world.sessions, 720_049, "Never Wrote")  # the chat is unknown: fails
    banned = await seed_patient(world.sessions, 720_048, "Banned Person")
    async with world.sessions() as session:
        await session.execute(
            update(User).where(User.id == banned).values(banned_at=datetime.now(UTC))
        )
        await session.commit()
    silent_blocker, announced_blocker = people[0], people[1]
    silent_blocker.chat.blocked = True  # the bot finds out only when it sends (403)
    announced_blocker.block()  # the bot is told (my_chat_member); either way: blocked
    failed = len(await unknown_chats(world))  # registered patients who never wrote to the bot
    assert failed >= 1

    admin = await admin_menu(world)
    await (await admin.tap("Broadcast")).answer()
    await admin.expect("Who should get the announcement?")
    await admin.send_text("patients")
    await admin.expect("choose who gets it with the buttons")
    await (await admin.tap("Patients")).answer()
    await admin.expect("Type the announcement for patients")
    await admin.send_photo()
    await admin.expect("Only text can be broadcast")
    await admin.send_text("x" * 4097)
    await admin.expect("That is 4097 characters")
    await admin.send_text("  \n ")
    await admin.expect("The announcement is empty")
    announcement = "Closed on <Friday> & Monday 🎄 — Praxis geschlossen"
    await admin.send_text(announcement)
    await admin.expect("Preview")
    preview = await admin.expect(announcement)
    assert preview.text == announcement
    confirm = await admin.expect("Send this to")
    async with world.sessions() as session:
        patients = len(
            list(
                await session.scalars(
                    select(User.id).where(
                        User.role == "patient",
                        User.banned_at.is_(None),
                        User.registered_at.is_not(None),
                    )
                )
            )
        )
    assert f"Send this to patients? Recipients: {patients}." in confirm.text
    await (await admin.tap("📣 Send", confirm.message_id)).answer()
    done = await admin.expect_edit(confirm.message_id, "finished", timeout=30)
    blocked = 2
    delivered = patients - blocked - failed
    assert f"Delivered: {delivered}" in done.text
    assert f"Blocked the bot: {blocked}" in done.text
    assert f"Failed: {failed}" in done.text
    for person in people[2:]:
        got = await person.wait_for_text("Closed on <Friday>")
        assert got.text == announcement
    assert not any("Closed on" in m.text for m in silent_blocker.messages)
    assert not any("Closed on" in m.text for m in announced_blocker.messages)
    lena = world.emulator.user("Lena", user_id=720_001)
    assert not any("Closed on" in m.text for m in lena.messages)  # a doctor
    async with world.sessions() as session:
        row = (await session.scalars(select(Broadcast))).one()
        assert (row.status, row.audience, row.total) == ("done", "patients", patients)
        assert (row.delivered, row.blocked, row.failed) == (delivered, blocked, failed)
        assert row.text == announcement and row.finished_at is not None
        silent = await session.scalar(select(User).where(User.telegram_id == silent_blocker.id))
        assert silent is not None and silent.unreachable_since is not None  # 403 marked them


async def unknown_chats(world: World) -> list[int]:
    """Registered patients the bot may not message (they never wrote to it)."""
    async with world.sessions() as session:
        ids = list(
            await session.scalars(
                select(User.telegram_id).where(User.role == "patient", User.banned_at.is_(None))
            )
        )
    chats = world.emulator.state.chats
    return [i for i in ids if i not in chats or not chats[i].known]


async def test_feedback_export_is_a_safe_csv(world: World) -> None:
    lena = await seed_doctor(world.sessions, 720_060, "Dr Ida =Evil", "Neurology")
    patient = await user_id_of(world.sessions, 720_003)
    visit = await add_appointment(
        world, lena, patient, local_hour_days_ago(5, 12), "completed", rating=1,
        comment=EVIL_COMMENT,
    )  # fmt: skip
    admin = await admin_menu(world)
    await (await admin.tap("Export feedback")).answer()
    document = await admin.expect_document()
    assert document["document"]["file_name"].endswith(".csv")
    assert "3 ratings" in document.text
    data = world.emulator.file_bytes(document["document"]["file_id"]).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(data)))
    assert rows[0] == ["appointment_id", "doctor", "date", "rating", "comment"]
    assert len(rows) == 4
    evil = next(r for r in rows if r[0] == str(visit))
    assert evil[1] == "Dr Ida =Evil"  # starts with a letter: left alone
    assert evil[3] == "1" and evil[4] == "'" + EVIL_COMMENT
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", evil[2])
    assert {r[1] for r in rows[1:]} >= {"Dr Lena Roth"}
    async with world.sessions() as session:
        exports = list(
            await session.scalars(select(AuditEntry).where(AuditEntry.action == "feedback_export"))
        )
    assert len(exports) == 1 and exports[0].actor_telegram_id == ADMIN_ID
    assert exports[0].target == "rows:3"
