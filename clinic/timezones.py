"""Time zone names a user may give: IANA names or fixed UTC offsets. Pure, no I/O."""

from __future__ import annotations

import re
from datetime import timedelta, timezone, tzinfo
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

# Offsets are kept as "UTC+05:30": no IANA zone stands for a bare offset (Etc/GMT has whole
# hours only, with the sign reversed), and storing the offset says exactly what was chosen.
# The sign class lists "+", "-" and the minus sign "−" one by one ("[+-−]" would be a range
# taking in every digit and letter).
_OFFSET = re.compile(r"^(?:UTC|GMT)?\s*([+\-−])\s*(\d{1,2})(?::?(\d{2}))?$", re.IGNORECASE)
MAX_OFFSET = timedelta(hours=14)

COMMON_ZONES = (
    "Europe/London",
    "Europe/Berlin",
    "Europe/Moscow",
    "Asia/Dubai",
    "Asia/Kolkata",
    "Asia/Singapore",
    "America/New_York",
    "America/Chicago",
    "America/Los_Angeles",
    "America/Sao_Paulo",
)


class UnknownTimezone(ValueError):
    pass


@cache
def _zones_by_lower() -> dict[str, str]:
    return {name.lower(): name for name in available_timezones()}


def parse_timezone(text: str) -> str:
    """The canonical name for what the user typed, or UnknownTimezone."""
    cleaned = text.strip().replace(" ", "_") if "/" in text else text.strip()
    if not cleaned or len(cleaned) > 64:
        raise UnknownTimezone(text)
    if cleaned.upper() in {"UTC", "GMT", "Z"}:
        return "UTC"
    match = _OFFSET.match(cleaned)
    if match:
        sign, hours, minutes = match.group(1), int(match.group(2)), int(match.group(3) or 0)
        if minutes >= 60 or timedelta(hours=hours, minutes=minutes) > MAX_OFFSET:
            raise UnknownTimezone(text)
        if hours == 0 and minutes == 0:
            return "UTC"
        return f"UTC{'-' if sign in '-−' else '+'}{hours:02d}:{minutes:02d}"
    name = _zones_by_lower().get(cleaned.lower())
    if name is None:
        raise UnknownTimezone(text)
    return name


def zone(name: str) -> tzinfo:
    """The tzinfo for a stored zone name (IANA, or a fixed "UTC+hh:mm")."""
    match = re.match(r"^UTC([+-])(\d{2}):(\d{2})$", name)
    if match:
        delta = timedelta(hours=int(match.group(2)), minutes=int(match.group(3)))
        return timezone(delta if match.group(1) == "+" else -delta, name)
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise UnknownTimezone(name) from None
