"""Signed button data and the per-user incoming limit, through the real dispatcher."""

from __future__ import annotations

import asyncio

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import text

from handlers import callbacks
from handlers.callback_signing import CallbackSigner
from handlers.flood import IncomingLimit, Verdict
from storage.crypto import Cipher, generate_key
from storage.seeding import seed_doctor, seed_patient
from tests.conftest import Storage
from tests.support.harness import make_harness

ANNA, BEN, DOC = 501, 502, 801
TOO_FAST = "You are sending messages faster than I can handle them"
OLD_KEY, NEW_KEY = generate_key(), generate_key()
PURPOSE = b"clinic-callback-signature"


def signer(*keys: str) -> CallbackSigner:
    return CallbackSigner(Cipher(list(keys)).subkeys(PURPOSE))


def test_signatures_are_per_chat_and_survive_a_key_rotation() -> None:
    old = signer(OLD_KEY)
    data = callbacks.pack("rc", "", "chat", "17")
    signed = old.sign(ANNA, data)
    assert old.verify(ANNA, signed) == data
    assert old.verify(BEN, signed) is None  # copied into another chat
    assert old.verify(ANNA, data) is None  # made by hand, unsigned
    assert old.verify(ANNA, signed.replace(":17~", ":18~")) is None  # id changed
    assert old.verify(ANNA, signed[:-1] + ("A" if signed[-1] != "A" else "B")) is None
    assert old.verify(ANNA, None) is None and old.verify(ANNA, "~") is None
    rotated = signer(NEW_KEY, OLD_KEY)
    assert rotated.verify(ANNA, signed) == data  # sent before the rotation, still valid
    assert signer(NEW_KEY).verify(ANNA, signed) is None  # once the old key is dropped


def test_the_longest_packable_data_still_fits_64_bytes_once_signed() -> None:
    longest = callbacks.pack("a" * 12, "b" * 12, "c" * 12, "d" * 16)
    assert len(signer(NEW_KEY).sign(-(10**15), longest).encode()) <= callbacks.MAX_BYTES
    with pytest.raises(ValueError):
        callbacks.pack("a" * 12, "b" * 12, "c" * 12, "d" * 17)


def test_the_incoming_limit_counts_a_window_and_an_album_once() -> None:
    now = [0.0]
    limit = IncomingLimit(3, clock=lambda: now[0])
    assert [limit.check(ANNA) for _ in range(3)] == [Verdict.HANDLE] * 3
    assert limit.check(ANNA) is Verdict.REFUSE_AND_SAY
    assert limit.check(ANNA) is Verdict.REFUSE  # one polite reply per window, not one each
    assert limit.check(BEN) is Verdict.HANDLE  # others are not affected
    now[0] = 61.0
    assert limit.check(ANNA) is Verdict.HANDLE
    assert [limit.check(ANNA, "album-1") for _ in range(10)] == [Verdict.HANDLE] * 10
    assert limit.check(ANNA) is Verdict.HANDLE  # the album counted as one message
    assert limit.check(ANNA) is Verdict.REFUSE_AND_SAY
    assert IncomingLimit(0).check(ANNA) is Verdict.HANDLE  # 0 turns the limit off


@pytest.mark.parametrize("db_kind", ["sqlite", "postgresql"], indirect=True)
async def test_only_buttons_signed_for_this_chat_are_acted_on(storage: Storage) -> None:
    await seed_doctor(storage.sessions, DOC, "Dr Mira Kaur", "Cardiology", "Europe/Berlin")
    await seed_patient(storage.sessions, ANNA, "Anna Schmidt", "Europe/Berlin")
    await seed_patient(storage.sessions, BEN, "Ben Okafor", "Europe/Berlin")
    h = make_harness(storage, signer=signer(NEW_KEY))
    await h.send(ANNA, "/book")
    message_id, signed = h.messenger.button_data(ANNA, "Cardiology")
    assert "~" in signed  # what went out carries the signature
    before = len(h.messenger.texts_to(ANNA))
    unsigned = signed.rpartition("~")[0]
    for forged in (unsigned, signer(OLD_KEY).sign(ANNA, unsigned), signed + "x"):
        event = await h.tap_data(ANNA, message_id, forged)
        assert h.answer(event) == "This button is not valid."
    event = await h.tap_data(BEN, message_id, signed)  # Anna's button replayed by Ben
    assert h.answer(event) == "This button is not valid."
    assert len(h.messenger.texts_to(ANNA)) == before
    await h.tap(ANNA, "Cardiology")  # the genuine tap still works
    assert "Dr Mira Kaur" in str(h.messenger.last_to(ANNA).markup)


@pytest.mark.parametrize("db_kind", ["sqlite"], indirect=True)
async def test_a_flood_from_one_user_gets_one_reply_and_others_are_served(
    storage: Storage,
) -> None:
    await seed_patient(storage.sessions, ANNA, "Anna Schmidt", "Europe/Berlin")
    await seed_patient(storage.sessions, BEN, "Ben Okafor", "Europe/Berlin")
    h = make_harness(storage, incoming_per_minute=20)
    for number in range(100):
        h.dispatcher.submit(h.events.text(ANNA, f"message {number} 🚀 Привет"))
    h.dispatcher.submit(h.events.text(BEN, "/help"))
    await asyncio.wait_for(h.dispatcher.drain(), 30)
    anna = h.messenger.texts_to(ANNA)
    assert sum(TOO_FAST in text for text in anna) == 1
    assert len(anna) == 21  # 20 handled (each answered), one polite refusal
    assert "/book" in h.last(BEN)
    # A tap over the limit is still answered, so no button keeps spinning.
    tap = h.events.callback(ANNA, 1, "bk:-:x:y")
    h.dispatcher.submit(tap)
    await asyncio.wait_for(h.dispatcher.drain(), 10)
    assert tap.callback_id in h.messenger.answers


@pytest.mark.parametrize("db_kind", ["sqlite", "postgresql"], indirect=True)
async def test_a_user_whose_own_data_no_key_opens_is_told_plainly_and_nothing_changes(
    storage: Storage,
) -> None:
    await seed_patient(storage.sessions, ANNA, "Anna Schmidt", "Europe/Berlin")
    foreign = Fernet(generate_key().encode()).encrypt(b"Anna Schmidt").decode()
    async with storage.sessions() as session:
        await session.execute(
            text("UPDATE users SET full_name = :sealed WHERE telegram_id = :id"),
            {"sealed": foreign, "id": ANNA},
        )
        await session.commit()
    h = make_harness(storage)
    await h.send(ANNA, "/settings")
    assert "part of your stored data cannot be opened" in h.last(ANNA)
    assert foreign not in h.last(ANNA)
    event = h.events.callback(ANNA, 1, "st:-:x:y")
    await h.dispatcher.handle(event)
    assert "cannot be opened" in (h.answer(event) or "")
    async with storage.sessions() as session:
        raw = await session.scalar(
            text("SELECT full_name FROM users WHERE telegram_id = :id"), {"id": ANNA}
        )
    assert raw == foreign  # never overwritten


@pytest.mark.parametrize("db_kind", ["sqlite", "postgresql"], indirect=True)
async def test_one_value_no_key_opens_does_not_take_down_other_peoples_screens(
    storage: Storage,
) -> None:
    """Anna's name is sealed with a key nobody has. Her doctor's patient list and an admin's
    search still work: her name reads as a marker (never ciphertext), Ben's as itself."""
    from datetime import UTC, datetime, timedelta

    from tests.support.clinic_records import (
        doctor_id_of,
        seed_closed_consultation,
        unlocked_session,
        user_id_of,
    )
    from tests.support.harness import Clock

    now, admin = datetime(2026, 12, 3, 10, 0, tzinfo=UTC), 900
    await seed_doctor(storage.sessions, DOC, "Dr Mira Kaur", "Cardiology")
    await seed_patient(storage.sessions, ANNA, "Anna Schmidt", phone="+4915112345678")
    await seed_patient(storage.sessions, BEN, "Ben Okafor", phone="+4915112345679")
    doctor = await doctor_id_of(storage.sessions, DOC)
    await seed_closed_consultation(storage.sessions, doctor, ANNA, now - timedelta(days=2))
    await seed_closed_consultation(storage.sessions, doctor, BEN, now - timedelta(days=3))
    await unlocked_session(storage.sessions, DOC, now)
    foreign = Cipher([generate_key()]).encrypt("Anna Schmidt")
    async with storage.sessions() as session:
        await session.execute(
            text("UPDATE users SET full_name = :sealed WHERE id = :id"),
            {"sealed": foreign, "id": await user_id_of(storage.sessions, ANNA)},
        )
        await session.commit()
    h = make_harness(storage, admin_ids=frozenset({admin}), clock=Clock(now))
    await h.send(DOC, "/records")
    assert h.last(DOC).startswith("Your patients (2).")
    labels = [b.text for row in h.messenger.last_to(DOC).markup.rows for b in row]  # type: ignore[union-attr]
    assert labels == ["Ben Okafor", "⚠ (cannot be opened)"]
    await h.tap(DOC, "Ben Okafor")
    assert "Record of Ben Okafor:" in h.messenger.texts_to(DOC)
    await h.send(admin, "/admin")
    await h.tap(admin, "Find a patient")
    await h.send(admin, "+4915112345678")
    assert h.last(admin).startswith("<b>#2 ⚠ (cannot be opened) (Telegram id 501)</b>")
    assert not any(
        foreign in text for text in h.messenger.texts_to(DOC) + h.messenger.texts_to(admin)
    )
    async with storage.sessions() as session:
        raw = await session.scalar(
            text("SELECT full_name FROM users WHERE telegram_id = :id"), {"id": ANNA}
        )
    assert raw == foreign  # nothing overwritten
