"""PIN-locked sessions on a clock the test controls: set, unlock, idle lock with its warning,
five failures then a lockout, every PIN message deleted, only a hash stored."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url

from handlers import callbacks
from handlers.events import Attachment, Event, EventKind, Sender
from jobs import runtime as job_runtime
from jobs import tasks
from storage.models import AuditEntry, User
from storage.seeding import seed_doctor, seed_patient
from tests.conftest import Storage
from tests.support.clinic_records import Said, doctor_id_of, seed_closed_consultation, user_id_of
from tests.support.harness import Clock, Harness, make_harness, run_jobs_here

pytestmark = pytest.mark.parametrize("db_kind", ["sqlite", "postgresql"], indirect=True)

NOW = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)
ANNA, DOC = 501, 801
PIN = "73915"
SUMMARY = "Mild hypertension; recheck in a month."
CHAT_LINE = "my pressure is 150/95 today"


@pytest.fixture
async def h(storage: Storage) -> AsyncIterator[Harness]:
    await seed_doctor(storage.sessions, DOC, "Dr Mira Kaur", "Cardiology", "Europe/Berlin")
    await seed_patient(storage.sessions, ANNA, "Anna Schmidt", "Europe/Berlin")
    harness = make_harness(storage, clock=Clock(NOW))
    run_jobs_here(harness)
    yield harness
    job_runtime.install(None)


async def anna_has_a_visit(h: Harness) -> None:
    await seed_closed_consultation(
        h.storage.sessions,
        await doctor_id_of(h.storage.sessions, DOC),
        ANNA,
        NOW - timedelta(days=2),
        summary=SUMMARY,
        chat=[Said(True, CHAT_LINE)],
    )


async def user(h: Harness, telegram_id: int) -> User:
    async with h.storage.sessions() as session:
        found = await session.scalar(select(User).where(User.telegram_id == telegram_id))
        assert found is not None
        return found


async def audit_actions(h: Harness) -> list[str]:
    async with h.storage.sessions() as session:
        rows = await session.scalars(select(AuditEntry).order_by(AuditEntry.id))
        return [row.action for row in rows if row.action.startswith("pin")]


async def send_pin(h: Harness, telegram_id: int, text: str) -> int:
    """Send a PIN message; returns its message id (it must be deleted)."""
    event = h.events.text(telegram_id, text)
    await h.dispatcher.handle(event)
    assert event.message_id is not None
    return event.message_id


async def set_pin(h: Harness, telegram_id: int, pin: str = PIN) -> list[int]:
    await h.send(telegram_id, "/pin")
    return [await send_pin(h, telegram_id, pin), await send_pin(h, telegram_id, pin)]


def deleted(h: Harness, telegram_id: int) -> set[int]:
    return {m for chat, m in h.messenger.deleted if chat == telegram_id}


async def test_setting_a_pin_deletes_every_pin_message_and_stores_only_a_hash(
    h: Harness, storage: Storage
) -> None:
    await h.send(ANNA, "/pin")
    assert "Choose a PIN of 4 to 8 digits" in h.last(ANNA)
    tries = [await send_pin(h, ANNA, text) for text in ("1234", "12a4", "🔐🔐🔐🔐")]
    assert "too easy to guess" in h.messenger.texts_to(ANNA)[-3]
    assert "4 to 8 digits (0–9)" in h.last(ANNA)
    tries.append(await send_pin(h, ANNA, PIN))
    assert "same PIN again" in h.last(ANNA)
    tries.append(await send_pin(h, ANNA, "73916"))
    assert "were different" in h.last(ANNA)
    tries += [await send_pin(h, ANNA, PIN), await send_pin(h, ANNA, PIN)]
    assert "Your PIN is set" in h.last(ANNA)
    assert set(tries) <= deleted(h, ANNA)  # even the wrong and malformed ones

    stored = await user(h, ANNA)
    assert stored.pin_hash is not None and stored.pin_hash.startswith("$argon2id$")
    assert PIN not in stored.pin_hash
    assert stored.session_active_at == NOW
    if make_url(storage.url).get_backend_name() == "sqlite":
        path = Path(make_url(storage.url).database or "")
        raw = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
        assert PIN.encode() not in raw
    assert await audit_actions(h) == ["pin_set"]


async def test_locked_records_ask_for_the_pin_then_show_what_was_asked_for(h: Harness) -> None:
    await anna_has_a_visit(h)
    await h.send(ANNA, "/records")
    assert "Your records, newest first" in "\n".join(h.messenger.texts_to(ANNA))  # no PIN yet
    await set_pin(h, ANNA)
    await h.send(ANNA, "/lock")
    assert "Locked." in h.last(ANNA)
    before = len(h.messenger.texts_to(ANNA))
    await h.send(ANNA, "/records")
    assert h.messenger.texts_to(ANNA)[before:] == [
        "Your records are locked. Please type your PIN (or /cancel)."
    ]
    await h.send(ANNA, "hello")  # not a PIN: asked again, not counted
    assert "Please type your PIN" in h.last(ANNA)
    message = await send_pin(h, ANNA, PIN)
    assert message in deleted(h, ANNA)
    shown = "\n".join(h.messenger.texts_to(ANNA))
    assert "Unlocked." in shown and SUMMARY in h.messenger.texts_to(ANNA)[-2] + shown
    # A records button from a locked session waits for the PIN too, then opens.
    await h.send(ANNA, "/lock")
    event = await h.tap(ANNA, "Chat history")
    assert "Please type your PIN" in h.last(ANNA)
    assert h.answer(event) is None
    await send_pin(h, ANNA, PIN)
    assert CHAT_LINE in h.last(ANNA)
    assert (await audit_actions(h)).count("pin_unlock") == 2


async def test_five_wrong_pins_lock_the_account_for_fifteen_minutes(h: Harness) -> None:
    await set_pin(h, ANNA)
    await h.send(ANNA, "/lock")
    await h.send(ANNA, "/records")
    for left in (4, 3, 2, 1):
        await send_pin(h, ANNA, "00000")
        assert f"Tries left before a 15-minute lock: {left}" in h.last(ANNA)
    await send_pin(h, ANNA, "00000")
    assert "Too many wrong PINs" in h.last(ANNA) and "11:15" in h.last(ANNA)  # Berlin time
    # The right PIN typed during the lockout opens nothing, and is not left in the chat.
    late_try = await send_pin(h, ANNA, PIN)
    assert late_try in deleted(h, ANNA)
    assert "Too many wrong PINs" in h.last(ANNA) and "I delete what you type" in h.last(ANNA)
    await h.send(ANNA, "/cancel")
    assert "Nothing about your PIN changed" in h.last(ANNA)
    await h.send(ANNA, "/records")
    assert "Too many wrong PINs" in h.last(ANNA)  # even with the right PIN ready
    await h.send(ANNA, "/pin")
    assert "Too many wrong PINs" in h.last(ANNA)
    assert await send_pin(h, ANNA, PIN) in deleted(h, ANNA)
    stored = await user(h, ANNA)
    assert stored.pin_locked_until == NOW + timedelta(minutes=15)
    assert stored.session_active_at is None
    assert await audit_actions(h) == ["pin_set"] + ["pin_failed"] * 5 + ["pin_lockout"]

    h.clock.now = NOW + timedelta(minutes=16)
    await h.send(ANNA, "/records")
    await send_pin(h, ANNA, PIN)
    assert "Unlocked." in "\n".join(h.messenger.texts_to(ANNA)[-3:])
    assert (await user(h, ANNA)).pin_failures == 0


async def test_a_doctor_must_set_a_pin_before_reading_records(h: Harness) -> None:
    await anna_has_a_visit(h)
    await h.send(DOC, "/records")
    assert "protected by a PIN. Please choose one" in h.last(DOC)
    await send_pin(h, DOC, PIN)
    await send_pin(h, DOC, PIN)
    assert "Your patients (1)" in "\n".join(h.messenger.texts_to(DOC)[-3:])
    # /cancel while asked leaves nothing half-set.
    await h.send(DOC, "/lock")
    await h.send(DOC, "/records")
    await h.send(DOC, "/cancel")
    assert "Nothing about your PIN changed" in h.last(DOC)


async def test_a_pin_typed_after_the_command_is_deleted_and_not_used(h: Harness) -> None:
    command = await send_pin(h, ANNA, f"/pin {PIN}")
    assert command in deleted(h, ANNA)
    texts = h.messenger.texts_to(ANNA)
    assert texts[-2] == "I deleted your message: type your PIN on its own when I ask for it."
    assert "Choose a PIN of 4 to 8 digits" in texts[-1]
    assert (await user(h, ANNA)).pin_hash is None
    # Not registered yet: the answer is "register first", and the PIN still leaves the chat.
    stranger = 777_001
    command = await send_pin(h, stranger, "/pin 4826")
    assert command in deleted(h, stranger)
    assert h.last(stranger) == "Please register first: send /start."


async def test_changing_the_pin_needs_the_current_one(h: Harness) -> None:
    await set_pin(h, ANNA)
    await h.send(ANNA, "/pin")
    assert "first type your current PIN" in h.last(ANNA)
    await send_pin(h, ANNA, "00000")
    assert "Tries left" in h.last(ANNA)
    await send_pin(h, ANNA, PIN)
    assert "Now type your new PIN" in h.last(ANNA)
    await send_pin(h, ANNA, "480263")
    await send_pin(h, ANNA, "480263")
    assert "Your PIN is set" in h.last(ANNA)
    await h.send(ANNA, "/lock")
    await h.send(ANNA, "/records")
    await send_pin(h, ANNA, PIN)
    assert "That PIN is not right" in h.last(ANNA)


async def test_an_idle_session_is_warned_once_kept_then_locked(h: Harness) -> None:
    await set_pin(h, ANNA)
    h.clock.now = NOW + timedelta(minutes=9)
    await tasks.idle_sweep()
    await tasks.idle_sweep()  # swept again: still one warning
    warnings = [t for t in h.messenger.texts_to(ANNA) if "lock in a minute" in t]
    assert len(warnings) == 1
    event = await h.tap(ANNA, "Keep unlocked")
    assert h.answer(event) == "Still unlocked."
    assert "Still unlocked. Carry on." in h.messenger.texts_to(ANNA)  # the warning, edited
    h.clock.now = NOW + timedelta(minutes=18)  # 9 minutes after "Keep unlocked"
    await tasks.idle_sweep()
    assert "lock in a minute" in h.last(ANNA)
    h.clock.now = NOW + timedelta(minutes=19)
    await tasks.idle_sweep()
    await tasks.idle_sweep()
    assert sum("Your records locked after 10 minutes" in t for t in h.messenger.texts_to(ANNA)) == 1
    assert (await user(h, ANNA)).session_active_at is None
    event = await h.tap(ANNA, "Keep unlocked")  # the old warning's button
    assert "already locked" in (h.answer(event) or "")
    await h.send(ANNA, "/records")
    assert "Please type your PIN" in h.last(ANNA)


async def test_activity_keeps_the_session_and_a_long_pause_locks_it_without_the_sweep(
    h: Harness,
) -> None:
    await set_pin(h, ANNA)
    h.clock.now = NOW + timedelta(minutes=8)
    await h.send(ANNA, "/help")
    assert (await user(h, ANNA)).session_active_at == NOW + timedelta(minutes=8)
    h.clock.now = NOW + timedelta(minutes=30)
    await h.send(ANNA, "/records")
    assert "Please type your PIN" in h.last(ANNA)
    assert await user_id_of(h.storage.sessions, ANNA)


async def test_media_huge_text_and_buttons_where_a_pin_is_expected_change_nothing(
    h: Harness,
) -> None:
    await h.send(ANNA, "/pin")
    photo = Event(
        update_id=90_001,
        kind=EventKind.MESSAGE,
        sender=Sender(ANNA, "Anna"),
        chat_id=ANNA,
        message_id=90_001,
        attachments=(Attachment("photo", "pin-photo", "u1"),),
    )
    await h.dispatcher.handle(photo)
    assert "can't read a PIN from a file" in h.last(ANNA)
    assert 90_001 in deleted(h, ANNA)  # a caption could have carried it
    for text in ("7" * 5000, "٧٣٩١٥", "73 915", "７３９１５"):
        await send_pin(h, ANNA, text)
        assert "4 to 8 digits (0–9)" in h.last(ANNA)
    event = await h.tap_data(ANNA, 1, callbacks.pack("pin", "x", "new", "go"))
    assert h.answer(event) == "This button is no longer active."
    stored = await user(h, ANNA)
    assert stored.pin_hash is None and stored.session_active_at is None
    await send_pin(h, ANNA, PIN)  # the flow is still where it was
    assert "same PIN again" in h.last(ANNA)


async def test_delete_me_asks_for_the_pin_of_a_patient_who_has_one(h: Harness) -> None:
    await set_pin(h, ANNA)
    await h.send(ANNA, "/lock")
    before = len(h.messenger.texts_to(ANNA))
    await h.send(ANNA, "/delete_me")
    assert h.messenger.texts_to(ANNA)[before:] == [
        "Your records are locked. Please type your PIN (or /cancel)."
    ]
    await send_pin(h, ANNA, PIN)
    assert "Delete your account?" in h.last(ANNA)
    assert (await user(h, ANNA)).full_name == "Anna Schmidt"  # asked, nothing erased yet
