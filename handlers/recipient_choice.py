""" "Who is this message for?": a message sent with two consultations open and nothing saying
which (not a reply, no current one chosen) waits here until its sender picks the recipient.

```mermaid
stateDiagram-v2
    [*] --> pick: a message, two consultations open, no target (asked)
    pick --> pick: another such message (asked too; each waits), or a reply (relayed)
    pick --> pick: a command or button that would start a flow (refused; see handlers/router.py)
    pick --> [*]: a recipient picked for the last waiting message
    pick --> [*]: /cancel (the waiting ones are not sent), or no consultation open any more
```
What was sent (kind, text or caption, file ids) waits in the flow's data, which is encrypted
like the rest of the conversations table, so the consultation record later holds the message as
typed; the copy itself goes out from the sender's own message. Each question is sent as a reply
to its message, so with several waiting the user sees which is which. Patients and doctors both use
it; a doctor's pick also becomes their current consultation. Waiting messages are never
discarded by the idle sweep (jobs.tasks.NEVER_EXPIRE): they are the user's words.
"""

from __future__ import annotations

from collections.abc import Sequence

from handlers import callbacks, conversation
from handlers import consultation as relay
from handlers.i18n import plain
from handlers.port import InlineButton, InlineKeyboard
from handlers.turn import Turn
from storage.models import Consultation, Conversation

FLOW = "cp"
PICK = "pick"


async def hold(
    turn: Turn, open_ones: Sequence[Consultation], side: str, parts: relay.MessageParts
) -> None:
    """Keep the message and ask whom it is for (one question per waiting message)."""
    conv = turn.conversation
    if conv is None or conv.flow != FLOW:
        conv = await conversation.start(turn, FLOW, PICK, {"waiting": {}})
    message_id = turn.event.message_id
    assert message_id is not None
    conv.data["waiting"] = {**conv.data.get("waiting", {}), str(message_id): parts.as_data()}
    await conversation.move(turn, conv, PICK)
    rows = tuple(
        (
            InlineButton(
                plain(relay.other_name(turn.t, c, side)),
                callbacks.pack(FLOW, conv.token, PICK, f"{c.id}.{message_id}"),
            ),
        )
        for c in open_ones
    )
    # As a reply to the message it is about: with several waiting, each question shows which.
    turn.reply(turn.t("Who is this message for?"), InlineKeyboard(rows), reply_to=message_id)


def ask(turn: Turn, conv: Conversation) -> None:
    turn.reply(waiting_text(turn))


def waiting_text(turn: Turn) -> str:
    return turn.t(
        "Some of your messages are waiting: tap whom each one is for, in the questions above "
        "(each answers its message), or send /cancel to leave them unsent. Then try again."
    )


def holds_messages(turn: Turn) -> bool:
    """Messages wait for their recipient: nothing may start another flow over them."""
    conv = turn.conversation
    return conv is not None and conv.flow == FLOW and bool(conv.data.get("waiting"))


def cancelled_text(turn: Turn) -> str:
    return turn.t("Cancelled: the messages that were waiting for a recipient were not sent.")


async def on_message(turn: Turn, conv: Conversation) -> None:
    """A new message while others wait is routed as any message is (and may wait too)."""
    if await relay.on_message(turn):
        return
    # No consultation is open any more: what waited cannot be delivered.
    waiting = len(conv.data.get("waiting", {}))
    await conversation.end(turn)
    if waiting:
        turn.reply(
            turn.t(
                "Your consultations have ended, so the messages still waiting for a "
                "recipient were not sent ({count}).",
                count=waiting,
            )
        )
    await relay.nothing_open(turn)


async def on_callback(turn: Turn, conv: Conversation, callback: callbacks.Callback) -> None:
    t = turn.t
    consultation_id, _, message_id = callback.action.partition(".")
    waiting: dict[str, dict[str, object]] = dict(conv.data.get("waiting", {}))
    parts = waiting.get(message_id)
    if parts is None or not consultation_id.isdigit():
        turn.answer(t("This button is no longer active."))
        return
    found = await relay.open_ones(turn)
    open_ones, side = found if found else ([], "")
    target = next((c for c in open_ones if c.id == int(consultation_id)), None)
    if target is None:
        turn.answer(t("That consultation has ended; choose another, or send /cancel."), alert=True)
        return
    turn.answer()
    del waiting[message_id]
    if side == relay.DOCTOR_SIDE:
        await turn.uow.consultations.set_focus(target.appointment.doctor_id, target.id)
    await relay.forward(turn, target, side, int(message_id), None, relay.MessageParts.of(parts))
    if turn.event.message_id:
        turn.edit(
            turn.event.message_id,
            t("Sent to {name}.", name=relay.recipient_name(target, side)),
        )
    if waiting:
        conv.data["waiting"] = waiting
        await conversation.move(turn, conv, PICK)
    else:
        await conversation.end(turn)
