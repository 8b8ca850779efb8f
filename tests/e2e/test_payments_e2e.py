"""Paying for a consultation with Telegram Stars, through the real bot process and the emulator.

The module's bot runs with PAYMENT_CURRENCY=XTR (tests/e2e/test_payments_card_e2e.py runs one
with a card provider token). The hold's expiry job on the clock is covered in
tests/unit/test_payments.py; here the test moves a hold's end into the past itself.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from bot.emulator import SimulatedUser
from bot.emulator.state import StoredMessage
from storage.models import Appointment, Doctor, Payment, User
from storage.seeding import EVERY_DAY_8_TO_20, seed_doctor, seed_patient
from tests.e2e.conftest import World
from tests.e2e.test_booking_e2e import to_calendar
from tests.support.chat import buttons, pick

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.e2e]

# Button actions, with or without the signature suffix the sending path may add.
DAY = r"^d\d{8}(~|$)"
TIME = r"^t\d+(~|$)"


@pytest.fixture(scope="module")
def bot_env() -> dict[str, str]:
    return {"PAYMENT_CURRENCY": "XTR"}


async def people(
    world: World, doctor_id: int, name: str, fee: int, *patients: tuple[int, str]
) -> tuple[SimulatedUser, list[SimulatedUser]]:
    doctor = world.emulator.user(name.split()[-1], user_id=doctor_id)
    await doctor.send_command("help")  # the doctor's chat exists, as after onboarding
    await doctor.expect("/start")
    await seed_doctor(
        world.sessions, doctor.id, name, "Cardiology", hours=EVERY_DAY_8_TO_20, fee_minor=fee
    )
    users = []
    for user_id, patient_name in patients:
        user = world.emulator.user(patient_name.split()[0], user_id=user_id)
        await seed_patient(world.sessions, user.id, patient_name, "Europe/Berlin")
        users.append(user)
    return doctor, users


async def hold_time(
    patient: SimulatedUser, doctor_label: str, day: int
) -> tuple[str, StoredMessage]:
    """Book the first free time on the `day`-th day with free times: (time, the invoice)."""
    await to_calendar(patient, "Cardiology", doctor_label)
    await pick(patient, DAY, index=day)
    await patient.expect("Free times on")
    label = await pick(patient, TIME)
    await patient.expect("reason for your visit")
    await (await patient.tap("Skip")).answer()
    await patient.expect("Please check your booking")
    await (await patient.tap("✅ Book")).answer()
    await patient.expect("The time is held for you")
    return label, await patient.expect_invoice()


async def doctor_id_of(world: World, telegram_id: int) -> int:
    async with world.sessions() as session:
        doctor_id = await session.scalar(
            select(Doctor.id)
            .join(User, User.id == Doctor.user_id)
            .where(User.telegram_id == telegram_id)
        )
    assert doctor_id is not None
    return int(doctor_id)


async def rows(world: World, doctor_id: int) -> tuple[list[Appointment], list[Payment]]:
    async with world.sessions() as session:
        appointments = list(
            await session.scalars(
                select(Appointment)
                .where(Appointment.doctor_id == doctor_id)
                .order_by(Appointment.id)
            )
        )
        payments = list(
            await session.scalars(
                select(Payment).where(Payment.doctor_id == doctor_id).order_by(Payment.id)
            )
        )
        session.expunge_all()
        return appointments, payments


async def cancel_first(patient: SimulatedUser, doctor_name: str) -> None:
    await patient.send_command("appointments")
    card = await patient.expect(doctor_name)
    await (await patient.tap("Cancel", card.message_id)).answer()
    await patient.expect_edit(card.message_id, "Cancel this appointment?")
    await (await patient.tap("Yes, cancel it", card.message_id)).answer()


async def test_paid_with_stars_confirmed_once_then_refunded(world: World) -> None:
    doctor, (anna,) = await people(world, 710_001, "Dr Jana Novak", 250, (710_002, "Anna Schmidt"))
    label, invoice = await hold_time(anna, "Dr Jana Novak · Cardiology · 250 ⭐", day=2)
    assert invoice["invoice"]["currency"] == "XTR"
    assert invoice["invoice"]["total_amount"] == 250
    assert invoice["invoice"]["title"] == "Consultation with Dr Jana Novak"
    assert label in invoice["invoice"]["description"]
    (sent,) = world.emulator.calls_of("sendInvoice")[-1:]
    assert not sent.params.get("provider_token")

    attempt = await anna.pay(invoice)
    assert attempt.ok
    receipt = await anna.expect("Payment received: 250 ⭐")
    assert attempt.charge_id in receipt.text
    await anna.expect("Booked!")
    await anna.expect_document()
    notice = await doctor.expect("New booking: Anna Schmidt")
    assert label in notice.text
    doctor_row = await doctor_id_of(world, doctor.id)
    appointments, payments = await rows(world, doctor_row)
    assert [a.status for a in appointments] == ["booked"]
    assert payments[0].status == "paid" and payments[0].telegram_charge_id == attempt.charge_id

    # The same successful_payment delivered again confirms nothing twice.
    await anna.deliver_payment_again(attempt)
    await anna.expect("already received")
    await doctor.expect_nothing(within=1)
    # A second try to pay the same invoice is refused at pre-checkout.
    again = await anna.pay(invoice)
    assert not again.ok and "no longer waiting for payment" in (again.error_message or "")

    await cancel_first(anna, "Dr Jana Novak")
    await anna.wait_for_text("went back to your Telegram Stars balance")
    assert world.emulator.state.charges[attempt.charge_id].refunded
    _, payments = await rows(world, doctor_row)
    assert payments[0].refund_status == "refunded" and payments[0].refund_minor == 250


async def test_two_patients_one_hold_and_refused_pre_checkouts(world: World) -> None:
    doctor, (anna, ben) = await people(
        world, 710_011, "Dr Lena Roth", 300, (710_012, "Anna Weber"), (710_013, "Ben Okafor")
    )
    doctor_label = "Dr Lena Roth · Cardiology · 300 ⭐"
    label, invoice = await hold_time(anna, doctor_label, day=1)

    # A changed amount is refused in the payment form.
    tampered = await anna.pay(invoice, amount=1)
    assert not tampered.ok and "amount does not match" in (tampered.error_message or "")

    # While Anna holds the time, Ben is not offered it...
    await to_calendar(ben, "Cardiology", doctor_label)
    await pick(ben, DAY, index=1)
    await ben.expect("Free times on")
    assert label not in [shown for _, shown, _ in buttons(ben, TIME)]
    await ben.send_command("cancel")
    await ben.expect("Booking stopped")

    # ...until the hold's time is up (moved into the past here; the bot's clock is real).
    doctor_id = await doctor_id_of(world, doctor.id)
    async with world.sessions() as session:
        await session.execute(
            update(Appointment)
            .where(Appointment.doctor_id == doctor_id)
            .values(hold_expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
        await session.commit()
    late = await anna.pay(invoice)
    assert not late.ok and "run out" in (late.error_message or "")

    ben_label, ben_invoice = await hold_time(ben, doctor_label, day=1)
    assert ben_label == label
    assert (await ben.pay(ben_invoice)).ok
    await ben.expect("Booked!")
    await doctor.expect("New booking: Ben Okafor")
    appointments, payments = await rows(world, doctor_id)
    assert [a.status for a in appointments] == ["expired", "booked"]
    assert appointments[1].starts_at == appointments[0].starts_at
    # Anna's hold was marked expired as Ben took the time; the expiry job then tells her
    # once, and "Try again" finds the time taken.
    released = await anna.wait_for_text("was not paid in time")
    assert "Nothing was charged" in released.text
    await (await anna.tap("Try again", released.message_id)).answer()
    await anna.wait_for_text("taken in the meantime")
    appointments, payments = await rows(world, doctor_id)
    assert [a.status for a in appointments] == ["expired", "booked"]
    assert [p.status for p in payments] == ["expired", "paid"]
