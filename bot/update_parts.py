"""Pieces of an update that read the same on python-telegram-bot and aiogram objects.

Both frameworks model the Bot API with the same field names, so the sender and the files of a
message are read here once, by attribute, and each adapter keeps only what truly differs.
"""

from __future__ import annotations

from typing import Any

from handlers.events import Attachment, Sender

FILE_KINDS = ("document", "voice", "audio", "video", "video_note", "sticker", "animation")


def sender_of(user: Any) -> Sender:
    return Sender(user.id, user.first_name, user.last_name, user.username, user.language_code)


def attachments_of(message: Any) -> tuple[Attachment, ...]:
    found: list[Attachment] = []
    if message.photo:
        largest = message.photo[-1]  # Telegram lists the sizes smallest first
        found.append(
            Attachment(
                "photo", largest.file_id, largest.file_unique_id, None, None, largest.file_size
            )
        )
    for kind in FILE_KINDS:
        media = getattr(message, kind)
        if media is not None:
            found.append(
                Attachment(
                    kind,
                    media.file_id,
                    media.file_unique_id,
                    getattr(media, "file_name", None),
                    getattr(media, "mime_type", None),
                    media.file_size,
                )
            )
    return tuple(found)
