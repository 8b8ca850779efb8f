"""The admin commands' bad input through the core (the happy paths cross the process in
tests/e2e/test_admin_e2e.py): media, empty, huge and non-Latin text where a line is typed, an
admin removed mid-flow, stale and doubled taps, banned and erased users.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from handlers.port import InlineKeyboard
from storage.models import Broadcast, Doctor, User
from storage.seeding import seed_doctor, seed_patient
from tests.conftest import Storage
from tests.support.clinic_records import (
    doctor_id_of,
    seed_closed_consultation,
    unlocked_session,
    user_id_of,
)
from tests.support.harness import Clock, Harness, make_harness

pytestmark = pytest.mark.parametrize("db_kind", ["sqlite", "postgresql"], indirect=True)

NOW = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)
ADMIN, ADMIN2 = 900, 901
DOC, DOC2 = 801, 802
ANNA, BEN, CARL = 501, 502, 503
UNKNOWN = "I don't know that command. Send /help to see what you can do."
NOT_VALID = "This button is not valid."
BANNED = "Your access to this service has been suspended by the clinic"


@pytest.fixture
async def harness(storage: Storage) -> Harness:
    await seed_doctor(storage.sessions, DOC, "Dr Mira Kaur", "Cardiology")
    await seed_doctor(storage.sessions, DOC2, "Dr Ida Pend", "Neurology", status="pending")
    await seed_patient(storage.sessions, ANNA, "Anna Schmidt", phone="+4915112345678")
    await seed_patient(storage.sessions, BEN, "Ben Okafor")
    await seed_patient(storage.sessions, CARL, "Carl Wu")
    return make_harness(storage, admin_ids=frozenset({ADMIN, ADMIN2}), clock=Clock(NOW))


def labels(h: Harness, user: int) -> list[str]:
    markup = h.messenger.last_to(user).markup
    assert isinstance(markup, InlineKeyboard)
    return [b.text for row in markup.rows for b in row]


def demoted(h: Harness, admin_ids: frozenset[int]) -> Harness:
    """The same bot and database after a restart with other ADMIN_IDS."""
    restarted = make_harness(h.storage, admin_ids=admin_ids, clock=h.clock)
    restarted.events = h.events  # update ids go on: the new ones are not duplicates
    return restarted


async def photo(h: Harness, user: int) -> None:
    await h.dispatcher.handle(h.events.photo(user))


async def admin_tap(h: Harness, label: str, user: int = ADMIN) -> None:
    await h.send(user, "/admin")
    await h.tap(user, label)


async def doctor_row(h: Harness, telegram_id: int) -> Doctor:
    async with h.storage.sessions() as session:
        doctor = await session.get(Doctor, await doctor_id_of(h.storage.sessions, telegram_id))
        assert doctor is not None
        return doctor


async def change_user(h: Harness, telegram_id: int, **values: object) -> int:
    async with h.storage.sessions() as session:
        user = await session.scalar(select(User).where(User.telegram_id == telegram_id))
        assert user is not None
        for name, value in values.items():
            setattr(user, name, value)
        await session.commit()
        return user.id


# -- rejecting with a reason -------------------------------------------------------------------


async def test_a_reason_is_one_typed_line_checked_before_anything_changes(
    harness: Harness,
) -> None:
    await admin_tap(harness, "Pending doctors")
    await harness.tap(ADMIN, "Reject")
    assert "Type a short reason" in harness.last(ADMIN)
    await photo(harness, ADMIN)
    assert "Please type the reason as text" in harness.last(ADMIN)
    for bad in (" \n  ", "x" * 501):
        await harness.send(ADMIN, bad)
        assert "The reason must have 1 to 500 characters" in harness.last(ADMIN)
    assert (await doctor_row(harness, DOC2)).status == "pending"
    # Spaces do not count against the limit: the reason is tidied first.
    await harness.send(ADMIN, "Лицензия  " + " " * 600 + "просрочена 🙁\n\n\nनवीनीकरण करें")
    assert "Rejected Dr Ida Pend" in harness.last(ADMIN)
    told = harness.last(DOC2)
    assert "Reason: Лицензия просрочена 🙁\nनवीनीकरण करें" in told
    assert (await doctor_row(harness, DOC2)).status == "rejected"


async def test_a_reason_after_another_admin_decided_changes_nothing(harness: Harness) -> None:
    await admin_tap(harness, "Pending doctors")
    await harness.tap(ADMIN, "Reject")
    await admin_tap(harness, "Pending doctors", ADMIN2)
    await harness.tap(ADMIN2, "✅ Approve")
    await harness.send(ADMIN, "Too late")
    assert harness.last(ADMIN) == "Already decided: approved."
    assert (await doctor_row(harness, DOC2)).status == "approved"


async def test_an_admin_removed_mid_flow_is_stopped(harness: Harness) -> None:
    await admin_tap(harness, "Pending doctors")
    await harness.tap(ADMIN, "Reject")
    restarted = demoted(harness, frozenset({ADMIN2}))
    await restarted.send(ADMIN, "Licence missing")
    assert restarted.last(ADMIN) == UNKNOWN
    assert (await doctor_row(harness, DOC2)).status == "pending"
    await harness.send(ADMIN, "Licence missing")  # the flow ended: nothing to answer
    assert (await doctor_row(harness, DOC2)).status == "pending"


# -- specialties -------------------------------------------------------------------------------


async def test_a_specialty_name_refuses_media_and_blank_text(harness: Harness) -> None:
    await admin_tap(harness, "Specialties")
    await harness.tap(ADMIN, "Add a specialty")
    await photo(harness, ADMIN)
    assert harness.last(ADMIN) == "Please type the name as text."
    await harness.send(ADMIN, "   ")
    assert "1 to 64 characters" in harness.last(ADMIN)
    await harness.send(ADMIN, "  Kinder-  heilkunde ")
    assert "Added “Kinder- heilkunde”." in harness.messenger.texts_to(ADMIN)[-2]


# -- finding a user, ban and unban --------------------------------------------------------------


async def test_find_refuses_media_blank_and_huge_text(harness: Harness) -> None:
    await admin_tap(harness, "Find a patient")
    await photo(harness, ADMIN)
    assert "Please type a phone number or a Telegram id" in harness.last(ADMIN)
    await harness.send(ADMIN, " ")
    assert "Please type a phone number or a Telegram id" in harness.last(ADMIN)
    await harness.send(ADMIN, "4" * 5000)
    assert "neither a phone number" in harness.last(ADMIN)
    await harness.send(ADMIN, "9" * 19)  # fits the id pattern, not a 64-bit id
    assert harness.last(ADMIN) == (
        "Nobody with that phone number or Telegram id. Try another, or /cancel."
    )
    await harness.send(ADMIN, "+49 151 123-456-78")
    assert "Anna Schmidt" in harness.last(ADMIN)
    assert "Registered: Jan 1, 2026" in harness.last(ADMIN)  # as seeded, with its year
    assert labels(harness, ADMIN) == ["Ban", "Reset PIN", "Audit log"]


async def test_find_reads_digits_as_a_telegram_id_or_a_phone_without_its_plus(
    harness: Harness,
) -> None:
    await admin_tap(harness, "Find a patient")
    await harness.send(ADMIN, str(ANNA))
    assert "Anna Schmidt" in harness.last(ADMIN)
    await admin_tap(harness, "Find a patient")
    await harness.send(ADMIN, "49 151 1234 5678")  # as Telegram shows a contact's number
    assert "Anna Schmidt" in harness.last(ADMIN)
    await admin_tap(harness, "Find a patient")
    await harness.send(ADMIN, "4915112345679")
    assert "Nobody with that phone number or Telegram id" in harness.last(ADMIN)


async def test_ban_twice_unban_and_the_banned_user_gets_one_reply(harness: Harness) -> None:
    await admin_tap(harness, "Find a patient")
    await harness.send(ADMIN, str(BEN))
    assert "Ben Okafor" in harness.last(ADMIN) and "Banned: no" in harness.last(ADMIN)
    card, ban = harness.messenger.button_data(ADMIN, "Ban")
    await harness.tap_data(ADMIN, card, ban)
    again = await harness.tap_data(ADMIN2, card, ban)  # a second admin, the same card
    assert harness.answer(again) == "Already banned."
    await harness.send(BEN, "/book")
    assert BANNED in harness.last(BEN)
    sent = len(harness.messenger.texts_to(BEN))
    tap = await harness.tap_data(BEN, 1, "bk:-:again:1")
    assert BANNED in (harness.answer(tap) or "")
    assert len(harness.messenger.texts_to(BEN)) == sent
    await harness.tap(ADMIN, "Unban")
    assert "restored your access" in harness.last(BEN)
    stale = await harness.tap_data(ADMIN, card, ban.replace(":ban:", ":unban:"))
    assert harness.answer(stale) == "This user is not banned."


async def test_an_approved_doctor_is_suspended_before_a_ban(harness: Harness) -> None:
    doctor = await doctor_id_of(harness.storage.sessions, DOC)
    await seed_closed_consultation(harness.storage.sessions, doctor, ANNA, NOW - timedelta(days=1))
    await admin_tap(harness, "Find a patient")
    await harness.send(ADMIN, str(DOC))
    assert "Dr Mira Kaur" in harness.last(ADMIN) and "Appointments: 1" in harness.last(ADMIN)
    card, ban = harness.messenger.button_data(ADMIN, "Ban")
    refused = harness.answer(await harness.tap_data(ADMIN, card, ban)) or ""
    assert "suspended first" in refused and len(refused) <= 200  # Telegram's alert limit
    async with harness.storage.sessions() as session:
        row = await session.get(Doctor, doctor)
        assert row is not None
        user = await session.get(User, row.user_id)
        assert user is not None and user.banned_at is None
        row.status = "suspended"
        await session.commit()
    assert harness.answer(await harness.tap_data(ADMIN, card, ban)) == "Banned."
    # Reinstated while banned, they would be bookable but unable to use the bot.
    await admin_tap(harness, "Doctors: suspend / reinstate")
    listing, reinstate = harness.messenger.button_data(ADMIN, "Reinstate Dr Mira Kaur")
    refused = harness.answer(await harness.tap_data(ADMIN, listing, reinstate)) or ""
    assert "Unban them first" in refused and len(refused) <= 200
    assert (await doctor_row(harness, DOC)).status == "suspended"
    await harness.tap(ADMIN, "Unban")
    assert harness.answer(await harness.tap_data(ADMIN, listing, reinstate)) == "Reinstated."


async def test_nobody_bans_an_admin_and_forged_ids_are_not_valid(harness: Harness) -> None:
    await harness.send(ADMIN2, "/admin")  # ADMIN2's account row
    admin2 = await user_id_of(harness.storage.sessions, ADMIN2)
    await harness.send(ADMIN, "/admin")
    refused = await harness.tap_data(ADMIN, 1, f"ad:-:ban:{admin2}")
    assert harness.answer(refused) == "Admins cannot be banned."
    for data in ("ad:-:ban:99999", "ad:-:audx:99999", "ad:-:pinr:x", "ad:-:audr:1"):
        forged = await harness.tap_data(ADMIN, 1, data)
        assert harness.answer(forged) == NOT_VALID, data


# -- broadcasts --------------------------------------------------------------------------------


async def test_a_broadcast_text_refuses_media_blank_and_too_long_in_telegram_units(
    harness: Harness,
) -> None:
    await admin_tap(harness, "Broadcast")
    await harness.tap(ADMIN, "Patients")
    await photo(harness, ADMIN)
    assert "Only text can be broadcast" in harness.last(ADMIN)
    await harness.send(ADMIN, " \n ")
    assert "The announcement is empty" in harness.last(ADMIN)
    await harness.send(ADMIN, "🎄" * 2049)  # 2,049 characters, 4,098 UTF-16 units
    assert "That is 4098 characters" in harness.last(ADMIN)
    await harness.send(ADMIN, "  <b>Closed</b> Friday  ")
    texts = harness.messenger.texts_to(ADMIN)
    assert texts[-2] == "  &lt;b&gt;Closed&lt;/b&gt; Friday  "  # exactly as typed, literally
    assert "Send this to patients? Recipients: 3." in texts[-1]
    restarted = demoted(harness, frozenset())
    message, send = harness.messenger.button_data(ADMIN, "📣 Send")
    tap = await restarted.tap_data(ADMIN, message, send)
    assert restarted.answer(tap) == NOT_VALID
    async with harness.storage.sessions() as session:
        assert list(await session.scalars(select(Broadcast))) == []


# -- suspending and reinstating ----------------------------------------------------------------


async def test_suspend_twice_and_reinstate_an_active_doctor_change_nothing(
    harness: Harness,
) -> None:
    doctor = await doctor_id_of(harness.storage.sessions, DOC)
    await admin_tap(harness, "Doctors: suspend / reinstate")
    await harness.tap(ADMIN, "Suspend Dr Mira Kaur")
    message, yes = harness.messenger.button_data(ADMIN, "Yes, suspend")
    await harness.tap_data(ADMIN, message, yes)
    assert "suspended your profile" in harness.last(DOC)
    second = await harness.tap_data(ADMIN2, message, yes)
    assert harness.answer(second) == "This doctor is not active, so cannot be suspended."
    await admin_tap(harness, "Doctors: suspend / reinstate")
    await harness.tap(ADMIN, "Reinstate Dr Mira Kaur")
    assert (await doctor_row(harness, DOC)).status == "approved"
    stale = await harness.tap_data(ADMIN, message, f"ad:-:rein:{doctor}")
    assert harness.answer(stale) == "This doctor is not suspended."
    missing = await harness.tap_data(ADMIN, message, "ad:-:susy:99999")
    assert harness.answer(missing) == NOT_VALID
    assert (await doctor_row(harness, DOC)).status == "approved"


# -- statistics, the audit log and erased patients ---------------------------------------------


async def test_statistics_count_banned_patients_but_not_erased_ones(harness: Harness) -> None:
    await change_user(harness, ANNA, registered_at=NOW - timedelta(days=2))
    await change_user(harness, BEN, banned_at=NOW - timedelta(days=1))
    await change_user(harness, CARL, full_name=None, erased_at=NOW - timedelta(hours=1))
    await admin_tap(harness, "Statistics")
    await harness.tap(ADMIN, "7 days")
    report = next(t for t in harness.messenger.texts_to(ADMIN) if "Statistics for the" in t)
    assert "<b>Patients:</b> 1 registered in the period, 2 in all" in report
    assert "1 approved, 1 pending, 0 suspended, 0 rejected" in report


async def test_a_period_without_appointments_gets_no_empty_chart(harness: Harness) -> None:
    await admin_tap(harness, "Statistics")
    await harness.tap(ADMIN, "7 days")
    assert "No chart: no appointments start in this period." in harness.last(ADMIN)
    assert harness.messenger.photos_sent == []


async def test_record_reads_heading_counts_what_is_shown(harness: Harness) -> None:
    await admin_tap(harness, "Audit log")
    await harness.tap(ADMIN, "Recent record reads")
    assert harness.last(ADMIN) == "No record reads have been logged yet."
    await unlocked_session(harness.storage.sessions, DOC, NOW)
    await harness.send(DOC, "/records")
    await harness.tap(ADMIN, "Recent record reads")
    assert "The last 1 record reads" in harness.last(ADMIN)


async def test_a_patients_export_is_listed_with_the_record_reads(harness: Harness) -> None:
    await harness.send(ANNA, "/export")
    assert any(
        chat == ANNA and d.filename.endswith(".json") for chat, d in harness.messenger.documents
    )
    await admin_tap(harness, "Audit log")
    await harness.tap(ADMIN, "Recent record reads")
    assert "privacy.export" in harness.last(ADMIN)


async def test_a_doctor_sees_an_erased_patient_as_erased_not_as_a_question_mark(
    harness: Harness,
) -> None:
    doctor = await doctor_id_of(harness.storage.sessions, DOC)
    await seed_closed_consultation(
        harness.storage.sessions, doctor, ANNA, NOW - timedelta(days=3), summary="Kept summary."
    )
    await seed_closed_consultation(
        harness.storage.sessions, doctor, BEN, NOW - timedelta(days=2), summary="Ben's visit."
    )
    await change_user(harness, ANNA, full_name=None, erased_at=NOW - timedelta(days=1))
    await unlocked_session(harness.storage.sessions, DOC, NOW)
    await harness.send(DOC, "/records")
    assert labels(harness, DOC) == ["Ben Okafor", "(erased patient)"]
    await harness.tap(DOC, "(erased patient)")
    record = "\n".join(harness.messenger.texts_to(DOC))
    assert "Record of (erased patient):" in record and "Kept summary." in record
