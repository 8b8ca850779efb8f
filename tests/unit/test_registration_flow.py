"""Registration through the core with a recording fake of the port (no network)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from handlers.port import InlineKeyboard, RecipientUnavailable, ReplyKeyboard
from storage.unit_of_work import UnitOfWork
from tests.conftest import Storage
from tests.support.harness import Clock, Harness, make_harness

pytestmark = pytest.mark.parametrize("db_kind", ["sqlite"], indirect=True)

NOW = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)
ANNA = 501
ADMIN = 900


@pytest.fixture
def harness(storage: Storage) -> Harness:
    return make_harness(storage, admin_ids=frozenset({ADMIN}), clock=Clock(NOW))


async def test_full_registration_creates_the_patient(harness: Harness) -> None:
    await harness.register(ANNA)
    assert "You are registered, Anna Schmidt" in harness.last(ANNA)
    async with UnitOfWork(harness.storage.sessions) as uow:
        user = await uow.users.by_telegram_id(ANNA)
        assert user is not None
        assert (user.full_name, user.date_of_birth, user.phone, user.timezone) == (
            "Anna Schmidt",
            "1990-05-17",
            "+4915112345678",
            "Europe/Berlin",
        )
        assert user.consent_version and user.consent_at == NOW
        assert await uow.conversations.get(ANNA) is None
    assert [c.command for c in harness.messenger.commands[ANNA]] == [
        "start",
        "book",
        "appointments",
        "records",
        "upload",
        "export",
        "delete_me",
        "pin",
        "lock",
        "settings",
        "help",
        "cancel",
    ]


async def test_welcome_says_not_for_emergencies_and_declining_stores_nothing(
    harness: Harness,
) -> None:
    await harness.send(ANNA, "/start")
    assert "not for emergencies" in harness.last(ANNA)
    await harness.tap(ANNA, "I do not agree")
    assert "nothing about you was stored" in harness.last(ANNA)
    async with UnitOfWork(harness.storage.sessions) as uow:
        assert await uow.users.by_telegram_id(ANNA) is None
        assert await uow.conversations.get(ANNA) is None


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ("2099-01-01", "in the future"),
        ("01.01.1850", "older than 120"),
        ("17 May", "four digits"),
        ("yesterday-ish", "could not read"),
    ],
)
async def test_bad_dates_are_refused_with_a_reason(
    harness: Harness, answer: str, reason: str
) -> None:
    await harness.send(ANNA, "/start")
    await harness.tap(ANNA, "✅ I agree")
    await harness.send(ANNA, "Anna")
    await harness.send(ANNA, answer)
    assert reason in harness.last(ANNA)
    async with UnitOfWork(harness.storage.sessions) as uow:
        conv = await uow.conversations.get(ANNA)
        assert conv is not None and conv.step == "dob" and conv.data["name"] == "Anna"


@pytest.mark.parametrize(
    ("name", "accepted"),
    [
        ("x" * 5000, False),
        ("Anna 😀", False),
        ("12345", False),
        ("राहुल शर्मा", True),
        ("Zoë O’Brien-Núñez", True),
        ("李小龙", True),
    ],
)
async def test_names_in_any_script_but_no_emoji_or_floods(
    harness: Harness, name: str, accepted: bool
) -> None:
    await harness.send(ANNA, "/start")
    await harness.tap(ANNA, "✅ I agree")
    await harness.send(ANNA, name)
    async with UnitOfWork(harness.storage.sessions) as uow:
        conv = await uow.conversations.get(ANNA)
        assert conv is not None
        assert (conv.step == "dob") is accepted
        assert (conv.data.get("name") == name) is accepted
    if not accepted:
        assert "name" in harness.last(ANNA)


async def test_photo_where_text_is_expected(harness: Harness) -> None:
    await harness.send(ANNA, "/start")
    await harness.tap(ANNA, "✅ I agree")
    await harness.dispatcher.handle(harness.events.photo(ANNA))
    assert "I need your name as text" in harness.last(ANNA)


async def test_someone_elses_contact_is_refused(harness: Harness) -> None:
    await harness.send(ANNA, "/start")
    await harness.tap(ANNA, "✅ I agree")
    await harness.send(ANNA, "Anna")
    await harness.send(ANNA, "17.05.1990")
    assert isinstance(harness.messenger.last_to(ANNA).markup, ReplyKeyboard)
    await harness.dispatcher.handle(harness.events.contact(ANNA, "4915100000001", owner=777))
    assert "That contact is not yours" in harness.last(ANNA)
    await harness.dispatcher.handle(harness.events.contact(ANNA, "4915112345678", owner=ANNA))
    assert "time zone" in harness.last(ANNA)


async def test_a_phone_registered_to_another_account_is_caught(harness: Harness) -> None:
    await harness.register(ANNA, phone="+4915112345678")
    other = 502
    await harness.send(other, "/start")
    await harness.tap(other, "✅ I agree")
    await harness.send(other, "Bob")
    await harness.send(other, "01.02.1980")
    await harness.send(other, "+49 151 1234 5678")
    assert "already registered to another account" in harness.last(other)


async def test_stale_and_forged_buttons_change_nothing(harness: Harness) -> None:
    await harness.send(ANNA, "/start")
    consent = await harness.tap(ANNA, "✅ I agree")
    # The same consent button again, now that the user is at the name step:
    again = harness.events.callback(ANNA, consent.message_id or 0, consent.callback_data or "")
    await harness.dispatcher.handle(again)
    assert harness.messenger.answers[again.callback_id or ""][0] == (
        "This button is no longer active."
    )
    forged = harness.events.callback(ANNA, 1, "rg:zzzzzz:confirm:ok")
    await harness.dispatcher.handle(forged)
    garbage = harness.events.callback(ANNA, 1, "DROP TABLE users")
    await harness.dispatcher.handle(garbage)
    assert harness.messenger.answers[garbage.callback_id or ""][0] == "This button is not valid."
    async with UnitOfWork(harness.storage.sessions) as uow:
        conv = await uow.conversations.get(ANNA)
        assert conv is not None and conv.step == "name"
        assert await uow.users.by_telegram_id(ANNA) is None


async def test_the_same_update_twice_is_handled_once(harness: Harness) -> None:
    event = harness.events.text(ANNA, "/start")
    await harness.dispatcher.handle(event)
    await harness.dispatcher.handle(event)
    assert len(harness.messenger.texts_to(ANNA)) == 1


async def test_a_burst_fills_consecutive_fields_in_order(harness: Harness) -> None:
    await harness.send(ANNA, "/start")
    await harness.tap(ANNA, "✅ I agree")
    for text in ("Anna Schmidt", "17.05.1990", "+4915112345678"):
        harness.dispatcher.submit(harness.events.text(ANNA, text))
    await harness.dispatcher.drain()
    async with UnitOfWork(harness.storage.sessions) as uow:
        conv = await uow.conversations.get(ANNA)
        assert conv is not None and conv.step == "tz"
        assert conv.data["name"] == "Anna Schmidt"
        assert conv.data["dob"] == "1990-05-17"
        assert conv.data["phone"] == "+4915112345678"


async def test_edit_from_the_summary_returns_to_the_summary(harness: Harness) -> None:
    await harness.send(ANNA, "/start")
    await harness.tap(ANNA, "✅ I agree")
    await harness.send(ANNA, "Anna")
    await harness.send(ANNA, "17.05.1990")
    await harness.send(ANNA, "+4915112345678")
    await harness.send(ANNA, "utc+5:30")
    assert "Please check your details" in harness.last(ANNA)
    await harness.tap(ANNA, "Edit name")
    await harness.send(ANNA, "Anna Maria")
    assert "Anna Maria" in harness.last(ANNA) and "UTC+05:30" in harness.last(ANNA)


async def test_cancel_mid_flow_keeps_nothing_and_says_so(harness: Harness) -> None:
    await harness.send(ANNA, "/start")
    await harness.tap(ANNA, "✅ I agree")
    await harness.send(ANNA, "Anna")
    await harness.send(ANNA, "/cancel")
    assert "Nothing you entered was kept" in harness.last(ANNA)
    await harness.send(ANNA, "/cancel")
    assert "nothing to cancel" in harness.last(ANNA)


async def test_commands_mid_flow_lose_nothing(harness: Harness) -> None:
    await harness.send(ANNA, "/start")
    await harness.tap(ANNA, "✅ I agree")
    await harness.send(ANNA, "Anna")
    await harness.send(ANNA, "/help")
    assert "/cancel" in harness.last(ANNA)
    await harness.send(ANNA, "/book")
    assert "Please register first" in harness.last(ANNA)
    await harness.send(ANNA, "/frobnicate")
    assert "don't know that command" in harness.last(ANNA)
    await harness.send(ANNA, "/start")
    assert "date of birth" in harness.last(ANNA)
    async with UnitOfWork(harness.storage.sessions) as uow:
        conv = await uow.conversations.get(ANNA)
        assert conv is not None and conv.data["name"] == "Anna"


async def test_user_text_is_escaped_in_html(harness: Harness) -> None:
    await harness.send(ANNA, "/start")
    await harness.tap(ANNA, "✅ I agree")
    await harness.send(ANNA, "Anna")
    await harness.send(ANNA, "17.05.1990")
    await harness.send(ANNA, "+4915112345678")
    await harness.tap(ANNA, "Europe/Berlin")
    await harness.tap(ANNA, "Edit name")
    await harness.send(ANNA, "Anna <b>")  # refused: not a name
    assert "<b>" not in harness.last(ANNA).replace("<b>Name", "")


async def test_settings_change_a_field_for_a_registered_patient(harness: Harness) -> None:
    await harness.register(ANNA)
    await harness.send(ANNA, "/settings")
    assert "Your profile" in harness.last(ANNA)
    await harness.tap(ANNA, "Edit time zone")
    await harness.send(ANNA, "Asia/Kolkata")
    assert "Asia/Kolkata" in harness.last(ANNA)
    await harness.tap(ANNA, "Done")
    async with UnitOfWork(harness.storage.sessions) as uow:
        user = await uow.users.by_telegram_id(ANNA)
        assert user is not None and user.timezone == "Asia/Kolkata"


async def test_admins_get_their_menu_without_registering(harness: Harness) -> None:
    await harness.send(ADMIN, "/start")
    assert "clinic admin" in harness.last(ADMIN)
    await harness.send(ADMIN, "/help")
    assert "You are a clinic admin" in harness.last(ADMIN)


async def test_a_user_who_blocked_the_bot_is_marked_and_nothing_crashes(
    harness: Harness,
) -> None:
    harness.messenger.failures.append(RecipientUnavailable("Forbidden: bot was blocked"))
    await harness.send(ANNA, "/start")
    assert harness.unreachable == [ANNA]
    await harness.send(ANNA, "/start")
    assert isinstance(harness.messenger.last_to(ANNA).markup, InlineKeyboard)
