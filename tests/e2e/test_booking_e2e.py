"""Booking through the real bot process and the Bot API emulator, on both frameworks."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar

from bot.emulator import SimulatedUser
from storage.seeding import EVERY_DAY_8_TO_20, seed_doctor, seed_patient
from tests.e2e.conftest import World
from tests.support.chat import buttons, pick, unsigned

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.e2e]

NEW_YORK = ZoneInfo("America/New_York")


async def to_calendar(user: SimulatedUser, specialty: str, doctor_label: str) -> None:
    await user.send_command("book")
    await user.expect("Which kind of doctor")
    await (await user.tap(specialty)).answer()
    await user.expect("Choose a doctor")
    await (await user.tap(doctor_label)).answer()
    await user.expect("pick a day")


async def test_book_reschedule_cancel_with_both_sides_told(world: World) -> None:
    doctor = world.emulator.user("Mira", user_id=700_001)
    await doctor.send_command("help")  # the doctor's chat exists, as after onboarding
    await doctor.expect("/start")
    await seed_doctor(
        world.sessions,
        doctor.id,
        "Dr Mira Kaur",
        "Cardiology",
        "Europe/Berlin",
        hours=EVERY_DAY_8_TO_20,
    )
    anna = world.emulator.user("Anna", user_id=700_002)
    await seed_patient(world.sessions, anna.id, "Anna Schmidt", "Europe/Berlin")

    await to_calendar(anna, "Cardiology", "Dr Mira Kaur · Cardiology · €50.00")
    await pick(anna, r"^d\d{8}$", index=1)
    await anna.expect("Free times on")
    time_label = await pick(anna, r"^t\d+$")
    await anna.expect("reason for your visit")
    await anna.send_text("Palpitations at night ❤️")
    summary = await anna.expect("Please check your booking")
    assert "Palpitations at night ❤️" in summary.text and time_label in summary.text
    await (await anna.tap("✅ Book")).answer()
    await anna.expect("Booked!")
    ics = await anna.expect_document()
    calendar = Calendar.from_ical(world.emulator.file_bytes(ics["document"]["file_id"]))
    (event,) = calendar.walk("VEVENT")
    assert "Dr Mira Kaur" in str(event["summary"])
    assert "Palpitations" not in calendar.to_ical().decode()
    notice = await doctor.expect("New booking: Anna Schmidt")
    assert "Palpitations" not in notice.text  # lock screens show no medical detail
    assert time_label in notice.text

    await anna.send_command("appointments")
    await anna.expect("Your upcoming appointments")
    card = await anna.expect("Dr Mira Kaur")
    await (await anna.tap("Reschedule", card.message_id)).answer()
    await anna.expect("pick a day")
    await pick(anna, r"^d\d{8}$", index=2)
    await anna.expect("Free times on")
    await pick(anna, r"^t\d+$", index=1)
    await anna.expect("Move your appointment")
    await (await anna.tap("✅ Move it")).answer()
    await anna.expect("Moved!")
    await doctor.expect("Rescheduled: Anna Schmidt moved")

    await anna.send_command("appointments")
    card = await anna.expect("Dr Mira Kaur")
    await (await anna.tap("Cancel", card.message_id)).answer()
    await anna.expect_edit(card.message_id, "Cancel this appointment?")
    await (await anna.tap("Yes, cancel it", card.message_id)).answer()
    await anna.expect_edit(card.message_id, "Cancelled")
    await doctor.expect("Cancelled: Anna Schmidt will not come")
    await anna.send_command("appointments")
    await anna.expect("no upcoming appointments")


def new_york_offset(day: date) -> timedelta | None:
    return datetime(day.year, day.month, day.day, 12, tzinfo=NEW_YORK).utcoffset()


def next_us_dst_change(today: date) -> date:
    day = today
    while new_york_offset(day) == new_york_offset(today):
        day += timedelta(days=1)
    return day


async def test_kolkata_doctor_and_new_york_patient_across_the_us_clock_change(
    world: World,
) -> None:
    doctor = world.emulator.user("Arjun", user_id=700_003)
    await doctor.send_command("help")
    await doctor.expect("/start")
    await seed_doctor(
        world.sessions,
        doctor.id,
        "Dr Arjun Rao",
        "Neurology",
        "Asia/Kolkata",
        hours=EVERY_DAY_8_TO_20.replace("08:00-20:00", "19:00-20:00"),
        slot_minutes=60,
        horizon_days=250,
    )
    ben = world.emulator.user("Ben", user_id=700_004)
    await seed_patient(world.sessions, ben.id, "Ben Miller", "America/New_York")

    change = next_us_dst_change(datetime.now(UTC).date() + timedelta(days=1))
    before, after = change - timedelta(days=2), change + timedelta(days=2)
    utc_offset_before = new_york_offset(before)
    expected = {}
    for day in (before, after):
        local = datetime(day.year, day.month, day.day, 19, tzinfo=ZoneInfo("Asia/Kolkata"))
        expected[day] = local.astimezone(NEW_YORK)
    assert expected[before].utcoffset() == utc_offset_before

    for day in (before, after):
        await to_calendar(ben, "Neurology", "Dr Arjun Rao · Neurology · €50.00")
        while not any(
            unsigned(data).endswith(f"d{day:%Y%m%d}") for _, _, data in buttons(ben, r"^[dm]\d+$")
        ):
            await pick(ben, r"^m\d{6}$", index=-1)  # the "next month" arrow
            await ben.expect("pick a day")
        await pick(ben, rf"^d{day:%Y%m%d}$")
        await ben.expect(f"Free times on {day:%d.%m.%Y}")
        labels = [label for _, label, _ in buttons(ben, r"^t\d+$")]
        assert labels == [expected[day].strftime("%H:%M")], (day, labels)
        await ben.send_command("cancel")
        await ben.expect("Nothing was booked")
    # The same 19:00 in Kolkata is an hour later on New York clocks after the change.
    assert expected[after].hour - expected[before].hour in (1, -1)
