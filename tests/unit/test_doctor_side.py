"""The doctor and admin side through the core: invites, onboarding, decisions, hours, agenda.

Runs the real dispatcher over a recording fake of the port and a real SQLite database.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import pytest

from clinic.slots import Interval
from handlers.port import InlineKeyboard
from handlers.scheduling import free_slots_for
from storage.models import Appointment, Doctor
from storage.unit_of_work import UnitOfWork
from tests.conftest import Storage
from tests.support.harness import Clock, Harness, make_harness

pytestmark = pytest.mark.parametrize("db_kind", ["sqlite", "postgresql"], indirect=True)

START = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)  # Thursday; 05:00 in New York
ADMIN, ADMIN2 = 900, 901
DOC, DOC2 = 601, 602
ANNA = 501
NY = "America/New_York"


class DoctorSideHarness(Harness):
    """The shared harness plus the doctor and admin side's own steps."""

    def texts(self, user: int) -> list[str]:
        return self.messenger.texts_to(user)

    def labels(self, user: int) -> list[str]:
        markup = self.messenger.last_to(user).markup
        assert isinstance(markup, InlineKeyboard)
        return [b.text for row in markup.rows for b in row]

    async def invite(self) -> str:
        await self.send(ADMIN, "/admin")
        await self.tap(ADMIN, "Invite a doctor")
        match = re.search(
            r"https://t\.me/clinic_test_bot\?start=inv_([A-Za-z0-9]+)", self.last(ADMIN)
        )
        assert match, self.last(ADMIN)
        return match.group(1)

    async def onboard(
        self, user: int, name: str = "Greta Hoffmann", zone: str = NY, confirm: bool = True
    ) -> str:
        code = await self.invite()
        await self.send(user, f"/start inv_{code}")
        await self.tap(user, "✅ I agree")
        await self.send(user, name)
        await self.tap(user, "Cardiology")
        await self.send(user, "Cardiologist, 15 years. English and German.")
        await self.tap(user, "30 min")
        await self.send(user, "50")
        await self.send(user, zone)
        if confirm:
            await self.tap(user, "✅ Confirm")
        return code

    async def register_patient(self, user: int = ANNA) -> None:
        await self.send(user, "/start")
        await self.tap(user, "✅ I agree")
        await self.send(user, "Anna Schmidt")
        await self.send(user, "17.05.1990")
        await self.send(user, "+4915112345678")
        await self.tap(user, "Europe/Berlin")
        await self.tap(user, "✅ Confirm")

    async def doctor(self, user: int) -> Doctor:
        async with UnitOfWork(self.storage.sessions) as uow:
            account = await uow.users.by_telegram_id(user)
            assert account is not None
            doctor = await uow.doctors.by_user(account.id)
            assert doctor is not None
            await uow.commit()  # nothing to write; keeps the loaded row readable afterwards
            return doctor

    async def set_status(self, user: int, status: str) -> int:
        async with UnitOfWork(self.storage.sessions) as uow:
            account = await uow.users.by_telegram_id(user)
            assert account is not None
            doctor = await uow.doctors.by_user(account.id)
            assert doctor is not None
            doctor.status = status
            await uow.commit()
            return doctor.id

    async def book(
        self,
        doctor_user: int,
        start: datetime,
        reason: str = "Chest pain",
        patient: int = ANNA,
        status: str = "booked",
        hold_expires_at: datetime | None = None,
    ) -> int:
        async with UnitOfWork(self.storage.sessions) as uow:
            account = await uow.users.by_telegram_id(doctor_user)
            patient_row = await uow.users.by_telegram_id(patient)
            assert account is not None and patient_row is not None
            doctor = await uow.doctors.by_user(account.id)
            assert doctor is not None
            appointment = Appointment(
                doctor_id=doctor.id,
                patient_id=patient_row.id,
                starts_at=start,
                ends_at=start + timedelta(minutes=doctor.slot_minutes),
                status=status,
                hold_expires_at=hold_expires_at,
                reason=reason,
                created_at=self.clock.now,
                updated_at=self.clock.now,
                late_cancellation=False,
            )
            uow.appointments.add(appointment)
            await uow.commit()
            return appointment.id

    async def appointment(self, appointment_id: int) -> Appointment:
        async with UnitOfWork(self.storage.sessions) as uow:
            found = await uow.appointments.get(appointment_id)
            assert found is not None
            await uow.commit()
            return found


@pytest.fixture
def harness(storage: Storage) -> DoctorSideHarness:
    shared = make_harness(storage, admin_ids=frozenset({ADMIN, ADMIN2}), clock=Clock(START))
    return DoctorSideHarness(**vars(shared))


# -- invites -----------------------------------------------------------------------------------


async def test_an_admin_creates_an_invite_and_gets_the_link(harness: DoctorSideHarness) -> None:
    code = await harness.invite()
    assert "valid for 72 hours, usable once" in harness.last(ADMIN)
    async with UnitOfWork(harness.storage.sessions) as uow:
        invite = await uow.invites.by_code(code)
        assert invite is not None and invite.created_by == ADMIN
        assert invite.expires_at == START + timedelta(hours=72) and invite.used_at is None


async def test_others_do_not_have_admin(harness: DoctorSideHarness) -> None:
    await harness.register_patient()
    await harness.send(ANNA, "/admin")
    assert harness.last(ANNA) == ("I don't know that command. Send /help to see what you can do.")
    await harness.send(777, "/admin")
    assert "register first" not in harness.last(777)
    assert harness.last(777) == "I don't know that command. Send /help to see what you can do."


async def test_garbage_expired_and_used_invites_are_refused(harness: DoctorSideHarness) -> None:
    await harness.send(DOC, "/start inv_doesnotexist")
    assert "not valid" in harness.last(DOC)
    await harness.send(DOC, "/start inv_<b>!")
    assert "not valid" in harness.last(DOC)

    code = await harness.invite()
    harness.clock.now = START + timedelta(hours=72, minutes=1)
    await harness.send(DOC, f"/start inv_{code}")
    assert "expired" in harness.last(DOC)
    async with UnitOfWork(harness.storage.sessions) as uow:
        assert await uow.users.by_telegram_id(DOC) is None
        assert await uow.conversations.get(DOC) is None

    harness.clock.now = START
    used = await harness.onboard(DOC)
    await harness.send(DOC2, f"/start inv_{used}")
    assert "already been used" in harness.last(DOC2)
    async with UnitOfWork(harness.storage.sessions) as uow:
        assert await uow.users.by_telegram_id(DOC2) is None
        assert await uow.conversations.get(DOC2) is None


async def test_a_registered_user_cannot_use_an_invite(harness: DoctorSideHarness) -> None:
    await harness.register_patient()
    code = await harness.invite()
    await harness.send(ANNA, f"/start inv_{code}")
    assert "already have an account" in harness.last(ANNA)
    async with UnitOfWork(harness.storage.sessions) as uow:
        invite = await uow.invites.by_code(code)
        assert invite is not None and invite.used_at is None
        assert await uow.conversations.get(ANNA) is None


# -- onboarding --------------------------------------------------------------------------------


async def test_doctor_onboarding_through_every_step_with_bad_input(
    harness: DoctorSideHarness,
) -> None:
    code = await harness.invite()
    await harness.send(DOC, f"/start inv_{code}")
    assert "Do you agree" in harness.last(DOC)
    await harness.send(DOC, "hello")
    assert "I agree" in harness.last(DOC)
    await harness.tap(DOC, "✅ I agree")
    await harness.send(DOC, "Greta 😀")
    assert "no digits, emoji" in harness.last(DOC)
    await harness.send(DOC, "x" * 5000)
    assert "100 characters" in harness.last(DOC)
    await harness.send(DOC, "Grete Hoffmann")
    assert "specialty" in harness.last(DOC)
    labels = harness.labels(DOC)
    assert len(labels) == 8 and "More ▶" not in labels  # the eight seeded ones fit one page
    await harness.send(DOC, "Cardiology")  # typed instead of tapped
    assert "buttons" in harness.last(DOC)
    await harness.tap(DOC, "Cardiology")
    assert "about yourself" in harness.last(DOC)
    await harness.send(DOC, "b" * 5000)
    assert "5000 characters; the limit is 500" in harness.last(DOC)
    await harness.dispatcher.handle(harness.events.photo(DOC))
    assert "text only" in harness.last(DOC)
    await harness.send(DOC, "Heart doctor <b>bold</b> & kind")
    await harness.tap(DOC, "30 min")
    assert "fee" in harness.last(DOC)
    for bad in ("fifty", "-5", "12.345", "1e9"):
        await harness.send(DOC, bad)
        assert "could not read that as an amount" in harness.last(DOC)
    await harness.send(DOC, "49,90")
    assert "time zone" in harness.last(DOC)
    await harness.send(DOC, "Mars/Olympus")
    assert "don't know that time zone" in harness.last(DOC)
    async with UnitOfWork(harness.storage.sessions) as uow:
        conv = await uow.conversations.get(DOC)
        assert conv is not None and conv.flow == "do" and conv.step == "tz"
        assert conv.data["name"] == "Grete Hoffmann" and conv.data["fee"] == 4990
        assert conv.data["bio"] == "Heart doctor <b>bold</b> & kind"
    await harness.tap(DOC, NY)
    summary = harness.last(DOC)
    assert "Please check your doctor profile" in summary
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; kind" in summary and "<b>bold" not in summary
    assert "€49.90" in summary and NY in summary and "30 min" in summary
    await harness.tap(DOC, "Edit name")
    await harness.send(DOC, "Greta Hoffmann")
    assert "Greta Hoffmann" in harness.last(DOC) and "Please check" in harness.last(DOC)
    await harness.tap(DOC, "Edit fee")
    await harness.send(DOC, "0")
    assert "<b>Fee:</b> free" in harness.last(DOC)
    await harness.tap(DOC, "✅ Confirm")
    assert "waiting for the clinic's review" in harness.last(DOC)

    async with UnitOfWork(harness.storage.sessions) as uow:
        user = await uow.users.by_telegram_id(DOC)
        assert user is not None and user.role == "doctor" and user.timezone == NY
        assert user.full_name == "Greta Hoffmann" and user.consent_at == START
        doctor = await uow.doctors.by_user(user.id)
        assert doctor is not None
        assert (doctor.status, doctor.slot_minutes, doctor.fee_minor) == ("pending", 30, 0)
        assert (doctor.buffer_minutes, doctor.min_notice_minutes, doctor.horizon_days) == (
            0,
            120,
            30,
        )
        assert doctor.specialty.name == "Cardiology"
        invite = await uow.invites.by_code(code)
        assert invite is not None and invite.used_by == DOC and invite.used_at == START
        assert await uow.conversations.get(DOC) is None
        await uow.commit()
    assert [c.command for c in harness.messenger.commands[DOC]] == [
        "start",
        "agenda",
        "end",
        "availability",
        "records",
        "pin",
        "lock",
        "settings",
        "help",
        "cancel",
    ]
    for admin in (ADMIN, ADMIN2):
        request = harness.messenger.last_to(admin)
        assert "A doctor asks to join" in request.text and "Greta Hoffmann" in request.text
        assert "&lt;b&gt;bold" in request.text
        assert isinstance(request.markup, InlineKeyboard)
        assert [b.text for row in request.markup.rows for b in row] == ["✅ Approve", "Reject"]
        assert request.markup.rows[0][0].callback_data == f"ad:-:ok:{doctor.id}"
    # Patients never see a pending doctor:
    async with UnitOfWork(harness.storage.sessions) as uow:
        assert list(await uow.doctors.approved_in(doctor.specialty_id)) == []


async def test_cancel_during_onboarding_stores_nothing(harness: DoctorSideHarness) -> None:
    code = await harness.invite()
    await harness.send(DOC, f"/start inv_{code}")
    await harness.tap(DOC, "✅ I agree")
    await harness.send(DOC, "Greta Hoffmann")
    await harness.send(DOC, "/start")  # resumes, does not drop the onboarding
    assert "specialty" in harness.last(DOC)
    await harness.send(DOC, "/cancel")
    assert "Nothing you entered was kept" in harness.last(DOC)
    async with UnitOfWork(harness.storage.sessions) as uow:
        assert await uow.users.by_telegram_id(DOC) is None
        assert await uow.conversations.get(DOC) is None
        invite = await uow.invites.by_code(code)
        assert invite is not None and invite.used_at is None


async def test_specialties_page_when_there_are_more_than_eight(harness: DoctorSideHarness) -> None:
    await harness.send(ADMIN, "/admin")
    await harness.tap(ADMIN, "Specialties")
    assert "Cardiology" in harness.last(ADMIN)
    await harness.tap(ADMIN, "Add a specialty")
    for bad, reason in [
        ("Sleep 😴", "letters (any alphabet), spaces, hyphens"),
        ("<b>Sleep</b>", "letters (any alphabet), spaces, hyphens"),
        ("x" * 65, "1 to 64 characters"),
        ("cardiology", "already on the list"),
    ]:
        await harness.send(ADMIN, bad)
        assert reason in harness.last(ADMIN)
    await harness.send(ADMIN, "Obstetrics & Gynaecology")
    assert "Added “Obstetrics &amp; Gynaecology”." in harness.texts(ADMIN)[-2]  # escaped
    await harness.tap(ADMIN, "Add a specialty")
    await harness.send(ADMIN, "Медицина сна")
    texts = harness.texts(ADMIN)
    assert "Added “Медицина сна”." in texts[-2]
    assert "Медицина сна" in texts[-1] and "Add a specialty" in harness.labels(ADMIN)

    code = await harness.invite()
    await harness.send(DOC, f"/start inv_{code}")
    await harness.tap(DOC, "✅ I agree")
    await harness.send(DOC, "Greta Hoffmann")
    assert "More ▶" in harness.labels(DOC)
    await harness.tap(DOC, "More ▶")
    assert "◀ Previous" in harness.labels(DOC)
    await harness.tap(DOC, "Медицина сна")
    async with UnitOfWork(harness.storage.sessions) as uow:
        conv = await uow.conversations.get(DOC)
        assert conv is not None and conv.step == "bio" and conv.data["spec_name"] == "Медицина сна"


# -- decisions ---------------------------------------------------------------------------------


async def test_approve_then_a_second_admin_and_a_forger_change_nothing(
    harness: DoctorSideHarness,
) -> None:
    await harness.onboard(DOC)
    doctor_id = (await harness.doctor(DOC)).id
    await harness.tap(ADMIN, "✅ Approve")
    assert "✅ Approved." in harness.last(ADMIN)  # the request message was edited
    assert "approved your profile" in harness.last(DOC) and "/availability" in harness.last(DOC)
    doctor = await harness.doctor(DOC)
    assert doctor.status == "approved" and doctor.decided_at == START

    late = await harness.tap(ADMIN2, "Reject")
    assert harness.answer(late) == "Already decided: approved."
    assert (await harness.doctor(DOC)).status == "approved"

    await harness.register_patient()
    forged = await harness.tap_data(ANNA, 1, f"ad:-:no:{doctor_id}")
    assert harness.answer(forged) == "This button is not valid."
    forged = await harness.tap_data(ANNA, 1, "ad:-:inv:0")
    assert harness.answer(forged) == "This button is not valid."
    missing = await harness.tap_data(ADMIN, 1, "ad:-:ok:99999")
    assert harness.answer(missing) == "This button is not valid."
    assert (await harness.doctor(DOC)).status == "approved"
    async with UnitOfWork(harness.storage.sessions) as uow:
        assert len(list(await uow.doctors.approved_in(doctor.specialty_id))) == 1


async def test_reject_from_the_pending_list(harness: DoctorSideHarness) -> None:
    await harness.onboard(DOC)
    await harness.send(ADMIN2, "/admin")
    await harness.tap(ADMIN2, "Pending doctors")
    assert "Greta Hoffmann" in harness.last(ADMIN2) and "€50.00" in harness.last(ADMIN2)
    await harness.tap(ADMIN2, "Reject")
    assert "Type a short reason" in harness.last(ADMIN2)
    assert (await harness.doctor(DOC)).status == "pending"  # nothing decided before the reason
    await harness.send(ADMIN2, "Licence <number> missing")
    assert "Rejected Greta Hoffmann" in harness.last(ADMIN2)
    assert "did not approve" in harness.last(DOC)
    assert "Reason: Licence &lt;number&gt; missing" in harness.last(DOC)
    doctor = await harness.doctor(DOC)
    assert doctor.status == "rejected"
    again = await harness.tap(ADMIN, "✅ Approve")
    assert harness.answer(again) == "Already decided: rejected."
    assert (await harness.doctor(DOC)).status == "rejected"
    await harness.send(ADMIN, "/admin")
    await harness.tap(ADMIN, "Pending doctors")
    assert "No doctors are waiting" in harness.last(ADMIN)
    await harness.send(DOC, "/availability")
    assert "not active" in harness.last(DOC)


# -- availability ------------------------------------------------------------------------------


async def test_weekly_hours_are_saved_and_bad_lines_named(harness: DoctorSideHarness) -> None:
    await harness.onboard(DOC)
    await harness.send(DOC, "/availability")
    assert "No working hours yet" in harness.last(DOC)
    assert "once the clinic approves" in harness.last(DOC)  # still pending
    assert "<b>Minimum notice:</b> 2 h\n" in harness.last(DOC)
    await harness.tap(DOC, "Weekly hours")
    for text, reason in [
        ("Mon 09:00-13:00\nFunday 10:00-12:00", "Line 2: start the line with a weekday"),
        ("Mon 13:00-09:00", "Line 1: a range must end after it starts"),
        ("Mon 09:00-13:00 12:00-14:00", "ranges on one day must not overlap"),
        ("Tue 9-5", "Line 1: write ranges as 09:00-13:00"),
        ("Wed 08:00-25:00", "between 00:00 and 24:00"),
    ]:
        await harness.send(DOC, text)
        assert reason in harness.last(DOC)
    await harness.send(DOC, "Mon 09:00-13:00 14:00-18:00\nfri 10:00-12:00 20:00-24:00")
    assert "Mon: 09:00–13:00, 14:00–18:00" in harness.last(DOC)
    assert "Fri: 10:00–12:00, 20:00–24:00" in harness.last(DOC)
    doctor = await harness.doctor(DOC)
    async with UnitOfWork(harness.storage.sessions) as uow:
        hours = [(h.weekday, h.start, h.end) for h in await uow.schedules.hours(doctor.id)]
    assert hours == [
        (0, "09:00", "13:00"),
        (0, "14:00", "18:00"),
        (4, "10:00", "12:00"),
        (4, "20:00", "24:00"),
    ]
    await harness.tap(DOC, "Consultation length")
    await harness.tap(DOC, "45 min")
    await harness.tap(DOC, "Buffer")
    await harness.tap(DOC, "10 min")
    await harness.tap(DOC, "Minimum notice")
    await harness.tap(DOC, "24 h")
    await harness.tap(DOC, "Booking horizon")
    await harness.tap(DOC, "90 days")
    doctor = await harness.doctor(DOC)
    assert (doctor.slot_minutes, doctor.buffer_minutes) == (45, 10)
    assert (doctor.min_notice_minutes, doctor.horizon_days) == (24 * 60, 90)
    forged = await harness.tap_data(DOC, 1, "av:zzzzzzzz:menu:done")
    assert harness.answer(forged) == "This button is no longer active."
    await harness.tap(DOC, "Done")
    assert "availability is saved" in harness.last(DOC)
    async with UnitOfWork(harness.storage.sessions) as uow:
        row = await uow.doctors.get(doctor.id)
        assert row is not None
        row.min_notice_minutes = 30  # as seeded (the menu sets whole hours)
        await uow.commit()
    await harness.send(DOC, "/availability")
    assert "<b>Minimum notice:</b> 30 min\n" in harness.last(DOC)


async def test_days_off_past_reversed_and_removed(harness: DoctorSideHarness) -> None:
    await harness.onboard(DOC)
    await harness.send(DOC, "/availability")
    await harness.tap(DOC, "Days off")
    for text, reason in [
        ("01.12.2026", "in the past"),
        ("10.12.2026-05.12.2026", "ends before it starts"),
        ("31.02.2027", "could not read"),
        ("soon", "could not read"),
    ]:
        await harness.send(DOC, text)
        assert reason in harness.last(DOC)
    await harness.send(DOC, "24.12.2026-02.01.2027")
    await harness.send(DOC, "03.12.2026")  # today in New York is fine
    assert "24.12.2026–02.01.2027" in harness.last(DOC)
    doctor = await harness.doctor(DOC)
    async with UnitOfWork(harness.storage.sessions) as uow:
        days = [(d.first_day, d.last_day) for d in await uow.schedules.days_off(doctor.id)]
    assert days == [
        (date(2026, 12, 3), date(2026, 12, 3)),
        (date(2026, 12, 24), date(2027, 1, 2)),
    ]
    await harness.tap(DOC, "Remove 03.12.2026")
    async with UnitOfWork(harness.storage.sessions) as uow:
        remaining = [(d.first_day, d.last_day) for d in await uow.schedules.days_off(doctor.id)]
    assert remaining == [(date(2026, 12, 24), date(2027, 1, 2))]
    await harness.tap(DOC, "Back")
    assert "<b>Days off:</b> 24.12.2026–02.01.2027" in harness.last(DOC)


async def test_an_appointment_outside_new_hours_is_offered_keep_or_cancel(
    harness: DoctorSideHarness,
) -> None:
    await harness.onboard(DOC)
    await harness.tap(ADMIN, "✅ Approve")
    await harness.register_patient()
    await harness.send(DOC, "/availability")
    await harness.tap(DOC, "Weekly hours")
    await harness.send(DOC, "Fri 09:00-17:00\nMon 09:00-17:00")
    # Friday Dec 4, 15:00 in New York (20:00 UTC), and Monday Dec 7, 10:00 New York.
    late = await harness.book(DOC, datetime(2026, 12, 4, 20, 0, tzinfo=UTC))
    monday = await harness.book(DOC, datetime(2026, 12, 7, 15, 0, tzinfo=UTC))
    await harness.tap(DOC, "Weekly hours")
    await harness.send(DOC, "Fri 09:00-12:00\nMon 09:00-17:00")
    flagged = [t for t in harness.texts(DOC) if "now outside your hours" in t]
    assert len(flagged) == 1 and "Fri, Dec 4, 2026, 15:00" in flagged[0]
    assert "Anna Schmidt" in flagged[0] and "Chest pain" not in flagged[0]
    await harness.tap(DOC, "Keep it")
    assert (await harness.appointment(late)).status == "booked"

    await harness.tap(DOC, "Days off")
    await harness.send(DOC, "07.12.2026")
    flagged = [t for t in harness.texts(DOC) if "now outside your hours" in t]
    # The kept message now reads "Kept"; Friday is listed again (still outside), Monday is new.
    assert len(flagged) == 2
    assert "Fri, Dec 4, 2026, 15:00" in flagged[0] and "Mon, Dec 7, 2026, 10:00" in flagged[1]
    await harness.tap(DOC, "Cancel it")
    cancelled = await harness.appointment(monday)
    assert cancelled.status == "cancelled" and cancelled.cancelled_by == "doctor"
    assert "cancelled by the doctor" in harness.last(ANNA)


# -- agenda ------------------------------------------------------------------------------------


async def test_agenda_shows_today_and_seven_days_in_the_doctors_zone(
    harness: DoctorSideHarness,
) -> None:
    await harness.onboard(DOC)
    await harness.tap(ADMIN, "✅ Approve")
    await harness.register_patient()
    await harness.send(DOC, "/agenda")
    assert "no appointments today or in the next 7 days" in harness.last(DOC)
    # Thu Dec 3, 23:30 New York is already Friday in UTC: it belongs to Thursday here.
    await harness.book(DOC, datetime(2026, 12, 4, 4, 30, tzinfo=UTC), reason="<script>x</script>")
    await harness.book(DOC, datetime(2026, 12, 10, 15, 0, tzinfo=UTC))  # Thu Dec 10, 10:00
    await harness.book(DOC, datetime(2026, 12, 11, 15, 0, tzinfo=UTC))  # day 9: not shown
    # Earlier today, already seen: named as completed. A hold that ran out unpaid is left out.
    await harness.book(DOC, datetime(2026, 12, 3, 8, 0, tzinfo=UTC), "Rash", status="completed")
    await harness.book(DOC, datetime(2026, 12, 9, 15, 0, tzinfo=UTC), "Cough", status="expired")
    # Held for payment: shown as such while the hold lasts, left out once it ran out (even
    # before the expiry job has marked it).
    held, ran_out = datetime(2026, 12, 8, 15, 0, tzinfo=UTC), START - timedelta(minutes=1)
    await harness.book(DOC, held, "Fever", status="held", hold_expires_at=START + timedelta(1))
    later = held + timedelta(hours=1)
    await harness.book(DOC, later, "Cough", status="held", hold_expires_at=ran_out)
    await harness.send(DOC, "/agenda")
    agenda = harness.last(DOC)
    assert "America/New_York" in agenda
    for day in ("Thu, Dec 3", "Fri, Dec 4", "Wed, Dec 9", "Thu, Dec 10"):
        assert f"<b>{day}</b>" in agenda
    assert "Fri, Dec 11" not in agenda
    thursday = agenda.split("<b>Thu, Dec 3</b>")[1].split("<b>Fri, Dec 4</b>")[0]
    assert "23:30 — Anna Schmidt — &lt;script&gt;x&lt;/script&gt;" in thursday
    assert "<script>" not in agenda
    assert "10:00 — Anna Schmidt — Chest pain" in agenda
    assert "03:00 — Anna Schmidt — Rash (completed)" in thursday
    assert "Cough" not in agenda
    assert "10:00 — Anna Schmidt — Fever (awaiting payment)" in agenda
    assert agenda.count("Anna Schmidt") == 4
    labels = harness.labels(DOC)
    assert labels == ["Cancel 23:30 Thu", "Cancel 10:00 Thu", "Block a time"]


async def test_doctor_cancels_and_the_patient_can_book_again(harness: DoctorSideHarness) -> None:
    await harness.onboard(DOC)
    await harness.tap(ADMIN, "✅ Approve")
    await harness.register_patient()
    appointment_id = await harness.book(DOC, datetime(2026, 12, 4, 15, 0, tzinfo=UTC))
    await harness.send(DOC, "/agenda")
    await harness.tap(DOC, "Cancel 10:00 Fri")
    assert "Cancel the appointment with Anna Schmidt" in harness.last(DOC)
    assert (await harness.appointment(appointment_id)).status == "booked"
    await harness.tap(DOC, "Yes, cancel")
    assert "Cancelled:" in harness.last(DOC)
    appointment = await harness.appointment(appointment_id)
    assert appointment.status == "cancelled" and appointment.cancelled_by == "doctor"
    assert not appointment.late_cancellation
    notice = harness.messenger.last_to(ANNA)
    assert "Greta Hoffmann" in notice.text and "Fri, Dec 4, 2026, 16:00" in notice.text  # Berlin
    assert "Chest pain" not in notice.text and "Cardiology" not in notice.text
    assert isinstance(notice.markup, InlineKeyboard)
    button = notice.markup.rows[0][0]
    doctor = await harness.doctor(DOC)
    assert button.text == "Book again with Greta Hoffmann"
    assert button.callback_data == f"bk:-:again:{doctor.id}"
    again = await harness.tap_data(DOC, 1, f"ag:-:cy:{appointment_id}")
    assert harness.answer(again) == "This appointment can no longer be changed."


async def test_a_doctor_cannot_touch_another_doctors_appointment(
    harness: DoctorSideHarness,
) -> None:
    await harness.onboard(DOC)
    await harness.onboard(DOC2, name="Otto Weber")
    await harness.register_patient()
    appointment_id = await harness.book(DOC, datetime(2026, 12, 4, 15, 0, tzinfo=UTC))
    past_id = await harness.book(DOC, datetime(2026, 12, 2, 15, 0, tzinfo=UTC))
    for verb in ("cx", "cy", "keep"):
        forged = await harness.tap_data(DOC2, 1, f"ag:-:{verb}:{appointment_id}")
        assert harness.answer(forged) == "This button is not valid."
    by_patient = await harness.tap_data(ANNA, 1, f"ag:-:cy:{appointment_id}")
    assert harness.answer(by_patient) == "This button is not valid."
    assert (await harness.appointment(appointment_id)).status == "booked"
    past = await harness.tap_data(DOC, 1, f"ag:-:cy:{past_id}")
    assert harness.answer(past) == "This appointment can no longer be changed."
    assert (await harness.appointment(past_id)).status == "booked"
    assert not any("cancelled" in t for t in harness.texts(ANNA))


async def test_blocking_a_slot_removes_it_from_free_slots(harness: DoctorSideHarness) -> None:
    await harness.onboard(DOC)
    await harness.tap(ADMIN, "✅ Approve")
    await harness.send(DOC, "/availability")
    await harness.tap(DOC, "Weekly hours")
    await harness.send(DOC, "Fri 09:00-11:00")
    await harness.tap(DOC, "Done")
    doctor = await harness.doctor(DOC)
    friday = Interval(
        datetime(2026, 12, 4, 5, 0, tzinfo=UTC), datetime(2026, 12, 5, 5, 0, tzinfo=UTC)
    )
    async with UnitOfWork(harness.storage.sessions) as uow:
        before = [s.start for s in await free_slots_for(uow, doctor, START, friday)]
    nine_thirty = datetime(2026, 12, 4, 14, 30, tzinfo=UTC)  # 09:30 New York
    assert nine_thirty in before and len(before) == 4

    await harness.send(DOC, "/agenda")
    await harness.tap(DOC, "Block a time")
    await harness.tap(DOC, "Thu, Dec 3")
    assert "no free times on Thu, Dec 3" in harness.texts(DOC)[-2]
    await harness.tap(DOC, "Fri, Dec 4")
    assert harness.labels(DOC) == ["09:00", "09:30", "10:00", "10:30", "Other day"]
    await harness.tap(DOC, "09:30")
    assert "is blocked" in harness.last(DOC)
    async with UnitOfWork(harness.storage.sessions) as uow:
        after = [s.start for s in await free_slots_for(uow, doctor, START, friday)]
        blocks = [
            (b.starts_at, b.ends_at)
            for b in await uow.schedules.blocks_between(doctor.id, friday.start, friday.end)
        ]
    assert nine_thirty not in after and len(after) == 3
    assert blocks == [(nine_thirty, nine_thirty + timedelta(minutes=30))]
    await harness.send(DOC, "/agenda")
    assert "09:30 — blocked" in harness.last(DOC)
