"""What one simulated user does: a list of steps, each one update and the reply that ends it.

The mix is data: registration, help, profile browsing and booking run as `PATIENT_MIX`; the
relayed consultation chat runs as `RELAY_MIX` once the bench has opened each patient's visit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from bot.emulator import SimulatedUser, Tap
from tests.support.chat import unsigned

Action = Literal["command", "text", "press", "tap", "pick", "relay"]


@dataclass(frozen=True)
class Step:
    action: Action
    arg: str  # the command, the text typed, the button label, or a pattern for "pick"
    expect: str  # text of the bot message that completes the step ("" = the next message)


# Realistic patient traffic today: registration with the usual slips, help, profile browsing.
REGISTRATION = (
    Step("command", "start", "not for emergencies"),
    Step("tap", "✅ I agree", "full name"),
    Step("text", "Dana 🌸✨", "no digits, emoji or other symbols"),  # invalid name
    Step("text", "Dana Scully", "date of birth"),
    Step("text", "31.12.2099", "in the future"),  # invalid date
    Step("text", "17.05.1990", "phone number"),
    Step("press", "📱 Share my phone number", "time zone"),
    Step("tap", "Europe/Berlin", "Please check your details"),
    Step("tap", "✅ Confirm", "You are registered"),
)
HELP = (Step("command", "help", "/start"),)
SETTINGS_BROWSE = (
    Step("command", "settings", "Your profile"),
    Step("text", "hello?", "Please use the buttons above"),  # text where a button is expected
    Step("tap", "Edit name", "full name"),
    Step("text", "Dana K. Scully", "Your profile"),
    Step("tap", "Done", "Your profile is saved"),
)
BENCH_DOCTOR_NAME = "Dr Bench"
BOOKING = (
    Step("command", "book", "Which kind of doctor"),
    Step("tap", "Cardiology", "Choose a doctor"),
    Step("pick", r"^d\d+$", "pick a day"),  # the doctor
    Step("pick", r"^d\d{8}$", "Free times on"),  # a day with free times
    Step("pick", r"^t\d+$", "reason for your visit"),  # a time, spread over the users
    Step("text", "Follow-up of my blood pressure", "Please check your booking"),
    Step("tap", "✅ Book", ""),  # "Booked!", or the nearest times if someone was faster
)
# During an open visit: each text is copied to the doctor (the step ends when it arrives there).
RELAY_MIX = tuple(Step("relay", f"message {n} to my doctor", "") for n in range(1, 4))

PATIENT_MIX: tuple[Step, ...] = REGISTRATION + HELP + SETTINGS_BROWSE + BOOKING


async def perform(user: SimulatedUser, step: Step) -> Tap | None:
    """Push the step's update; a tap is returned so its callback answer can be awaited."""
    if step.action == "command":
        await user.send_command(step.arg)
    elif step.action == "text":
        await user.send_text(step.arg)
    elif step.action == "press":
        await user.press(step.arg)
    elif step.action == "pick":
        return await _pick(user, step.arg)
    elif step.action == "relay":
        await user.send_text(f"{step.arg} (from {user.id})")
    else:
        return await user.tap(step.arg)
    return None


async def _pick(user: SimulatedUser, pattern: str) -> Tap:
    """Tap one of the newest matching buttons, a different one per user where there is a
    choice, so users spread over days and times as real patients do."""
    for message in reversed(user.messages):
        keyboard = (message.get("reply_markup") or {}).get("inline_keyboard", [])
        found = [
            b["callback_data"]
            for row in keyboard
            for b in row
            if re.search(pattern, unsigned(b.get("callback_data", "")).split(":")[-1])
        ]
        if found:
            return await user.tap_data(found[user.id % len(found)], message.message_id)
    raise AssertionError(f"user {user.id}: no button matching {pattern}")
