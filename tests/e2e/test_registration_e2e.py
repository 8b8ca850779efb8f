"""A patient registers through the real bot process talking HTTP to the Bot API emulator."""

from __future__ import annotations

import pytest

from bot.emulator import SimulatedUser
from storage.unit_of_work import UnitOfWork
from tests.e2e.conftest import ADMIN_ID, World

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.e2e]

SECRET_NAME = "Annabelle Quintessa Ravensworth"
SECRET_PHONE = "+4915199887766"


async def consent_and_name(user: SimulatedUser, name: str) -> None:
    await user.send_command("start")
    await user.expect("not for emergencies")
    tap = await user.tap("✅ I agree")
    await tap.answer()
    await user.expect("full name")
    await user.send_text(name)


async def test_a_patient_registers_through_every_step(world: World) -> None:
    anna = world.emulator.user("Annabelle", language_code="en")
    anna.phone = SECRET_PHONE
    await consent_and_name(anna, SECRET_NAME)
    await anna.expect("date of birth")
    await anna.send_text("17 May 1990")
    await anna.expect("phone number")
    assert anna.reply_buttons() == ["📱 Share my phone number"]
    await anna.press("📱 Share my phone number")
    await anna.expect("got your number")
    await anna.expect("time zone")
    await (await anna.tap("Asia/Kolkata")).answer()
    summary = await anna.expect("Please check your details")
    assert SECRET_NAME in summary.text and SECRET_PHONE in summary.text
    assert "May 17, 1990" in summary.text and "Asia/Kolkata" in summary.text
    await (await anna.tap("✅ Confirm")).answer()
    await anna.expect(f"You are registered, {SECRET_NAME}")

    async with UnitOfWork(world.sessions) as uow:
        user = await uow.users.by_telegram_id(anna.id)
        assert user is not None
        assert (user.role, user.full_name, user.phone, user.date_of_birth, user.timezone) == (
            "patient",
            SECRET_NAME,
            SECRET_PHONE,
            "1990-05-17",
            "Asia/Kolkata",
        )
        assert user.consent_version and user.consent_at is not None
        assert await uow.conversations.get(anna.id) is None
    commands = [c["command"] for c in world.emulator.commands_for(anna.id)]
    assert commands == [
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

    if world.db_kind == "sqlite":
        # Closing a file descriptor drops every POSIX lock this process holds on that file,
        # which would leave an open SQLite connection here on a stale WAL: close them first.
        await world.engine.dispose()
        raw = b"".join(path.read_bytes() for path in world.database_files())
        assert raw, "the SQLite files should exist"
        for secret in (SECRET_NAME, SECRET_PHONE, SECRET_PHONE.lstrip("+"), "Ravensworth"):
            assert secret.encode() not in raw


async def test_a_restart_mid_registration_continues_from_the_same_step(world: World) -> None:
    ben = world.emulator.user("Ben")
    await consent_and_name(ben, "Benedikt Müller")
    await ben.expect("date of birth")
    await ben.send_text("03/04/1975")
    await ben.expect("phone number")

    assert await world.bot.stop() == 0
    await ben.send_text("+44 20 7946 0958")  # typed while the bot is down
    await world.bot.start()

    await ben.expect("time zone")
    await (await ben.tap("Europe/Berlin")).answer()
    summary = await ben.expect("Please check your details")
    assert "Benedikt Müller" in summary.text and "April 3, 1975" in summary.text
    await (await ben.tap("✅ Confirm")).answer()
    await ben.expect("You are registered")


async def test_someone_elses_contact_is_refused(world: World) -> None:
    cara = world.emulator.user("Cara")
    await consent_and_name(cara, "Cara Lind")
    await cara.expect("date of birth")
    await cara.send_text("1988-02-29")
    await cara.expect("phone number")
    await cara.share_contact("+4915100000042", user_id=999_999)
    await cara.expect("That contact is not yours")
    await cara.share_contact("+4915100000042", user_id=None)
    await cara.expect("That contact is not yours")
    await cara.send_text("+4915100000042")
    await cara.expect("time zone")


@pytest.mark.parametrize(
    ("name", "reply"),
    [
        ("A" * 5000, "100 characters at most"),
        ("Dana 🌸✨", "no digits, emoji or other symbols"),
        ("", None),
    ],
)
async def test_bad_names_get_a_reason_and_keep_the_step(
    world: World, name: str, reply: str | None
) -> None:
    dana = world.emulator.user("Dana")
    await dana.send_command("start")
    await dana.expect("not for emergencies")
    await (await dana.tap("✅ I agree")).answer()
    await dana.expect("full name")
    if reply is None:
        await dana.send_photo(caption="this is me")
        await dana.expect("I need your name as text")
    else:
        await dana.send_text(name)
        await dana.expect(reply)
    await dana.send_text("देवनागरी नाम")  # Devanagari is a name like any other
    await dana.expect("date of birth")


async def test_wrong_dates_are_explained(world: World) -> None:
    eve = world.emulator.user("Eve")
    await consent_and_name(eve, "Eve Adams")
    await eve.expect("date of birth")
    for text, reply in [
        ("31.12.2099", "in the future"),
        ("01.01.1800", "older than 120"),
        ("tomorrow", "could not read"),
        ("12 June", "four digits"),
    ]:
        await eve.send_text(text)
        await eve.expect(reply)
    await eve.send_text("12 June 2001")
    await eve.expect("phone number")


async def test_stale_button_from_an_earlier_message(world: World) -> None:
    fay = world.emulator.user("Fay")
    await fay.send_command("start")
    consent = await fay.expect("not for emergencies")
    await (await fay.tap("✅ I agree")).answer()
    await fay.expect("full name")
    # The consent message was edited and lost its buttons; a client that still shows them
    # (or a replayed tap) sends the old data again:
    stale_data = consent.get("reply_markup") or {}
    assert not stale_data, "buttons should be removed once used"
    # A replayed or hand-kept tap of the old consent button:
    consent_data = world.emulator.calls_of("sendMessage")
    data = next(
        c.params["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
        for c in reversed(consent_data)
        if c.params.get("chat_id") == fay.id
        and "reply_markup" in c.params
        and "inline_keyboard" in c.params["reply_markup"]
    )
    tap = await fay.tap_data(data, consent.message_id)
    answer = await tap.answer()
    assert answer["text"] == "This button is no longer active."
    await fay.send_text("Fay Wray")
    await fay.expect("date of birth")


async def test_the_same_update_delivered_twice_is_handled_once(world: World) -> None:
    gus = world.emulator.user("Gus")
    message = await gus.send_command("help")
    await gus.expect("/start")
    update_id = next(
        update_id
        for update_id, update in world.emulator.state.history.items()
        if update.get("message", {}).get("message_id") == message["message_id"]
        and update["message"]["chat"]["id"] == gus.id
    )
    assert update_id is not None
    world.emulator.redeliver(update_id)
    await gus.send_text("/cancel")
    await gus.expect("nothing to cancel")
    helps = [m for m in gus.messages if "This bot lets you consult" in m.text]
    assert len(helps) == 1


async def test_429_is_waited_out_and_403_marks_the_user_unreachable(world: World) -> None:
    hal = world.emulator.user("Hal")
    world.emulator.fail_next("sendMessage", error_code=429, retry_after=1, chat_id=hal.id)
    await hal.send_command("help")
    await hal.expect("/start")  # arrived after the wait

    await consent_and_name(hal, "Hal Jordan")
    await hal.expect("date of birth")
    await hal.send_command("cancel")
    await hal.expect("Nothing you entered was kept")

    ivy = world.emulator.user("Ivy")
    ivy.phone = "+4915100000777"
    await consent_and_name(ivy, "Ivy Green")
    await ivy.expect("date of birth")
    await ivy.send_text("01.01.1990")
    await ivy.expect("phone number")
    await ivy.press("📱 Share my phone number")
    await ivy.expect("time zone")
    await (await ivy.tap("Europe/London")).answer()
    await ivy.expect("Please check your details")
    await (await ivy.tap("✅ Confirm")).answer()
    await ivy.expect("You are registered")
    world.emulator.fail_next(
        "sendMessage",
        error_code=403,
        description="Forbidden: bot was blocked by the user",
        chat_id=ivy.id,
    )
    await ivy.send_command("help")
    await ivy.send_command("start")
    await ivy.expect("Welcome back, Ivy Green")
    async with UnitOfWork(world.sessions) as uow:
        user = await uow.users.by_telegram_id(ivy.id)
        assert user is not None and user.unreachable_since is not None
    assert world.bot.running


async def test_admin_gets_the_admin_help_and_menu(world: World) -> None:
    admin = world.emulator.user("Admin", user_id=ADMIN_ID)
    await admin.send_command("start")
    await admin.expect("clinic admin")
    await admin.send_command("help")
    await admin.expect("You are a clinic admin")


async def test_logs_hold_ids_but_no_health_data(world: World) -> None:
    log = world.bot.log_text()
    assert '"event": "ready"' in log
    for secret in (SECRET_NAME, SECRET_PHONE, "Benedikt", "Hal Jordan", "1990-05-17"):
        assert secret not in log
    assert "Traceback" not in log
