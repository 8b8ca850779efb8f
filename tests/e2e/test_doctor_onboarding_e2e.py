"""An admin invites a doctor, who joins, is approved and sets hours: real bot process, emulator."""

from __future__ import annotations

import re

import pytest

from bot.emulator import SimulatedUser
from storage.seeding import seed_patient
from storage.unit_of_work import UnitOfWork
from tests.e2e.conftest import ADMIN_ID, World
from tests.support.chat import pick

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.e2e]

UNKNOWN = "I don't know that command. Send /help to see what you can do."


async def invite_code(admin: SimulatedUser) -> str:
    await admin.send_command("admin")
    await admin.expect("Clinic administration")
    await (await admin.tap("Invite a doctor")).answer()
    message = await admin.expect("valid for 72 hours, usable once")
    match = re.search(r"https://t\.me/clinic_test_bot\?start=inv_([A-Za-z0-9]+)", message.text)
    assert match, message.text
    return match.group(1)


async def test_a_doctor_joins_by_invite_is_approved_and_sets_hours(world: World) -> None:
    admin = world.emulator.user("Admin", user_id=ADMIN_ID)
    code = await invite_code(admin)

    greta = world.emulator.user("Greta", language_code="en")
    await greta.send_command("start", f"inv_{code}")
    await greta.expect("Do you agree")
    await (await greta.tap("✅ I agree")).answer()
    await greta.expect("full name")
    await greta.send_text("Greta Hoffmann 🩺")
    await greta.expect("no digits, emoji or other symbols")
    await greta.send_text("Greta Hoffmann")
    await greta.expect("Which is your specialty?")
    await (await greta.tap("Cardiology")).answer()
    await greta.expect("about yourself")
    await greta.send_text("Cardiologist for 15 years. <i>English</i> & German.")
    await greta.expect("How long is one consultation?")
    await (await greta.tap("30 min")).answer()
    await greta.expect("fee for one consultation")
    await greta.send_text("fifty")
    await greta.expect("could not read that as an amount")
    await greta.send_text("50")
    await greta.expect("time zone")
    await (await greta.tap("Europe/Berlin")).answer()
    summary = await greta.expect("Please check your doctor profile")
    assert "<i>English</i> & German" in summary.text  # shown as typed, not as markup
    await (await greta.tap("✅ Confirm")).answer()
    await greta.expect("waiting for the clinic's review")

    request = await admin.expect("A doctor asks to join")  # sent after the doctor's menu is set
    commands = [c["command"] for c in world.emulator.commands_for(greta.id)]
    assert commands == [
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
    assert "Greta Hoffmann" in request.text and "Cardiology" in request.text
    assert admin.inline_buttons(request.message_id) == ["✅ Approve", "Reject"]
    await (await admin.tap("✅ Approve", request.message_id)).answer()
    await admin.expect_edit(request.message_id, "Approved")
    await greta.expect("approved your profile")

    async with UnitOfWork(world.sessions) as uow:
        user = await uow.users.by_telegram_id(greta.id)
        assert user is not None and user.role == "doctor" and user.timezone == "Europe/Berlin"
        doctor = await uow.doctors.by_user(user.id)
        assert doctor is not None and doctor.status == "approved"
        assert doctor.fee_minor == 5000 and doctor.slot_minutes == 30
        doctor_id = doctor.id
        invite = await uow.invites.by_code(code)
        assert invite is not None and invite.used_by == greta.id

    await greta.send_command("availability")
    await greta.expect("Your availability")
    await (await greta.tap("Weekly hours")).answer()
    await greta.expect("Type your weekly hours")
    await greta.send_text("Mon 09:00-12:00\nFunday 10:00-11:00")
    await greta.expect("Line 2: start the line with a weekday")
    await greta.send_text("Mon 09:00-13:00 14:00-18:00\nWed 10:00-16:00")
    await greta.expect("Saved your weekly hours")
    menu = await greta.expect("Your availability")
    assert "Mon: 09:00–13:00, 14:00–18:00" in menu.text and "Wed: 10:00–16:00" in menu.text
    await (await greta.tap("Done")).answer()
    await greta.expect("availability is saved")
    async with UnitOfWork(world.sessions) as uow:
        hours = [(h.weekday, h.start, h.end) for h in await uow.schedules.hours(doctor_id)]
    assert hours == [(0, "09:00", "13:00"), (0, "14:00", "18:00"), (2, "10:00", "16:00")]

    await greta.send_command("agenda")
    agenda = await greta.expect("no appointments today or in the next 7 days")
    assert greta.inline_buttons(agenda.message_id) == ["Block a time"]

    # The link worked once; a second person opening it is refused and nothing is stored.
    otto = world.emulator.user("Otto")
    await otto.send_command("start", f"inv_{code}")
    await otto.expect("already been used")
    async with UnitOfWork(world.sessions) as uow:
        assert await uow.users.by_telegram_id(otto.id) is None
        assert await uow.conversations.get(otto.id) is None

    # A patient books the new doctor; both are told; the patient moves it, then cancels it.
    pia = world.emulator.user("Pia")
    await seed_patient(world.sessions, pia.id, "Pia Larsen", "Europe/Berlin")
    await book_first_free(pia)
    booked = await greta.expect("New booking: Pia Larsen")
    assert "Pia Larsen" in booked.text
    await pia.send_command("appointments")
    card = await pia.expect("Greta Hoffmann")
    await (await pia.tap("Reschedule", card.message_id)).answer()
    await pia.expect("pick a day")
    await pick(pia, r"^d\d{8}$", index=1)
    await pia.expect("Free times on")
    await pick(pia, r"^t\d+$")
    await pia.expect("Move your appointment")
    await (await pia.tap("✅ Move it")).answer()
    await pia.expect("Moved!")
    await greta.expect("Rescheduled: Pia Larsen moved")
    await pia.send_command("appointments")
    card = await pia.expect("Greta Hoffmann")
    await (await pia.tap("Cancel", card.message_id)).answer()
    await pia.expect_edit(card.message_id, "Cancel this appointment?")
    await (await pia.tap("Yes, cancel it", card.message_id)).answer()
    await greta.expect("Cancelled: Pia Larsen will not come")

    # She books again; the doctor cancels from the agenda; one tap books her again.
    await book_first_free(pia)
    await greta.expect("New booking: Pia Larsen")
    await greta.send_command("agenda")
    agenda = await greta.expect("Your agenda")
    cancel_label = next(
        label for label in greta.inline_buttons(agenda.message_id) if label.startswith("Cancel ")
    )
    await (await greta.tap(cancel_label, agenda.message_id)).answer()
    await greta.expect("Cancel the appointment with Pia Larsen")
    await (await greta.tap("Yes, cancel")).answer()
    notice = await pia.expect("was cancelled by the doctor")
    await (await pia.tap("Book again with Greta Hoffmann", notice.message_id)).answer()
    await pia.expect("pick a day")
    await pick(pia, r"^d\d{8}$")
    await pia.expect("Free times on")
    await pick(pia, r"^t\d+$")
    await pia.expect("reason for your visit")
    await (await pia.tap("Skip")).answer()
    await pia.expect("Please check your booking")
    await (await pia.tap("✅ Book")).answer()
    await pia.expect("Booked!")
    await greta.expect("New booking: Pia Larsen")


async def book_first_free(patient: SimulatedUser) -> None:
    await patient.send_command("book")
    await patient.expect("Which kind of doctor")
    await (await patient.tap("Cardiology")).answer()
    await patient.expect("Choose a doctor")
    label = next(
        b
        for b in patient.inline_buttons(patient.last_message.message_id)  # type: ignore[union-attr]
        if b.startswith("Greta Hoffmann")
    )
    await (await patient.tap(label)).answer()
    await patient.expect("pick a day")
    await pick(patient, r"^d\d{8}$")
    await patient.expect("Free times on")
    await pick(patient, r"^t\d+$")
    await patient.expect("reason for your visit")
    await patient.send_text("Follow-up of my blood pressure")
    await patient.expect("Please check your booking")
    await (await patient.tap("✅ Book")).answer()
    await patient.expect("Booked!")


async def test_admin_is_unknown_to_everyone_else(world: World) -> None:
    stranger = world.emulator.user("Stranger")
    await stranger.send_command("admin")
    message = await stranger.expect()
    assert message.text == UNKNOWN
    garbage = await stranger.send_command("start", "inv_nosuchcode")
    assert garbage
    await stranger.expect("This invite link is not valid")
    tap = await stranger.tap_data("ad:-:inv:0", message.message_id)
    answer = await tap.answer()
    assert answer["text"] == "This button is not valid."
    await stranger.expect_nothing()
