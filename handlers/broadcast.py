"""/admin → Broadcast: an announcement to patients, doctors or everyone.

```mermaid
stateDiagram-v2
    [*] --> aud: Broadcast (admin menu)
    aud --> text: Patients / Doctors / Everyone
    text --> text: empty, over 4,096 characters, or not text (asked again)
    text --> confirm: the preview, exactly as it will be sent
    confirm --> [*]: Send (a Broadcast row; the background send starts after commit) or Cancel
```
The text is sent as plain text: what the admin typed shows literally, never as formatting.
The confirmation message becomes the status message the background send edits
(handlers/broadcast_sender.py). /cancel leaves and sends nothing.
"""

from __future__ import annotations

from enum import StrEnum

from handlers import callbacks, conversation
from handlers.admin_buttons import no_longer_admin, not_valid
from handlers.broadcast_sender import audience_label, broadcast_body, progress_text
from handlers.port import InlineButton, InlineKeyboard
from handlers.turn import Turn
from handlers.typed_line import read_line
from storage.admin_repositories import AUDIENCES
from storage.models import Broadcast, Conversation

FLOW = "bc"
TEXT_MAX = 4096  # Telegram's limit, counted as it counts (UTF-16 code units)


class Step(StrEnum):
    AUDIENCE = "aud"
    TEXT = "text"
    CONFIRM = "confirm"


def _pack(conv: Conversation, action: str) -> str:
    return callbacks.pack(FLOW, conv.token, conv.step, action)


def telegram_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


async def begin(turn: Turn, target: str = "0") -> None:
    turn.answer()
    conv = await conversation.start(turn, FLOW, Step.AUDIENCE)
    ask(turn, conv)


def ask(turn: Turn, conv: Conversation) -> None:
    t = turn.t
    step = Step(conv.step)
    if step is Step.AUDIENCE:
        turn.reply(
            t("Who should get the announcement?"),
            InlineKeyboard(
                (
                    (
                        InlineButton(t("Patients"), _pack(conv, "patients")),
                        InlineButton(t("Doctors"), _pack(conv, "doctors")),
                    ),
                    (InlineButton(t("Everyone"), _pack(conv, "everyone")),),
                    (InlineButton(t("Cancel"), _pack(conv, "cancel")),),
                )
            ),
        )
    elif step is Step.TEXT:
        turn.reply(
            t(
                "Type the announcement for {audience} as plain text (up to 4,096 characters). "
                "You will see it exactly as it will be sent before anything goes out. "
                "/cancel stops.",
                audience=audience_label(t, str(conv.data["aud"])),
            )
        )
    else:
        turn.reply(t("Tap Send or Cancel under the preview above."))


def cancelled_text(turn: Turn) -> str:
    return turn.t("Broadcast cancelled. Nothing was sent.")


async def on_message(turn: Turn, conv: Conversation) -> None:
    t = turn.t
    if await no_longer_admin(turn):
        return
    step = Step(conv.step)
    if step is Step.AUDIENCE:
        turn.reply(t("Please choose who gets it with the buttons above, or send /cancel."))
        return
    if step is Step.CONFIRM:
        ask(turn, conv)
        return
    text = read_line(
        turn,
        TEXT_MAX,
        not_text=t(
            "Only text can be broadcast (no photos, files or stickers). Please type the "
            "announcement, or send /cancel."
        ),
        empty=t("The announcement is empty. Please type it, or send /cancel."),
        too_long=t(
            "That is {length} characters; one message holds at most 4,096. Please "
            "shorten it, or send /cancel.",
            length=telegram_length(turn.event.text or ""),
        ),
        tidy=str,  # sent exactly as typed
        measure=telegram_length,
    )
    if text is None:
        return
    audience = str(conv.data["aud"])
    count = await turn.uow.admin.audience_size(audience)
    conv.data["text"] = text
    await conversation.move(turn, conv, Step.CONFIRM)
    turn.reply(t("Preview — this is exactly what they will get:"))
    turn.reply(broadcast_body(text))
    turn.reply(
        t(
            "Send this to {audience}? Recipients: {count}. People who blocked the bot are "
            "counted, not sent to; banned users are left out.",
            count=count,
            audience=audience_label(t, audience),
        ),
        InlineKeyboard(
            (
                (
                    InlineButton(t("📣 Send"), _pack(conv, "send")),
                    InlineButton(t("Cancel"), _pack(conv, "cancel")),
                ),
            )
        ),
    )


async def on_callback(turn: Turn, conv: Conversation, callback: callbacks.Callback) -> None:
    t = turn.t
    if not turn.is_admin:
        await conversation.end(turn)
        turn.answer(not_valid(t))
        return
    message_id = turn.event.message_id
    if callback.action == "cancel":
        await conversation.end(turn)
        turn.answer(t("Cancelled."))
        if message_id:
            turn.edit(message_id, cancelled_text(turn))
        return
    step = Step(conv.step)
    if step is Step.AUDIENCE and callback.action in AUDIENCES:
        turn.answer()
        conv.data["aud"] = callback.action
        await conversation.move(turn, conv, Step.TEXT)
        if message_id:
            turn.edit(
                message_id,
                t("Announcement to {audience}.", audience=audience_label(t, callback.action)),
            )
        ask(turn, conv)
        return
    if step is Step.CONFIRM and callback.action == "send" and message_id:
        await _send(turn, conv, message_id)
        return
    turn.answer(not_valid(t))


async def _send(turn: Turn, conv: Conversation, status_message: int) -> None:
    audience, text = str(conv.data["aud"]), str(conv.data["text"])
    await conversation.end(turn)
    row = Broadcast(
        created_by=turn.event.user_id,
        audience=audience,
        text=text,
        status="sending",
        total=await turn.uow.admin.audience_size(audience),
        delivered=0,
        blocked=0,
        failed=0,
        status_chat_id=turn.event.chat_id,
        status_message_id=status_message,
        created_at=turn.now,
    )
    turn.uow.admin.add_broadcast(row)
    await turn.uow.flush()
    turn.uow.audit.record(
        turn.event.user_id, None, "broadcast", f"broadcast:{row.id}:{audience}", True, turn.now
    )
    turn.answer(turn.t("Sending…"))
    turn.edit(status_message, progress_text(turn.t, row))
    turn.start_broadcast(row.id)
