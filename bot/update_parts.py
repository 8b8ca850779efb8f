"""Pieces of an update that read the same on python-telegram-bot and aiogram objects.

Both frameworks model the Bot API with the same field names, so the sender and the files of a
message are read here once, by attribute, and each adapter keeps only what truly differs.
"""

from __future__ import annotations

from typing import Any

from handlers.events import (
    Attachment,
    Event,
    EventKind,
    PreCheckout,
    Sender,
    SharedContact,
    SharedLocation,
    SuccessfulPayment,
    split_command,
)

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


def message_event(update_id: int, message: Any, edited: bool, bot_username: str | None) -> Event:
    """The event for a message or an edited message (the adapter has checked the sender)."""
    command, args = split_command(message.text or "", bot_username)
    contact = message.contact
    location = message.location
    return Event(
        update_id=update_id,
        kind=EventKind.EDITED_MESSAGE if edited else EventKind.MESSAGE,
        sender=sender_of(message.from_user),
        chat_id=message.chat.id,
        message_id=message.message_id,
        text=message.text,
        caption=message.caption,
        command=command,
        command_args=args,
        contact=SharedContact(contact.phone_number, contact.user_id, contact.first_name)
        if contact
        else None,
        location=SharedLocation(location.latitude, location.longitude) if location else None,
        attachments=attachments_of(message),
        reply_to_message_id=message.reply_to_message.message_id
        if message.reply_to_message
        else None,
        media_group_id=message.media_group_id,
        payment=payment_of(message),
    )


def payment_of(message: Any) -> SuccessfulPayment | None:
    paid = message.successful_payment
    if paid is None:
        return None
    return SuccessfulPayment(
        paid.currency,
        paid.total_amount,
        paid.invoice_payload,
        paid.telegram_payment_charge_id,
        paid.provider_payment_charge_id or "",
    )


def pre_checkout_event(update_id: int, query: Any) -> Event:
    """A pre_checkout_query: answered in the payer's private chat lane."""
    return Event(
        update_id=update_id,
        kind=EventKind.PRE_CHECKOUT,
        sender=sender_of(query.from_user),
        chat_id=query.from_user.id,
        pre_checkout=PreCheckout(
            query.id, query.currency, query.total_amount, query.invoice_payload
        ),
    )
