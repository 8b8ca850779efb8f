"""`/start <payload>` links: each payload prefix opens one flow."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from clinic.roles import Role
from handlers import doctor_onboarding
from handlers.turn import Turn

# prefix -> handler(turn, rest of payload, role); filled as flows that use links arrive.
LINKS: dict[str, Callable[[Turn, str, Role | None], Awaitable[None]]] = {}
LINKS["inv"] = doctor_onboarding.open_invite  # an admin's one-time doctor invite


async def open_deep_link(turn: Turn, payload: str, role: Role | None) -> bool:
    """True when the payload was a link this bot makes (and it has been answered)."""
    prefix, _, rest = payload.partition("_")
    handler = LINKS.get(prefix)
    if handler is None:
        return False
    await handler(turn, rest, role)
    return True
