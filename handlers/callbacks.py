"""Callback data: a flow marker, the flow run's token, the step and a short action.

Never names or other user text (64 bytes is little, and callback data is untrusted input):
every field is checked against the stored conversation before anything happens.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from handlers.callback_signing import SIGNED_EXTRA

MAX_BYTES = 64
# What pack() may use: the sending path appends a signature to every button.
PACKED_MAX_BYTES = MAX_BYTES - SIGNED_EXTRA
_PART = re.compile(r"^[A-Za-z0-9_.\-]{1,24}$")
_DIGITS = re.compile(r"\d+")
MAX_ID = 2**31 - 1


@dataclass(frozen=True, slots=True)
class Callback:
    flow: str
    token: str
    step: str
    action: str


def pack(flow: str, token: str, step: str, action: str) -> str:
    parts = (flow, token or "-", step, action)
    if not all(_PART.match(p) for p in parts):
        raise ValueError(f"callback part not allowed: {parts!r}")
    data = ":".join(parts)
    if len(data.encode("utf-8")) > PACKED_MAX_BYTES:
        raise ValueError(f"callback data over {PACKED_MAX_BYTES} bytes")
    return data


def unpack(data: str | None) -> Callback | None:
    """None for anything the bot could not have made."""
    if not data or len(data.encode("utf-8")) > MAX_BYTES:
        return None
    parts = data.split(":")
    if len(parts) != 4 or not all(_PART.match(p) for p in parts):
        return None
    if any(int(run) > MAX_ID for part in parts for run in _DIGITS.findall(part)):
        return None  # no id or time we make is that large; it would overflow an id column
    flow, token, step, action = parts
    return Callback(flow, "" if token == "-" else token, step, action)  # noqa: S105
