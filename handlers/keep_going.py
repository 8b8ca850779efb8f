"""The "Keep going" button on an idle warning ("kg:-:go:<flow run token>").

It refreshes the open flow's clock, so the idle sweep leaves it alone. A button for a flow run
that has ended (discarded, finished, or replaced by another) changes nothing.
"""

from __future__ import annotations

from handlers import callbacks, conversation
from handlers.turn import Turn

BUTTONS = "kg"


async def on_button(turn: Turn, callback: callbacks.Callback) -> None:
    t, conv = turn.t, turn.conversation
    message_id = turn.event.message_id
    if callback.step != "go" or conv is None or conv.token != callback.action:
        turn.answer(t("That conversation has already ended. Send /start to begin again."))
        if message_id:
            turn.edit(message_id, t("That conversation has ended."))
        return
    await conversation.move(turn, conv, conv.step)  # same step, fresh clock
    turn.answer(t("Go ahead."))
    if message_id:
        turn.edit(message_id, t("Carry on: answer the last question, or send /cancel to stop."))
