"""A user an admin banned: every message and button gets one clear reply, and nothing else
happens (no flow runs, nothing is saved). Checked by the router before anything else."""

from __future__ import annotations

from handlers.events import EventKind
from handlers.turn import Turn


def refused(turn: Turn) -> bool:
    """True when the sender is banned; the reply (or the callback's answer) is queued."""
    user = turn.user
    if user is None or user.banned_at is None or turn.is_admin:
        return False
    text = turn.t(
        "Your access to this service has been suspended by the clinic. If you think this is "
        "a mistake, please contact the clinic."
    )
    if turn.event.kind is EventKind.CALLBACK:
        turn.answer(text, alert=True)
    elif turn.event.kind is EventKind.MESSAGE:
        turn.reply(text)
    # Edits, payments' pre-checkout queries and anything else: ignored.
    return True
