"""Paying by card (a provider token) through the real bot process and the emulator: confirmed,
then cancelled, the refund recorded as owed and put before the admins, who see it in /admin."""

from __future__ import annotations

import csv
import io

import pytest

from tests.e2e.conftest import ADMIN_ID, World
from tests.e2e.test_payments_e2e import cancel_first, doctor_id_of, hold_time, people, rows

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.e2e]

PROVIDER_TOKEN = "284685063:TEST:card-provider"


@pytest.fixture(scope="module")
def bot_env() -> dict[str, str]:
    return {"PAYMENT_CURRENCY": "EUR", "PAYMENT_PROVIDER_TOKEN": PROVIDER_TOKEN}


async def test_paid_by_card_then_the_refund_is_owed(world: World) -> None:
    admin = world.emulator.user("Admin", user_id=ADMIN_ID)
    await admin.send_command("help")
    await admin.expect()
    doctor, (anna,) = await people(
        world, 720_001, "Dr Omar Haddad", 4990, (720_002, "Anna Schmidt")
    )
    _, invoice = await hold_time(anna, "Dr Omar Haddad · Cardiology · €49.90", day=2)
    assert invoice["invoice"]["currency"] == "EUR" and invoice["invoice"]["total_amount"] == 4990
    assert world.emulator.calls_of("sendInvoice")[-1].params["provider_token"] == PROVIDER_TOKEN

    attempt = await anna.pay(invoice)
    assert attempt.ok and attempt.payment is not None
    await anna.expect("Payment received: €49.90")
    await anna.expect("Booked!")
    await doctor.expect("New booking: Anna Schmidt")
    doctor_id = await doctor_id_of(world, doctor.id)
    _, (payment,) = await rows(world, doctor_id)
    provider_charge = attempt.payment["provider_payment_charge_id"]
    assert payment.provider_charge_id == provider_charge and provider_charge

    await cancel_first(anna, "Dr Omar Haddad")
    await anna.wait_for_text("will refund €49.90 to you by hand")
    notice = await admin.wait_for_text("Refund owed: €49.90")
    assert attempt.charge_id in notice.text and provider_charge in notice.text
    assert "Anna" not in notice.text
    assert world.emulator.calls_of("refundStarPayment") == []
    _, (payment,) = await rows(world, doctor_id)
    assert payment.refund_status == "owed" and payment.refund_minor == 4990

    admin.mark_all_read()
    await admin.send_command("admin")
    await admin.expect("Clinic administration")
    await (await admin.tap("Payments")).answer()
    await admin.expect("choose a period")
    await (await admin.tap("Last 7 days")).answer()
    summary = await admin.expect("Payments: Last 7 days")
    assert (
        "Dr Omar Haddad: paid €49.90 (payments: 1), refunded 0, refunds owed €49.90" in summary.text
    )
    await (await admin.tap("Export CSV")).answer()
    document = await admin.expect_document()
    data = world.emulator.file_bytes(document["document"]["file_id"]).decode()
    (row,) = [r for r in csv.DictReader(io.StringIO(data)) if r["doctor"] == "Dr Omar Haddad"]
    assert row["telegram_charge_id"] == attempt.charge_id and row["refund_status"] == "owed"
    assert "Anna" not in data
