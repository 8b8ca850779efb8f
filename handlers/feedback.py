"""Rating a consultation: the patient taps 1-5 on the prompt, then may add a comment.

The rating buttons are stateless ("fb:-:r<n>:<appointment id>"): each press checks that the
presser is the patient of that appointment, that it was completed, and that it has no answer
yet (one answer per consultation; the database's unique key settles a race). A repeated or
late press is answered politely and changes nothing. The optional comment is a one-step flow
("fc") with a Skip button; it is stored encrypted.

```mermaid
stateDiagram-v2
    [*] --> comment: a rating tap (when no other flow is open)
    comment --> [*]: text (stored, sealed) or Skip
```
"""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum

from clinic.appointments import Status
from clinic.roles import Role
from handlers import callbacks, conversation
from handlers.port import InlineButton, InlineKeyboard
from handlers.turn import Turn
from storage.models import Conversation, Feedback

BUTTONS = "fb"
FLOW = "fc"
ANSWER_WINDOW = timedelta(days=14)
COMMENT_MAX = 1000


class Step(StrEnum):
    COMMENT = "comment"


async def on_button(turn: Turn, callback: callbacks.Callback) -> None:
    t = turn.t
    step, target = callback.step, callback.action
    valid = len(step) == 2 and step[0] == "r" and step[1] in "12345" and target.isdigit()
    user = turn.user
    if not valid or user is None or user.role != Role.PATIENT.value:
        turn.answer(t("This button is not valid."))
        return
    appointment = await turn.uow.appointments.get(int(target))
    if appointment is None or appointment.patient_id != user.id:
        turn.answer(t("This button is not valid."))
        return
    if appointment.status != Status.COMPLETED:
        turn.answer(t("Only a completed consultation can be rated."), alert=True)
        return
    message_id = turn.event.message_id
    existing = await turn.uow.feedback.for_appointment(appointment.id)
    if existing is not None:
        turn.answer(t("You have already rated this consultation. Thank you!"), alert=True)
        if message_id:
            turn.edit(message_id, _rated_text(turn, existing.rating))
        return
    if turn.now - appointment.updated_at > ANSWER_WINDOW:
        turn.answer(t("Sorry, this consultation can no longer be rated."), alert=True)
        if message_id:
            turn.edit(message_id, t("This rating request has expired."))
        return
    rating = int(step[1])
    stored = await turn.uow.feedback.add(
        Feedback(appointment_id=appointment.id, rating=rating, comment=None, created_at=turn.now)
    )
    if not stored:  # a second tap raced this one and won
        turn.answer(t("You have already rated this consultation. Thank you!"), alert=True)
        return
    turn.answer(t("Thank you!"))
    if message_id:
        turn.edit(message_id, _rated_text(turn, rating))
    if turn.conversation is not None:
        return  # don't take them out of what they are doing; the rating is saved
    conv = await conversation.start(turn, FLOW, Step.COMMENT, {"appt": appointment.id})
    ask(turn, conv)


def _rated_text(turn: Turn, rating: int) -> str:
    return turn.t("You rated this consultation {rating} of 5.", rating=rating)


def ask(turn: Turn, conv: Conversation) -> None:
    turn.reply(
        turn.t(
            "Would you like to add a comment for the clinic? Write it here, or tap Skip. Only "
            "the clinic reads it."
        ),
        InlineKeyboard(
            ((InlineButton(turn.t("Skip"), callbacks.pack(FLOW, conv.token, conv.step, "skip")),),)
        ),
    )


def cancelled_text(turn: Turn) -> str:
    return turn.t("No comment added. Your rating is saved.")


async def on_callback(turn: Turn, conv: Conversation, callback: callbacks.Callback) -> None:
    if callback.action != "skip":
        turn.answer(turn.t("This button is not valid."))
        return
    turn.answer()
    await conversation.end(turn)
    if turn.event.message_id:
        turn.edit(turn.event.message_id, turn.t("No comment added. Your rating is saved."))
    turn.reply(turn.t("Thank you for your feedback."))


async def on_message(turn: Turn, conv: Conversation) -> None:
    t = turn.t
    text = (turn.event.text or "").strip()
    if not text:
        turn.reply(t("Please write your comment as text, or tap Skip."))
        return
    if len(text) > COMMENT_MAX:
        turn.reply(
            t(
                "That is {length} characters; please keep the comment under {limit}.",
                length=len(text),
                limit=COMMENT_MAX,
            )
        )
        return
    feedback = await turn.uow.feedback.for_appointment(int(conv.data["appt"]))
    await conversation.end(turn)
    if feedback is None:
        turn.reply(t("This consultation can no longer be rated."))
        return
    feedback.comment = text
    turn.reply(t("Thank you: your comment was saved."))
