"""What one simulated user does: a list of steps, each one update and the reply that ends it.

The mix is data, so booking and the relayed consultation chat (not built yet) become a few more
`Step`s in `PATIENT_MIX` when they land, with no change to the measuring code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from bot.emulator import SimulatedUser, Tap

Action = Literal["command", "text", "press", "tap"]


@dataclass(frozen=True)
class Step:
    action: Action
    arg: str  # the command, the text typed, or the button label
    expect: str  # text of the bot message that completes the step


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
# Booking (/book, date picker, slot, confirm) and the relayed consultation chat do not exist yet:
# add their steps here when they do.
NOT_YET_MEASURED = ("booking", "relayed consultation chat")

PATIENT_MIX: tuple[Step, ...] = REGISTRATION + HELP + SETTINGS_BROWSE


async def perform(user: SimulatedUser, step: Step) -> Tap | None:
    """Push the step's update; a tap is returned so its callback answer can be awaited."""
    if step.action == "command":
        await user.send_command(step.arg)
    elif step.action == "text":
        await user.send_text(step.arg)
    elif step.action == "press":
        await user.press(step.arg)
    else:
        return await user.tap(step.arg)
    return None
