"""Reading and tapping inline buttons of a scripted user's chat by their callback data."""

from __future__ import annotations

import re

from bot.emulator import SimulatedUser


def unsigned(data: str) -> str:
    """Button data without the signature the bot appends for the chat (callback_signing)."""
    head, separator, _signature = data.rpartition("~")
    return head if separator else data


def buttons(user: SimulatedUser, pattern: str) -> list[tuple[int, str, str]]:
    """(message id, label, callback data) on the newest message with matching buttons."""
    for message in reversed(user.messages):
        if message.deleted:
            continue
        keyboard = (message.get("reply_markup") or {}).get("inline_keyboard", [])
        found = [
            (message.message_id, b["text"], b["callback_data"])
            for row in keyboard
            for b in row
            if "callback_data" in b
            and re.search(pattern, unsigned(b["callback_data"]).split(":")[-1])
        ]
        if found:
            return found
    raise AssertionError(f"no buttons matching {pattern!r}")


async def pick(user: SimulatedUser, pattern: str, index: int = 0) -> str:
    message_id, label, data = buttons(user, pattern)[index]
    await (await user.tap_data(data, message_id)).answer()
    return label
