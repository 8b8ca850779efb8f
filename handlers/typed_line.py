"""The first checks of a step where someone types one answer (a reason, a name, a query, an
announcement): media where text is expected, nothing typed, too long. What differs from step to
step (letters only, a phone number, …) stays with the step; the sentences are the step's own."""

from __future__ import annotations

from collections.abc import Callable

from handlers.turn import Turn


def read_line(
    turn: Turn,
    limit: int,
    *,
    not_text: str,
    empty: str,
    too_long: str,
    tidy: Callable[[str], str] = str.strip,
    measure: Callable[[str], int] = len,
) -> str | None:
    """The typed text as `tidy` leaves it; None after replying why not: `not_text` for media
    (a photo, a sticker, …), `empty` for nothing but spaces, `too_long` when `measure` of the
    tidied text is over `limit`."""
    if turn.event.text is None:
        turn.reply(not_text)
        return None
    text = tidy(turn.event.text)
    if not text.strip():
        turn.reply(empty)
        return None
    if measure(text) > limit:
        turn.reply(too_long)
        return None
    return text
