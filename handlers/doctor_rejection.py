"""Rejecting a pending doctor with a short reason, which the doctor is told.

```mermaid
stateDiagram-v2
    [*] --> reason: Reject (on a pending doctor's card)
    reason --> reason: empty, too long, or not text (asked again)
    reason --> [*]: rejected (the doctor is told the reason), or decided meanwhile
```
/cancel leaves and changes nothing. The doctor's state is checked again when the reason
arrives: a second admin may have decided in between.
"""

from __future__ import annotations

from enum import StrEnum

from handlers import conversation
from handlers.admin_buttons import already_decided, no_longer_admin, not_valid
from handlers.callbacks import Callback
from handlers.i18n import translator
from handlers.turn import Turn
from handlers.typed_line import read_line
from storage.models import Conversation, Doctor

FLOW = "rj"
REASON_MAX = 500


class Step(StrEnum):
    REASON = "reason"


async def begin(turn: Turn, doctor_id: int) -> None:
    t = turn.t
    doctor = await turn.uow.doctors.get(doctor_id)
    if doctor is None:
        turn.answer(not_valid(t))
        return
    if doctor.status != "pending":
        turn.answer(already_decided(t, doctor.status), alert=True)
        return
    turn.answer()
    data = {"doctor": doctor.id, "card": turn.event.message_id or 0}
    conv = await conversation.start(turn, FLOW, Step.REASON, data)
    ask(turn, conv)


def ask(turn: Turn, conv: Conversation) -> None:
    turn.reply(
        turn.t(
            "Why is this doctor not approved? Type a short reason (up to 500 characters); "
            "the doctor will read it. Or send /cancel to decide later."
        )
    )


def cancelled_text(turn: Turn) -> str:
    return turn.t("Nothing was decided; the doctor is still waiting for review.")


def tidy_reason(text: str) -> str:
    """One paragraph per line: spaces collapsed, blank lines dropped."""
    lines = (" ".join(line.split()) for line in text.splitlines())
    return "\n".join(line for line in lines if line)


async def on_message(turn: Turn, conv: Conversation) -> None:
    t = turn.t
    if await no_longer_admin(turn):
        return
    bad_length = t(
        "The reason must have 1 to 500 characters. Please type it again, or send /cancel."
    )
    reason = read_line(
        turn,
        REASON_MAX,
        not_text=t("Please type the reason as text, or send /cancel."),
        empty=bad_length,
        too_long=bad_length,
        tidy=tidy_reason,
    )
    if reason is None:
        return
    await conversation.end(turn)
    doctor = await turn.uow.doctors.lock(int(conv.data["doctor"]))
    if doctor is None:
        turn.reply(not_valid(t))
        return
    if doctor.status != "pending":
        turn.reply(already_decided(t, doctor.status))
        return
    await reject(turn, doctor, reason, int(conv.data.get("card") or 0))


async def reject(turn: Turn, doctor: Doctor, reason: str, card_message: int) -> None:
    t = turn.t
    doctor.status = "rejected"
    doctor.decided_at = turn.now
    turn.uow.audit.record(
        turn.event.user_id, doctor.user_id, "doctor_reject", f"doctor:{doctor.id}", True, turn.now
    )
    name = doctor.user.full_name or "—"
    turn.reply(t("Rejected {name}. The doctor was told the reason.", name=name))
    if card_message:
        turn.edit(card_message, t("{name}: rejected.", name=name))
    t = translator(doctor.user.language)  # the doctor's own language from here on
    turn.notify(
        doctor.user.telegram_id,
        t(
            "The clinic did not approve your profile.\n\nReason: {reason}\n\n"
            "If you think this is a mistake, please contact the clinic.",
            reason=reason,
        ),
    )


async def on_callback(turn: Turn, conv: Conversation, callback: Callback) -> None:
    turn.answer(turn.t("This button is no longer active."))
