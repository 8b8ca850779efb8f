"""Payments through the core on a clock the test controls: hold, invoice, pre-checkout,
confirmation, hold expiry (the job called directly), refunds, and the admins' view."""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from clinic.payments import Refusal, check_pre_checkout, refund_amount, refund_basis
from handlers.port import BadRequest, InlineKeyboard, Invoice
from jobs import holds
from jobs import runtime as job_runtime
from jobs.planner import SchedulerPlanner
from jobs.runtime import JobSettings
from jobs.scheduler import ClinicScheduler, build_scheduler
from storage.models import Appointment, Payment, User
from storage.seeding import seed_doctor, seed_patient
from tests.conftest import Storage
from tests.support.harness import Clock, Harness, make_harness, run_jobs_here
from tests.unit.test_booking_flow import buttons, pick, to_times

NOW = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)  # a Thursday; 11:00 in Berlin
ANNA, BEN, DOC, ADMIN = 501, 502, 801, 900
STARS = {"currency": "XTR"}
CHANGED = (
    "What cancelling means has changed since you asked (the start is closer now). "
    "Please check again."
)
CARD = {"currency": "EUR", "payment_provider_token": "284685063:TEST:card"}


async def _harness(storage: Storage, extra: dict[str, Any], fee: int) -> AsyncIterator[Harness]:
    await seed_doctor(storage.sessions, DOC, "Dr Mira Kaur", "Cardiology", fee_minor=fee)
    await seed_patient(storage.sessions, ANNA, "Anna Schmidt", "Europe/Berlin")
    await seed_patient(storage.sessions, BEN, "Ben Okafor", "Europe/Berlin")
    clock = Clock(NOW)
    h = make_harness(storage, frozenset({ADMIN}), clock, config_extra=extra)
    run_jobs_here(h)
    yield h
    job_runtime.install(None)


@pytest.fixture
async def stars(storage: Storage) -> AsyncIterator[Harness]:
    async for h in _harness(storage, STARS, 250):
        yield h


@pytest.fixture
async def card(storage: Storage) -> AsyncIterator[Harness]:
    async for h in _harness(storage, CARD, 4990):
        yield h


async def hold(h: Harness, user: int, day: int = 0) -> Invoice:
    """Book the first time on the `day`-th day with free times; returns the invoice."""
    await h.send(user, "/book")
    await h.tap(user, "Cardiology")
    await pick(h, user, r"^d\d+$")
    await pick(h, user, r"^d\d{8}$", day)
    await pick(h, user, r"^t\d+$")
    await h.tap(user, "Skip")
    await h.tap(user, "✅ Book")
    chat, invoice = h.messenger.invoices[-1]
    assert chat == user
    return invoice


async def pay(h: Harness, user: int, invoice: Invoice, charge: str, amount: int | None = None):
    total = invoice.amount if amount is None else amount
    query = h.events.pre_checkout(user, invoice.payload, total, invoice.currency)
    await h.dispatcher.handle(query)
    ok, error = h.messenger.pre_checkout_answers[query.pre_checkout.id]  # type: ignore[union-attr]
    if ok:
        provider = "" if invoice.currency == "XTR" else f"prov-{charge}"
        event = h.events.paid(user, invoice.payload, total, charge, invoice.currency, provider)
        await h.dispatcher.handle(event)
    return ok, error


async def rows(h: Harness) -> tuple[list[Appointment], list[Payment]]:
    async with h.storage.sessions() as session:
        appointments = list(await session.scalars(select(Appointment).order_by(Appointment.id)))
        payments = list(await session.scalars(select(Payment).order_by(Payment.id)))
        session.expunge_all()
        return appointments, payments


# Pure rules -----------------------------------------------------------------------------------


def test_refund_policy() -> None:
    start = NOW + timedelta(hours=30)
    day = timedelta(hours=24)
    assert refund_amount(1000, "patient", start, NOW, day, 0) == 1000
    assert refund_amount(1000, "patient", start, NOW + timedelta(hours=7), day, 0) == 0
    assert refund_amount(1000, "patient", start, NOW + timedelta(hours=7), day, 50) == 500
    assert refund_amount(999, "patient", start, NOW + timedelta(hours=7), day, 50) == 499
    assert refund_amount(1000, "doctor", start, start - timedelta(minutes=1), day, 0) == 1000
    assert refund_amount(1000, "clinic", start, start - timedelta(minutes=1), day, 0) == 1000
    assert check_pre_checkout(None, 1, 1, "XTR", NOW) is Refusal.UNKNOWN
    # A move made a day or more ahead of the time it left changes nothing; a later one keeps
    # the earlier start, so the new time's cancellation is judged as that time's would be.
    later, soon = NOW + timedelta(days=5), NOW + timedelta(hours=3)
    assert refund_basis(later, [(NOW + timedelta(days=2), NOW)], day) == later
    assert refund_basis(later, [(soon, NOW)], day) == soon
    assert refund_basis(later, [(NOW + timedelta(days=2), NOW), (soon, NOW)], day) == soon


# Hold, invoice, pay ---------------------------------------------------------------------------


async def test_a_paid_booking_is_held_invoiced_and_confirmed_once(stars: Harness) -> None:
    h = stars
    invoice = await hold(h, ANNA)
    assert invoice.currency == "XTR" and invoice.amount == 250 and invoice.provider_token == ""
    assert invoice.title == "Consultation with Dr Mira Kaur"
    assert "Thu, Dec 3, 2026, 13:00 (Europe/Berlin)" in invoice.description
    texts = h.messenger.texts_to(ANNA)
    assert any("held for you until Thu, Dec 3, 2026, 11:15" in t and "250 ⭐" in t for t in texts)
    (held,), (payment,) = await rows(h)
    assert held.status == "held" and held.hold_expires_at == NOW + timedelta(minutes=15)
    assert payment.status == "invoiced" and payment.payload == invoice.payload
    assert h.messenger.texts_to(DOC) == []  # the doctor hears of it once it is paid

    ok, _ = await pay(h, ANNA, invoice, "stx-1")
    assert ok
    (booked,), (payment,) = await rows(h)
    assert booked.status == "booked" and booked.hold_expires_at is None
    assert payment.status == "paid" and payment.telegram_charge_id == "stx-1"
    assert payment.paid_at == NOW and payment.amount_minor == 250
    texts = h.messenger.texts_to(ANNA)
    assert any("Payment received: 250 ⭐" in t and "stx-1" in t for t in texts)
    assert any("Booked!" in t for t in texts) and "appointment-1.ics" in texts
    assert len(h.messenger.texts_to(DOC)) == 1

    # The same successful_payment in a second update: confirmed once.
    again = h.events.paid(ANNA, invoice.payload, 250, "stx-1")
    await h.dispatcher.handle(again)
    assert "already received" in h.last(ANNA)
    assert len(h.messenger.texts_to(DOC)) == 1
    assert sum("Booked!" in t for t in h.messenger.texts_to(ANNA)) == 1


async def test_pre_checkout_refusals(stars: Harness) -> None:
    h = stars
    invoice = await hold(h, ANNA)
    ok, error = await pay(h, ANNA, invoice, "x", amount=1)
    assert not ok and error and "amount does not match" in error
    ok, error = await pay(h, ANNA, replace(invoice, currency="EUR"), "x")
    assert not ok and error and "currency does not match" in error
    ok, error = await pay(h, BEN, invoice, "x")
    assert not ok and error and "Only the patient" in error
    forged = Invoice("t", "d", "no-such-payload", "XTR", 250, "l")
    ok, error = await pay(h, ANNA, forged, "x")
    assert not ok and error and "not valid any more" in error
    h.clock.now = NOW + timedelta(minutes=15)
    ok, error = await pay(h, ANNA, invoice, "x")
    assert not ok and error and "run out" in error
    (held,), (payment,) = await rows(h)
    assert held.status == "held" and payment.status == "invoiced"


async def test_a_pre_checkout_is_answered_even_for_strangers(stars: Harness) -> None:
    query = stars.events.pre_checkout(777, "whatever", 1)
    await stars.dispatcher.handle(query)
    ok, error = stars.messenger.pre_checkout_answers[query.pre_checkout.id]  # type: ignore[union-attr]
    assert not ok and error


# Expiry ---------------------------------------------------------------------------------------


async def test_two_patients_and_a_hold_that_runs_out(stars: Harness) -> None:
    h = stars
    invoice = await hold(h, ANNA, 1)  # Friday 09:00
    (held,), _ = await rows(h)
    # While Anna holds 09:00, Ben is not offered it.
    await h.send(BEN, "/book")
    await h.tap(BEN, "Cardiology")
    await pick(h, BEN, r"^d\d+$")
    await pick(h, BEN, r"^d\d{8}$", 1)
    assert next(label for _, label, _ in buttons(h, BEN, r"^t\d+$")) == "09:30"
    await h.send(BEN, "/cancel")

    # The hold runs out; before the job has swept it, Ben may book 09:00 (it is marked expired).
    h.clock.now = NOW + timedelta(minutes=16)
    ben_invoice = await hold(h, BEN, 1)
    appointments, payments = await rows(h)
    assert [a.status for a in appointments] == ["expired", "held"]
    assert appointments[1].starts_at == held.starts_at

    # The job still tells Anna, once, and her "Try again" finds the time taken.
    await holds.expire_hold(held.id)
    await holds.expire_hold(held.id)
    notices = [t for t in h.messenger.texts_to(ANNA) if "was not paid in time" in t]
    assert len(notices) == 1
    await h.tap(ANNA, "Try again")
    assert "taken in the meantime" in h.last(ANNA)
    _, payments = await rows(h)
    assert payments[0].status == "expired"

    # Anna's payment arriving late now: refused at pre-checkout.
    ok, error = await pay(h, ANNA, invoice, "late")
    assert not ok and error
    assert ben_invoice.payload != invoice.payload


async def test_the_job_releases_the_slot_and_try_again_holds_it_anew(stars: Harness) -> None:
    h = stars
    await hold(h, ANNA, 1)
    (held,), _ = await rows(h)
    await holds.expire_hold(held.id)  # too early: nothing happens
    assert (await rows(h))[0][0].status == "held"
    h.clock.now = NOW + timedelta(minutes=15)
    await holds.expire_hold(held.id)
    (expired,), (payment,) = await rows(h)
    assert expired.status == "expired" and payment.status == "expired"
    assert "was not paid in time" in h.last(ANNA)
    message_id, data = h.messenger.button_data(ANNA, "Try again")
    event = await h.tap_data(BEN, message_id, data)  # not Ben's button
    assert h.answer(event) == "This button is not valid."
    await h.tap(ANNA, "Try again")
    appointments, payments = await rows(h)
    assert [a.status for a in appointments] == ["expired", "held"]
    assert appointments[1].starts_at == expired.starts_at
    assert len(payments) == 2 and h.messenger.invoices[-1][1].payload == payments[1].payload
    event = await h.tap_data(ANNA, message_id, data)  # a second tap holds nothing more
    assert "yours already" in (h.answer(event) or "")
    assert len((await rows(h))[0]) == 2


async def test_a_payment_after_the_hold_ran_out(stars: Harness) -> None:
    h = stars
    invoice = await hold(h, ANNA)
    await rows(h)
    # Pre-checkout passed in time, the money came after the hold ended: still free, so booked.
    h.clock.now = NOW + timedelta(minutes=20)
    await h.dispatcher.handle(h.events.paid(ANNA, invoice.payload, 250, "stx-late"))
    (booked,), (payment,) = await rows(h)
    assert booked.status == "booked" and payment.status == "paid"


async def test_a_late_payment_for_a_taken_slot_is_refunded(stars: Harness) -> None:
    h = stars
    invoice = await hold(h, ANNA, 1)
    h.clock.now = NOW + timedelta(minutes=16)
    ben = await hold(h, BEN, 1)
    await pay(h, BEN, ben, "stx-ben")
    await h.dispatcher.handle(h.events.paid(ANNA, invoice.payload, 250, "stx-anna"))
    appointments, payments = await rows(h)
    assert [a.status for a in appointments] == ["expired", "booked"]
    assert payments[0].telegram_charge_id == "stx-anna"
    assert payments[0].refund_status == "refunded" and payments[0].refund_minor == 250
    assert h.messenger.star_refunds == [(ANNA, "stx-anna")]
    texts = h.messenger.texts_to(ANNA)
    assert any("booked by someone else" in t for t in texts)
    assert any("went back to your Telegram Stars balance" in t for t in texts)


# Refunds --------------------------------------------------------------------------------------


async def _booked_and_paid(h: Harness, day: int, charge: str) -> Appointment:
    invoice = await hold(h, ANNA, day)
    ok, _ = await pay(h, ANNA, invoice, charge)
    assert ok
    return (await rows(h))[0][-1]


async def _patient_cancels(h: Harness, appointment: Appointment) -> None:
    """/appointments, Cancel on this appointment's card, then "Yes, cancel it"."""
    await h.send(ANNA, "/appointments")
    card = next(
        m
        for m in reversed(h.messenger.sent)
        if m.chat_id == ANNA
        and isinstance(m.markup, InlineKeyboard)
        and any(b.callback_data == f"ap:-:cx:{appointment.id}" for r in m.markup.rows for b in r)
    )
    await h.tap_data(ANNA, card.message_id, f"ap:-:cx:{appointment.id}")
    card_id, yes = h.messenger.button_data(ANNA, "Yes, cancel it")
    assert card_id == card.message_id
    await h.tap_data(ANNA, card_id, yes)


async def _cancel_question(h: Harness) -> str:
    """Tap Cancel on the only upcoming appointment; returns the question it asks."""
    await h.send(ANNA, "/appointments")
    card, data = h.messenger.button_data(ANNA, "Cancel")
    await h.tap_data(ANNA, card, data)
    return next(m.text for m in h.messenger.sent if m.message_id == card)


async def test_an_early_patient_cancellation_is_refunded_in_stars(stars: Harness) -> None:
    h = stars
    appointment = await _booked_and_paid(h, 2, "stx-early")  # Monday: over 24 hours ahead
    assert "You paid 250 ⭐; cancelling now refunds it in full." in await _cancel_question(h)
    await _patient_cancels(h, appointment)
    (_,), (payment,) = await rows(h)
    assert payment.refund_status == "refunded" and payment.refund_reason == "cancel_patient"
    assert h.messenger.star_refunds == [(ANNA, "stx-early")]
    assert "went back to your Telegram Stars balance" in h.last(ANNA)


async def test_a_late_patient_cancellation_follows_the_policy(stars: Harness) -> None:
    h = stars
    appointment = await _booked_and_paid(h, 0, "stx-late")  # today, 2 hours ahead
    question = await _cancel_question(h)
    assert "You paid 250 ⭐; this close to the start, a cancellation is not refunded." in question
    await _patient_cancels(h, appointment)
    (_,), (payment,) = await rows(h)
    assert payment.refund_status == "none_due" and payment.refund_minor == 0
    assert h.messenger.star_refunds == []
    assert "is not refunded" in h.last(ANNA)


async def test_a_refund_that_changed_since_the_question_is_shown_again(stars: Harness) -> None:
    h = stars
    appointment = await _booked_and_paid(h, 2, "stx-moved")  # Monday: over 24 hours ahead
    assert "refunds it in full" in await _cancel_question(h)
    card, yes = h.messenger.button_data(ANNA, "Yes, cancel it")
    h.clock.now = appointment.starts_at - timedelta(hours=20)  # the question left open
    changed = await h.tap_data(ANNA, card, yes)
    assert h.answer(changed) == CHANGED
    (kept,), (payment,) = await rows(h)
    assert kept.status == "booked" and payment.refund_status is None
    question = next(m.text for m in h.messenger.sent if m.message_id == card)
    assert "a cancellation is not refunded" in question
    card, yes = h.messenger.button_data(ANNA, "Yes, cancel it")
    await h.tap_data(ANNA, card, yes)
    (cancelled,), (payment,) = await rows(h)
    assert cancelled.status == "cancelled" and payment.refund_status == "none_due"
    assert h.messenger.star_refunds == []


async def test_a_cancellation_turned_late_since_the_question_is_shown_again(
    stars: Harness,
) -> None:
    h = stars
    appointment = await _booked_and_paid(h, 2, "stx-late-now")
    h.clock.now = appointment.starts_at - timedelta(hours=20)  # no refund already, not late yet
    question = await _cancel_question(h)
    assert "not refunded" in question and "late cancellation" not in question
    card, yes = h.messenger.button_data(ANNA, "Yes, cancel it")
    h.clock.now = appointment.starts_at - timedelta(minutes=30)
    changed = await h.tap_data(ANNA, card, yes)
    assert h.answer(changed) == CHANGED
    (kept,), _ = await rows(h)
    assert kept.status == "booked"
    assert "late cancellation" in next(m.text for m in h.messenger.sent if m.message_id == card)
    # A confirm button without terms (sent before they were carried) asks again too.
    legacy = await h.tap_data(ANNA, card, f"ap:-:cy:{appointment.id}")
    assert h.answer(legacy) == CHANGED
    # Terms that promise more than now holds (a full refund, not late) change nothing either.
    for promised in ("e250", "l250"):
        forged = await h.tap_data(ANNA, card, f"ap:-:cy.{promised}:{appointment.id}")
        assert h.answer(forged) == CHANGED, promised
    for promised in ("💥", "l" + "9" * 300):  # not data the bot makes at all
        forged = await h.tap_data(ANNA, card, f"ap:-:cy.{promised}:{appointment.id}")
        assert h.answer(forged) == "This button is not valid.", promised
    assert [a.status for a in (await rows(h))[0]] == ["booked"]
    card, yes = h.messenger.button_data(ANNA, "Yes, cancel it")
    await h.tap_data(ANNA, card, yes)
    (cancelled,), _ = await rows(h)
    assert cancelled.status == "cancelled" and cancelled.late_cancellation


async def test_a_doctor_cancellation_is_refunded_in_full(stars: Harness) -> None:
    h = stars
    appointment = await _booked_and_paid(h, 0, "stx-doc")
    await h.tap_data(DOC, 1, f"ag:-:cy:{appointment.id}")
    (cancelled,), (payment,) = await rows(h)
    assert cancelled.status == "cancelled"
    assert payment.refund_status == "refunded" and payment.refund_minor == 250
    assert h.messenger.star_refunds == [(ANNA, "stx-doc")]


async def test_a_failed_star_refund_is_owed_and_put_before_admins(stars: Harness) -> None:
    h = stars
    appointment = await _booked_and_paid(h, 2, "stx-fail")

    async def failing(user_id: int, charge: str) -> None:
        raise BadRequest("Bad Request: CHARGE_NOT_FOUND")

    h.messenger.refund_star_payment = failing  # type: ignore[method-assign,assignment]
    await _patient_cancels(h, appointment)
    (_,), (payment,) = await rows(h)
    assert payment.refund_status == "owed"
    assert "will refund 250 ⭐ to you by hand" in h.last(ANNA)
    assert "stx-fail" in h.last(ADMIN) and "Refund owed: 250 ⭐" in h.last(ADMIN)


async def test_a_star_refund_never_confirmed_reaches_the_owed_list(stars: Harness) -> None:
    """The process stopped between committing "refunding" and the refund call: after ten
    minutes the admins' owed list shows it, so the money is not held unseen."""
    h = stars
    await _booked_and_paid(h, 2, "stx-stuck")
    async with h.storage.sessions() as session:
        await session.execute(
            update(Payment).values(
                refund_status="refunding", refund_minor=250, refunded_at=NOW, refund_reason="x"
            )
        )
        await session.commit()
    await h.send(ADMIN, "/admin")
    await h.tap(ADMIN, "Payments")
    await h.tap(ADMIN, "Owed refunds")
    assert h.last(ADMIN) == "No refunds are owed."  # the call may still be on its way
    h.clock.now = NOW + timedelta(minutes=11)
    await h.tap(ADMIN, "Owed refunds")
    assert "stx-stuck" in h.last(ADMIN) and "never confirmed" in h.last(ADMIN)


async def test_a_card_payment_is_confirmed_and_its_refund_owed(card: Harness) -> None:
    h = card
    invoice = await hold(h, ANNA, 2)
    assert invoice.currency == "EUR" and invoice.amount == 4990
    assert invoice.provider_token == CARD["payment_provider_token"]
    ok, _ = await pay(h, ANNA, invoice, "tg-card")
    assert ok
    (booked,), (payment,) = await rows(h)
    assert booked.status == "booked" and payment.provider_charge_id == "prov-tg-card"
    await _patient_cancels(h, booked)
    (_,), (payment,) = await rows(h)
    assert payment.refund_status == "owed" and payment.refund_minor == 4990
    assert h.messenger.star_refunds == []
    assert "will refund €49.90 to you by hand" in h.last(ANNA)
    admin_note = h.last(ADMIN)
    assert "tg-card" in admin_note and "prov-tg-card" in admin_note and "€49.90" in admin_note
    assert "Anna" not in admin_note


async def test_without_payment_settings_paid_doctors_book_as_before(storage: Storage) -> None:
    async for h in _harness(storage, {"currency": "EUR"}, 5000):
        await hold_free(h, "€50.00, paid to the clinic (not in this chat)")


async def hold_free(h: Harness, fee_shown: str) -> None:
    await to_times(h, ANNA)
    await pick(h, ANNA, r"^t\d+$")
    await h.tap(ANNA, "Skip")
    assert f"<b>Fee:</b> {fee_shown}\n" in h.last(ANNA)
    await h.tap(ANNA, "✅ Book")
    assert h.messenger.invoices == []
    (booked,), payments = await rows(h)
    assert booked.status == "booked" and payments == []


# Planning and the admins' view -----------------------------------------------------------------


@pytest.fixture
async def scheduler(storage: Storage) -> AsyncIterator[ClinicScheduler]:
    scheduler = build_scheduler(storage.url)
    scheduler.start(paused=True)
    yield scheduler
    await scheduler.close()


async def test_a_hold_is_planned_to_expire_and_paid_ones_get_reminders(
    stars: Harness, scheduler: ClinicScheduler
) -> None:
    h = stars
    planner = SchedulerPlanner(scheduler, h.storage.sessions, JobSettings(), h.clock)
    invoice = await hold(h, ANNA, 2)
    (held,), _ = await rows(h)
    await planner.changed([held.id], [])
    jobs = {job.id: job.next_run_time for job in scheduler.get_jobs()}
    assert jobs == {f"hold:{held.id}": NOW + timedelta(minutes=15)}
    await pay(h, ANNA, invoice, "stx-plan")
    await planner.changed([held.id], [])
    ids = {job.id for job in scheduler.get_jobs()}
    assert f"hold:{held.id}" not in ids and f"reminder:{held.id}:60" in ids


async def test_admins_see_totals_owed_refunds_and_a_csv(card: Harness) -> None:
    h = card
    booked = (await _booked_and_paid_card(h))[0]
    await _patient_cancels(h, booked)
    await h.send(ADMIN, "/admin")
    await h.tap(ADMIN, "Payments")
    await h.tap(ADMIN, "Last 7 days")
    summary = h.last(ADMIN)
    assert "paid €49.90 (payments: 1), refunded 0, refunds owed €49.90" in summary
    assert "Dr Mira Kaur" in summary
    await h.tap(ADMIN, "Export CSV")
    chat, document = h.messenger.documents[-1]
    assert chat == ADMIN and document.mime_type == "text/csv"
    assert document.data.startswith(b"\xef\xbb\xbf")  # the shared CSV export: UTF-8 + BOM
    table = list(csv.DictReader(io.StringIO(document.data.decode())))
    assert table[0]["telegram_charge_id"] == "tg-card" and table[0]["refund_status"] == "owed"
    assert "Anna" not in document.data.decode()
    await h.tap(ADMIN, "Owed refunds")
    assert "prov-tg-card" in h.last(ADMIN)
    # Not an admin: the same buttons change nothing.
    message_id, data = h.messenger.button_data(ADMIN, "Export CSV")
    event = await h.tap_data(ANNA, message_id, data)
    assert h.answer(event) == "This button is not valid."
    # A forged period (not one the menu offers) answers "not valid" and sends nothing.
    sent = len(h.messenger.sent)
    for period in ("90d", "365", "m", "💥", ""):
        event = await h.tap_data(ADMIN, message_id, f"pa:-:sum:{period}")
        assert h.answer(event) == "This button is not valid.", period
    assert len(h.messenger.sent) == sent


async def test_payments_this_month_is_the_admins_month(stars: Harness) -> None:
    """As in the statistics: an admin in New York on Dec 31, 22:00 there (Jan 1 in Berlin, the
    clinic's zone) still sees December's payments under "This month"."""
    h = stars
    await _booked_and_paid(h, 2, "stx-dec")
    await seed_patient(h.storage.sessions, ADMIN, "Ada Admin", "America/New_York")
    async with h.storage.sessions() as session:
        await session.execute(update(User).where(User.telegram_id == ADMIN).values(role="admin"))
        await session.commit()
    h.clock.now = datetime(2027, 1, 1, 3, 0, tzinfo=UTC)
    await h.send(ADMIN, "/admin")
    await h.tap(ADMIN, "Payments")
    await h.tap(ADMIN, "This month")
    assert "(days in America/New_York)" in h.last(ADMIN)
    assert "All doctors: paid 250 ⭐ (payments: 1)" in h.last(ADMIN)
    await h.tap(ADMIN, "Export CSV")
    document = h.messenger.documents[-1][1]
    assert document.filename == "payments-20261201-20261231.csv"


async def _booked_and_paid_card(h: Harness) -> tuple[Appointment, Invoice]:
    invoice = await hold(h, ANNA, 2)
    await pay(h, ANNA, invoice, "tg-card")
    return (await rows(h))[0][-1], invoice


def test_csv_cells_cannot_become_formulas() -> None:
    from handlers.csv_export import safe_cell as _cell

    assert _cell("=HYPERLINK(1)") == "'=HYPERLINK(1)"
    assert _cell("@x") == "'@x" and _cell("Dr Ana") == "Dr Ana" and _cell(None) == ""


async def test_a_paid_appointment_moved_keeps_its_payment(stars: Harness) -> None:
    h = stars
    appointment = await _booked_and_paid(h, 2, "stx-move")
    await h.tap_data(ANNA, 1, f"ap:-:re:{appointment.id}")
    await pick(h, ANNA, r"^d\d{8}$", 3)
    await pick(h, ANNA, r"^t\d+$")
    assert "late-cancellation terms" not in h.last(ANNA)
    await h.tap(ANNA, "✅ Move it")
    assert h.messenger.invoices[-1][1].payload == (await rows(h))[1][0].payload  # no new invoice
    appointments, (payment,) = await rows(h)
    assert [a.status for a in appointments] == ["rescheduled", "booked"]
    assert payment.appointment_id == appointments[1].id
    await _patient_cancels(h, appointments[1])
    assert (await rows(h))[1][0].refund_status == "refunded"


async def test_a_late_move_keeps_the_late_terms_of_the_time_it_left(stars: Harness) -> None:
    """Moving a paid visit due within the day to next week and then cancelling it is, for the
    money, a late cancellation: no full refund through a move (late refund is 0% here)."""
    h = stars
    appointment = await _booked_and_paid(h, 0, "stx-soon")
    assert appointment.starts_at - NOW < timedelta(hours=24)
    await h.tap_data(ANNA, 1, f"ap:-:re:{appointment.id}")
    await pick(h, ANNA, r"^d\d{8}$", 3)
    await pick(h, ANNA, r"^t\d+$")
    assert (
        "This close to the start, a move keeps the late-cancellation terms: "
        "if you cancel the new time later, nothing is refunded."
    ) in h.last(ANNA)
    await h.tap(ANNA, "✅ Move it")
    appointments, _ = await rows(h)
    assert [a.status for a in appointments] == ["rescheduled", "booked"]
    assert appointments[1].starts_at - NOW > timedelta(days=2)
    question = await _cancel_question(h)
    assert "this close to the start, a cancellation is not refunded" in question
    await _patient_cancels(h, appointments[1])
    _, (payment,) = await rows(h)
    assert (payment.refund_status, payment.refund_minor) == ("none_due", 0)
    assert h.messenger.star_refunds == []
    # The move made more than a day ahead (the test above) keeps the full refund.


async def test_a_payment_for_a_released_hold_is_refunded_not_booked(stars: Harness) -> None:
    """Pre-checkout passed while the time was held; the patient then released it, and the
    money came after: the release stands, the payment goes back."""
    h = stars
    invoice = await hold(h, ANNA, 1)
    query = h.events.pre_checkout(ANNA, invoice.payload, invoice.amount, invoice.currency)
    await h.dispatcher.handle(query)
    assert h.messenger.pre_checkout_answers[query.pre_checkout.id][0]  # type: ignore[union-attr]
    await h.send(ANNA, "/appointments")
    await h.tap(ANNA, "Release this time")
    await h.dispatcher.handle(h.events.paid(ANNA, invoice.payload, 250, "stx-late"))
    appointments, (payment,) = await rows(h)
    assert [a.status for a in appointments] == ["expired"]
    assert (payment.status, payment.refund_status) == ("paid", "refunded")
    assert payment.refund_reason == "released"
    assert h.messenger.star_refunds == [(ANNA, "stx-late")]
    texts = h.messenger.texts_to(ANNA)
    assert any("had been given up. Nothing is booked for you" in text for text in texts)
    assert not any(text.startswith("Payment received") for text in texts)


async def _move_question(h: Harness, appointment: Appointment, day: int) -> str:
    await h.tap_data(ANNA, 1, f"ap:-:re:{appointment.id}")
    await pick(h, ANNA, r"^d\d{8}$", day)
    await pick(h, ANNA, r"^t\d+$")
    return h.last(ANNA)


async def test_move_terms_that_change_before_the_tap_are_asked_again(stars: Harness) -> None:
    """Asked 24h01m ahead (no late terms), tapped 23h58m ahead (late terms): the question is
    shown again with them instead of applying them unannounced; the second tap moves."""
    h = stars
    visit = await _booked_and_paid(h, 2, "stx-edge")
    h.clock.now = visit.starts_at - timedelta(hours=24, minutes=1)
    assert "late-cancellation terms" not in await _move_question(h, visit, 3)
    h.clock.now = visit.starts_at - timedelta(hours=23, minutes=58)
    event = await h.tap(ANNA, "✅ Move it")
    assert h.answer(event) == (
        "What moving means has changed since you asked (the start is closer now). "
        "Please check again."
    )
    assert [a.status for a in (await rows(h))[0]] == ["booked"]
    assert "if you cancel the new time later, nothing is refunded." in h.last(ANNA)
    await h.tap(ANNA, "✅ Move it")
    assert [a.status for a in (await rows(h))[0]] == ["rescheduled", "booked"]


async def test_a_visit_with_late_terms_says_so_when_moved_again(stars: Harness) -> None:
    h = stars
    visit = await _booked_and_paid(h, 0, "stx-twice-moved")
    await _move_question(h, visit, 3)
    await h.tap(ANNA, "✅ Move it")
    moved = (await rows(h))[0][-1]
    assert moved.starts_at - NOW > timedelta(days=2)  # far off now, but moved late before
    assert "nothing is refunded" in await _move_question(h, moved, 4)


async def test_a_hold_does_not_open_the_patients_record_to_the_doctor(stars: Harness) -> None:
    """Holding a time and releasing it at once must not hand the doctor Anna's record, which
    holds a visit with another doctor."""
    from handlers import records
    from tests.support.clinic_records import (
        Said,
        doctor_id_of,
        seed_closed_consultation,
        user_id_of,
    )

    h = stars
    other = 803
    await seed_doctor(h.storage.sessions, other, "Dr Lea Vogt", "Dermatology")
    await seed_closed_consultation(
        h.storage.sessions,
        await doctor_id_of(h.storage.sessions, other),
        ANNA,
        NOW - timedelta(days=3),
        summary="Private dermatology summary",
        chat=[Said(True, "a private line")],
    )
    await hold(h, ANNA, 1)
    await h.send(ANNA, "/appointments")
    await h.tap(ANNA, "Release this time")
    assert [a.status for a in (await rows(h))[0]][-1] == "expired"
    await h.send(DOC, "/records")
    await h.send(DOC, "73915")
    await h.send(DOC, "73915")
    assert h.last(DOC) == "No patient has booked with you yet, so there are no records to show."
    event = await h.tap_data(
        DOC, 1, records._pack("pt", await user_id_of(h.storage.sessions, ANNA))
    )
    assert h.answer(event) == "This button is not valid."
    assert not any("Private dermatology" in text for text in h.messenger.texts_to(DOC))


async def test_appointments_list_a_hold_as_upcoming_until_it_runs_out(stars: Harness) -> None:
    h = stars
    await hold(h, ANNA, 1)
    (held,), _ = await rows(h)
    sent = len(h.messenger.texts_to(ANNA))
    await h.send(ANNA, "/appointments")
    texts = h.messenger.texts_to(ANNA)[sent:]
    assert texts[0] == "Your upcoming appointments:"
    assert "Awaiting payment: held for you until Thu, Dec 3, 2026, 11:15" in texts[1]
    assert "Dr Mira Kaur" in texts[1]
    assert not any("Earlier appointments" in t for t in texts)
    # No Reschedule / Cancel on a hold (it is released instead); a forged Cancel changes nothing.
    event = await h.tap_data(ANNA, 1, f"ap:-:cx:{held.id}")
    assert "can no longer be changed" in (h.answer(event) or "")
    # Run out (before the job has swept it): no longer upcoming, and shown as not paid.
    h.clock.now = NOW + timedelta(minutes=16)
    sent = len(h.messenger.texts_to(ANNA))
    await h.send(ANNA, "/appointments")
    texts = h.messenger.texts_to(ANNA)[sent:]
    assert texts[0] == "You have no upcoming appointments. Send /book to book one."
    assert "Earlier appointments" in texts[1] and "not paid (the hold ended)" in texts[1]
    assert (await rows(h))[0][0].status == "held"  # listing changes nothing


async def test_a_patient_releases_a_hold_and_its_invoice_is_refused(stars: Harness) -> None:
    h = stars
    invoice = await hold(h, ANNA, 1)  # Friday 09:00
    (held,), _ = await rows(h)
    await h.send(ANNA, "/appointments")
    card, release = h.messenger.button_data(ANNA, "Release this time")
    forged = await h.tap_data(BEN, card, release)  # someone else's hold
    assert h.answer(forged) == "This button is not valid."
    first, second = await asyncio.gather(
        h.tap_data(ANNA, card, release), h.tap_data(ANNA, card, release)
    )
    answers = sorted([h.answer(first) or "", h.answer(second) or ""])
    assert answers == ["Released.", "This time is no longer held for you."]
    assert "Released:" in h.last(ANNA) and "Nothing was charged" in h.last(ANNA)
    (released,), (payment,) = await rows(h)
    assert released.status == "expired" and payment.status == "released"
    assert h.messenger.texts_to(DOC) == []  # the doctor never heard of the hold
    ok, error = await pay(h, ANNA, invoice, "after-release")
    assert not ok and error and "no longer waiting for payment" in error
    # The time is free again at once: Ben holds the same 09:00.
    await hold(h, BEN, 1)
    appointments, _ = await rows(h)
    assert appointments[1].starts_at == held.starts_at and appointments[1].status == "held"


async def test_a_suspension_ends_holds_without_counting_them_as_cancellations(
    stars: Harness,
) -> None:
    """Every hold ends (its invoice refused, the patient told why, nothing charged), one whose
    time ran out too; neither is a cancellation in the statistics, and only the booked visit
    is counted as cancelled."""
    h = stars
    invoice = await hold(h, ANNA, 1)
    await hold(h, BEN, 2)
    booked = await _booked_and_paid(h, 3, "stx-booked")  # Anna's, paid
    (_, bens, _), _ = await rows(h)
    async with h.storage.sessions() as session:
        await session.execute(
            update(Appointment).where(Appointment.id == bens.id).values(hold_expires_at=NOW)
        )
        await session.commit()
    await h.send(ADMIN, "/admin")
    await h.tap(ADMIN, "Doctors: suspend / reinstate")
    await h.tap(ADMIN, "Suspend Dr Mira Kaur")
    await h.tap(ADMIN, "Yes, suspend")
    assert "Future appointments cancelled: 1" in h.last(ADMIN)
    (annas, bens, paid), payments = await rows(h)
    assert (annas.status, annas.cancelled_by) == ("expired", None)
    assert (bens.status, bens.cancelled_by) == ("expired", None)
    assert (paid.id, paid.status, paid.cancelled_by) == (booked.id, "cancelled", "clinic")
    # Not left "invoiced" as if it were still waiting; nothing was paid, so nothing refunded.
    assert [(p.status, p.refund_status) for p in payments] == [
        ("released", None),
        ("released", None),
        ("paid", "refunded"),
    ]
    assert h.messenger.star_refunds == [(ANNA, "stx-booked")]
    annas_texts = h.messenger.texts_to(ANNA)
    assert any(
        "The time held for you with Dr Mira Kaur on Fri, Dec 4, 2026" in text
        and "Nothing was charged" in text
        for text in annas_texts
    )
    assert any("The time held for you" in text for text in h.messenger.texts_to(BEN))
    ok, error = await pay(h, ANNA, invoice, "after-suspension")
    assert not ok and error


async def test_money_for_a_run_out_hold_after_a_suspension_is_refunded(stars: Harness) -> None:
    """Pre-checkout passed while held; the hold ran out; the doctor was suspended before the
    expiry job came; then the money arrived: no visit with a suspended doctor, a refund."""
    h = stars
    invoice = await hold(h, BEN, 1)
    query = h.events.pre_checkout(BEN, invoice.payload, invoice.amount, invoice.currency)
    await h.dispatcher.handle(query)
    assert h.messenger.pre_checkout_answers[query.pre_checkout.id][0]  # type: ignore[union-attr]
    h.clock.now = NOW + timedelta(minutes=15, seconds=1)
    await h.send(ADMIN, "/admin")
    await h.tap(ADMIN, "Doctors: suspend / reinstate")
    await h.tap(ADMIN, "Suspend Dr Mira Kaur")
    await h.tap(ADMIN, "Yes, suspend")
    await h.dispatcher.handle(h.events.paid(BEN, invoice.payload, 250, "stx-race"))
    (held,), (payment,) = await rows(h)
    assert held.status == "expired"
    assert (payment.status, payment.refund_status) == ("paid", "refunded")
    assert h.messenger.star_refunds == [(BEN, "stx-race")]
    assert not any(text.startswith("Payment received") for text in h.messenger.texts_to(BEN))


async def test_erasure_cancels_a_visit_whose_time_began_unopened(stars: Harness) -> None:
    """Five minutes into a booked visit nobody opened, the patient erases the account: the
    visit is cancelled (late, so no refund here) and the doctor told, not left booked to an
    erased name for the doctor to open or the no-show job to announce."""
    h = stars
    visit = await _booked_and_paid(h, 0, "stx-now")
    h.clock.now = visit.starts_at + timedelta(minutes=5)
    await h.send(ANNA, "/delete_me")
    await h.tap(ANNA, "Continue")
    await h.tap(ANNA, "Yes, delete everything")
    assert "Your account is deleted." in h.last(ANNA)
    (cancelled,), (payment,) = await rows(h)
    assert (cancelled.status, cancelled.cancelled_by) == ("cancelled", "patient")
    assert cancelled.late_cancellation
    assert payment.refund_status == "none_due"
    assert "will not come on" in h.last(DOC)


async def test_erasure_ends_a_hold_without_telling_the_doctor(stars: Harness) -> None:
    h = stars
    await hold(h, ANNA, 1)
    told = len(h.messenger.texts_to(DOC))
    await h.send(ANNA, "/delete_me")
    await h.tap(ANNA, "Continue")
    await h.tap(ANNA, "Yes, delete everything")
    assert "Your account is deleted." in h.last(ANNA)
    (held,), payments = await rows(h)
    assert held.status == "expired" and held.cancelled_by is None
    assert payments == []  # an unpaid invoice is not kept
    assert h.messenger.texts_to(DOC)[told:] == []


async def test_erasure_keeps_paid_payments_only(stars: Harness) -> None:
    """Accounting keeps money that moved; an invoice never paid is not a record of anything."""
    h = stars
    await hold(h, ANNA, 1)
    await h.send(ANNA, "/appointments")
    await h.tap(ANNA, "Release this time")
    await _booked_and_paid(h, 2, "stx-kept")
    await h.send(ANNA, "/delete_me")
    await h.tap(ANNA, "Continue")
    await h.tap(ANNA, "Yes, delete everything")
    assert "Your account is deleted." in h.last(ANNA)
    assert "1 payments" in h.last(ANNA)
    _, payments = await rows(h)
    assert [(p.status, p.telegram_charge_id) for p in payments] == [("paid", "stx-kept")]


async def test_a_pre_checkout_does_not_wait_behind_the_payers_slow_update(stars: Harness) -> None:
    """Telegram gives 10 seconds for the answer: a reply of Anna's stuck in sending (rate
    limited, a slow network) must not hold her pre-checkout back."""
    h = stars
    invoice = await hold(h, ANNA)
    release = asyncio.Event()
    send_text = h.messenger.send_text

    async def stuck(chat_id: int, text: str, *args: Any, **kwargs: Any) -> Any:
        if chat_id == ANNA:
            await release.wait()
        return await send_text(chat_id, text, *args, **kwargs)

    h.messenger.send_text = stuck  # type: ignore[method-assign]
    h.dispatcher.submit(h.events.text(ANNA, "/appointments"))
    query = h.events.pre_checkout(ANNA, invoice.payload, invoice.amount, invoice.currency)
    h.dispatcher.submit(query)
    answers = h.messenger.pre_checkout_answers
    async with asyncio.timeout(5):
        while query.pre_checkout.id not in answers:  # type: ignore[union-attr]
            await asyncio.sleep(0.01)
    assert answers[query.pre_checkout.id] == (True, None)  # type: ignore[union-attr]
    release.set()
    await h.dispatcher.drain()
    assert "Awaiting payment" in h.last(ANNA)


async def test_stale_forged_and_banned_payments(stars: Harness) -> None:
    h = stars
    invoice = await hold(h, ANNA)
    assert (await pay(h, ANNA, invoice, "stx-1"))[0]
    # The same invoice again after it was paid: refused at pre-checkout...
    ok, error = await pay(h, ANNA, invoice, "stx-2")
    assert not ok and error and "no longer waiting for payment" in error
    # ...and a second charge that slipped through anyway goes back: nothing new is booked.
    await h.dispatcher.handle(h.events.paid(ANNA, invoice.payload, 250, "stx-2"))
    assert "does not belong to an open booking" in h.messenger.texts_to(ANNA)[-2]
    assert h.messenger.star_refunds == [(ANNA, "stx-2")]
    assert "went back to your Telegram Stars balance" in h.last(ANNA)
    assert len(h.messenger.texts_to(DOC)) == 1  # told of the one booking only
    # A forged payload: huge, emoji, non-Latin.
    for payload in ("💳" * 500, "Ωμέγα", ""):
        forged = Invoice("t", "d", payload, "XTR", 250, "l")
        ok, error = await pay(h, ANNA, forged, "x")
        assert not ok and error and "not valid any more" in error
    # A banned payer is refused even for their own hold.
    ben = await hold(h, BEN, 1)
    async with h.storage.sessions() as session, session.begin():
        await session.execute(
            update(User).where(User.telegram_id == BEN).values(banned_at=h.clock.now)
        )
    ok, error = await pay(h, BEN, ben, "x")
    assert not ok and error == (
        "Payments from this account are not accepted. Please contact the clinic."
    )


async def test_a_card_payment_without_an_open_invoice_is_owed(card: Harness) -> None:
    h = card
    invoice = (await _booked_and_paid_card(h))[1]
    event = h.events.paid(ANNA, invoice.payload, 4990, "tg-twice", "EUR", "prov-twice")
    await h.dispatcher.handle(event)
    assert "will refund €49.90 to you by hand" in h.last(ANNA)
    assert h.messenger.star_refunds == []
    notice = h.last(ADMIN)
    assert "paid without an open invoice" in notice and "prov-twice" in notice
    assert "Anna" not in notice
    # Recorded, not only told: a row of its own, in the owed list and the totals.
    (booked,), (original, stray) = await rows(h)
    assert (stray.appointment_id, stray.patient_id, stray.doctor_id) == (
        None,
        original.patient_id,
        original.doctor_id,
    )
    assert (stray.status, stray.refund_status, stray.refund_reason) == ("paid", "owed", "unmatched")
    assert (stray.amount_minor, stray.refund_minor, stray.provider_charge_id) == (
        4990,
        4990,
        "prov-twice",
    )
    assert original.telegram_charge_id == "tg-card" and booked.status == "booked"
    await h.send(ADMIN, "/admin")
    await h.tap(ADMIN, "Payments")
    await h.tap(ADMIN, "Last 7 days")
    assert "All doctors: paid €99.80 (payments: 2), refunded 0, refunds owed €49.90" in h.last(
        ADMIN
    )
    await h.tap(ADMIN, "Owed refunds")
    assert f"No. {stray.id}: €49.90, Telegram charge id tg-twice" in h.last(ADMIN)
    # The same charge delivered again (a new update): handled once.
    await h.dispatcher.handle(
        h.events.paid(ANNA, invoice.payload, 4990, "tg-twice", "EUR", "prov-twice")
    )
    assert h.last(ANNA) == "This payment was already received; it is being refunded."
    assert len((await rows(h))[1]) == 2


async def test_a_stars_payment_without_an_open_invoice_is_recorded_and_refunded(
    stars: Harness,
) -> None:
    """Its booking gone with the account (an unpaid invoice is erased), the money still comes
    back and is on record; erasing the anchorless row's owner's appointments still works."""
    h = stars
    invoice = await hold(h, ANNA, 1)
    await h.send(ANNA, "/delete_me")
    await h.tap(ANNA, "Continue")
    await h.tap(ANNA, "Yes, delete everything")
    assert (await rows(h))[1] == []
    await h.dispatcher.handle(h.events.paid(ANNA, invoice.payload, 250, "stx-orphan"))
    assert h.messenger.star_refunds == [(ANNA, "stx-orphan")]
    _, (stray,) = await rows(h)
    assert (stray.appointment_id, stray.patient_id, stray.doctor_id) == (None, None, None)
    assert (stray.refund_status, stray.refund_minor) == ("refunded", 250)


async def test_erasure_drops_appointments_beside_a_payment_without_one(storage: Storage) -> None:
    """With only payments kept, an erased patient's unanchored appointments go, even though a
    payment row without an appointment exists (NOT IN over a NULL would have kept them all)."""
    async for h in _harness(storage, {**STARS, "retention_keep": frozenset({"payments"})}, 250):
        invoice = await hold(h, ANNA, 1)
        await pay(h, ANNA, invoice, "stx-first")
        await h.dispatcher.handle(h.events.paid(ANNA, invoice.payload, 250, "stx-again"))
        assert [p.appointment_id is None for p in (await rows(h))[1]] == [False, True]
        await hold(h, BEN, 2)
        await h.send(BEN, "/appointments")
        await h.tap(BEN, "Release this time")
        await h.send(BEN, "/delete_me")
        await h.tap(BEN, "Continue")
        await h.tap(BEN, "Yes, delete everything")
        appointments, _ = await rows(h)
        assert [a.patient_id for a in appointments] == [(await rows(h))[1][0].patient_id]
