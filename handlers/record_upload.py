"""/upload for patients: add a document or a photo (a lab report, a scan) to one's own record.

```mermaid
stateDiagram-v2
    [*] --> file: /upload
    file --> file: text, an album, another kind of file, an empty file (explained)
    file --> [*]: a document or a photo (stored, sealed)
```
The file itself stays with Telegram: the record keeps its file id, name and caption, all
encrypted at rest, and /records sends it again by that id. /cancel leaves and keeps nothing.
"""

from __future__ import annotations

from enum import StrEnum

from handlers import callbacks, conversation
from handlers.turn import Turn
from storage.models import Conversation, RecordDocument

FLOW = "up"
ACCEPTED = ("document", "photo")


class Step(StrEnum):
    FILE = "file"


def _is_record_type(mime_type: str | None) -> bool:
    """Lab reports and scans: PDFs and images, not programs or archives."""
    return mime_type is not None and (
        mime_type == "application/pdf" or mime_type.startswith("image/")
    )


async def begin(turn: Turn) -> None:
    conv = await conversation.start(turn, FLOW, Step.FILE)
    ask(turn, conv)


def ask(turn: Turn, conv: Conversation) -> None:
    turn.reply(
        turn.t(
            "Send the document or photo to add to your record (a lab report, a scan). You can "
            "add a caption to say what it is. Send /cancel to stop."
        )
    )


def cancelled_text(turn: Turn) -> str:
    return turn.t("Stopped. Nothing was added to your record.")


async def on_callback(turn: Turn, conv: Conversation, callback: callbacks.Callback) -> None:
    turn.answer(turn.t("This button is no longer active."))


async def on_message(turn: Turn, conv: Conversation) -> None:
    t, event = turn.t, turn.event
    patient = turn.user
    if patient is None:  # the account is gone: nothing to add to
        await conversation.end(turn)
        turn.reply(t("Please register first: send /start."))
        return
    attachments = event.attachments
    if event.media_group_id is not None or len(attachments) > 1:
        # An album arrives as one message per file: explain once, not once per file.
        if conv.data.get("album") != event.media_group_id or event.media_group_id is None:
            conv.data["album"] = event.media_group_id
            await conversation.move(turn, conv, Step.FILE)
            turn.reply(
                t(
                    "Please send one file at a time: nothing from that album was added. Send "
                    "the first file again on its own, then /upload for the next one."
                )
            )
        return
    if not attachments:
        turn.reply(
            t(
                "That was not a file. Please send the lab report or scan itself, as a document "
                "or a photo (📎 in Telegram). Send /cancel to stop."
            )
        )
        return
    attachment = attachments[0]
    if attachment.kind not in ACCEPTED:
        turn.reply(
            t(
                "Only documents and photos can be added to your record. Please send the file "
                "as a document or a photo, or send /cancel to stop."
            )
        )
        return
    if attachment.kind == "document" and not _is_record_type(attachment.mime_type):
        turn.reply(
            t(
                "Only PDF files and images can be added to your record. Please send the report "
                "as a PDF or a photo, or send /cancel to stop."
            )
        )
        return
    if attachment.file_size == 0:
        turn.reply(t("That file is empty. Please check it and send it again."))
        return
    caption = (event.caption or "").strip() or None
    turn.uow.consultations.add_document(
        RecordDocument(
            patient_id=patient.id,
            kind=attachment.kind,
            file_id=attachment.file_id,
            file_name=attachment.file_name,
            caption=caption,
            created_at=turn.now,
        )
    )
    await conversation.end(turn)
    name = attachment.file_name or (t("photo") if attachment.kind == "photo" else t("document"))
    turn.reply(
        t(
            "Added to your record: {name}. Your doctors can see it, and you find it under "
            "/records.",
            name=name,
        )
    )
