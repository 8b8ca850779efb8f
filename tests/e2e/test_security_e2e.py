"""PIN sessions, signed buttons and the incoming limit through the real bot process and the
emulator, on both frameworks, with the production default of 20 messages a minute."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from handlers import callbacks
from storage.seeding import seed_doctor, seed_patient
from tests.e2e.conftest import World
from tests.support.clinic_records import Said, seed_closed_consultation

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.e2e]

PIN = "73915"
SUMMARY = "Sprained left wrist, splint for a week"
CHAT_TEXT = "The swelling went down overnight"
TOO_FAST = "You are sending messages faster than I can handle them"


@pytest.fixture(scope="module")
def bot_env() -> dict[str, str]:
    return {"INCOMING_PER_MINUTE": "20"}  # the default, which the other modules lift


async def test_a_pin_guards_the_record_and_never_stays_in_the_chat(world: World) -> None:
    doctor = world.emulator.user("Mira", user_id=720_001)
    doctor_id = await seed_doctor(
        world.sessions, doctor.id, "Dr Mira Kaur", "Orthopaedics", "Europe/Berlin"
    )
    zoe = world.emulator.user("Zoe", user_id=720_002)
    await seed_patient(world.sessions, zoe.id, "Zoe Lang", "Europe/Berlin")
    visit = await seed_closed_consultation(
        world.sessions,
        doctor_id,
        zoe.id,
        datetime.now(UTC).replace(microsecond=0) - timedelta(days=2),
        summary=SUMMARY,
        chat=[Said(True, CHAT_TEXT)],
    )

    await zoe.send_command("pin")
    await zoe.expect("Choose a PIN")
    first = await zoe.send_text(PIN)
    await zoe.expect("same PIN again")
    second = await zoe.send_text(PIN)
    await zoe.expect("Your PIN is set")
    await zoe.expect_deleted(first["message_id"])
    await zoe.expect_deleted(second["message_id"])
    raw = b"".join(path.read_bytes() for path in world.database_files())
    if raw:
        assert PIN.encode() not in raw

    await zoe.send_command("lock")
    await zoe.expect("Locked.")
    await zoe.send_command("records")
    await zoe.expect("Your records are locked")
    wrong = await zoe.send_text("40404")
    await zoe.expect("Tries left before a 15-minute lock: 4")
    await zoe.expect_deleted(wrong["message_id"])
    right = await zoe.send_text(PIN)
    card = await zoe.expect(SUMMARY)
    await zoe.expect_deleted(right["message_id"])

    # A genuine button works; the same data made by hand (unsigned) does not.
    await (await zoe.tap("Chat history", card.message_id)).answer()
    await zoe.expect(CHAT_TEXT)
    forged = callbacks.pack("rc", "", "chat", str(visit))
    answer = await (await zoe.tap_data(forged, card.message_id)).answer()
    assert answer.get("text") == "This button is not valid."


async def test_a_flood_of_100_messages_leaves_the_bot_responsive_to_others(world: World) -> None:
    flooder = world.emulator.user("Flo", user_id=720_010)
    other = world.emulator.user("Olga", user_id=720_011)
    await seed_patient(world.sessions, flooder.id, "Flo Rida", "Europe/Berlin")
    await seed_patient(world.sessions, other.id, "Olga Petrova", "Europe/Berlin")
    await asyncio.gather(*(flooder.send_text(f"spam {n} 🚀") for n in range(100)))
    await other.send_command("help")
    await other.expect("/book")
    await flooder.wait_for_text(TOO_FAST)
    notices = [m for m in flooder.messages if TOO_FAST in (m.text or "")]
    assert len(notices) == 1
    assert len(flooder.messages) <= 21  # at most 20 answered, one polite refusal
