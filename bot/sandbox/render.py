"""Emulator messages as the chat page shows them: safe HTML, buttons, files.

The emulator keeps what Telegram keeps: plain text plus entities (bold from offset 3, 5 long).
Turning entities back into markup here means every tag on the page comes from this allow-list
and every character of text is escaped: the page can use the HTML as it is.
"""

from __future__ import annotations

import html
from typing import Any

from bot.emulator import StoredMessage
from handlers.formatting import money

# entity type -> (opening tag, closing tag); anything not listed renders as plain text.
_TAGS: dict[str, tuple[str, str]] = {
    "bold": ("<b>", "</b>"),
    "italic": ("<i>", "</i>"),
    "underline": ("<u>", "</u>"),
    "strikethrough": ("<s>", "</s>"),
    "code": ("<code>", "</code>"),
    "pre": ("<pre>", "</pre>"),
    "blockquote": ("<blockquote>", "</blockquote>"),
    "expandable_blockquote": ("<blockquote>", "</blockquote>"),
    "spoiler": ('<span class="tg-spoiler">', "</span>"),
}
_LINK_SCHEMES = ("http://", "https://", "tg://", "mailto:")


def _open_tag(entity: dict[str, Any]) -> tuple[str, str] | None:
    kind = entity.get("type")
    if kind == "text_link":
        url = str(entity.get("url", ""))
        # Only ordinary links: a javascript: URL must never become clickable.
        if not url.lower().startswith(_LINK_SCHEMES):
            return None
        href = html.escape(url, quote=True)
        return f'<a href="{href}" target="_blank" rel="noopener noreferrer">', "</a>"
    return _TAGS.get(str(kind))


def entities_to_html(text: str, entities: list[dict[str, Any]] | None) -> str:
    """Escaped ``text`` with allow-listed tags for ``entities`` (UTF-16 offsets, as Telegram)."""
    units = text.encode("utf-16-le")
    length = len(units) // 2
    spans: list[tuple[int, int, str, str]] = []
    for entity in entities or []:
        tags = _open_tag(entity)
        start, size = int(entity.get("offset", 0)), int(entity.get("length", 0))
        if tags is None or size <= 0 or start < 0 or start + size > length:
            continue
        spans.append((start, start + size, *tags))
    # Outer entities first where two start together, so the markup nests properly.
    spans.sort(key=lambda s: (s[0], -s[1]))
    cuts = sorted({0, length, *(s[0] for s in spans), *(s[1] for s in spans)})
    out: list[str] = []
    open_spans: list[tuple[int, int, str, str]] = []
    for index, position in enumerate(cuts):
        # Close what ends here; an entity that overlaps a later one is closed and reopened.
        ending = [i for i, span in enumerate(open_spans) if span[1] <= position]
        if ending:
            reopen = []
            while len(open_spans) > ending[0]:
                span = open_spans.pop()
                out.append(span[3])
                if span[1] > position:
                    reopen.append(span)
            for span in reversed(reopen):
                out.append(span[2])
                open_spans.append(span)
        for span in spans:
            if span[0] == position:
                out.append(span[2])
                open_spans.append(span)
        if index + 1 < len(cuts):
            chunk = units[position * 2 : cuts[index + 1] * 2].decode("utf-16-le")
            out.append(html.escape(chunk, quote=False))
    for span in reversed(open_spans):
        out.append(span[3])
    return "".join(out)


def _file(
    meta: dict[str, Any], fallback_name: str, fallback_mime: str = "application/octet-stream"
) -> dict[str, Any]:
    return {
        "file_id": meta["file_id"],
        "file_name": str(meta.get("file_name") or fallback_name),
        "mime_type": str(meta.get("mime_type") or fallback_mime),
        "file_size": int(meta.get("file_size") or 0),
    }


def amount_text(total: int, currency: str) -> str:
    """An amount in the currency's smallest unit as the bot's own texts show it."""
    return money(total, currency, "en")


def message_view(message: StoredMessage, *, paid: bool = False) -> dict[str, Any]:
    """What the page needs of one message; ``html`` is safe to insert as markup.

    ``paid``: the message is an invoice this chat has paid (Telegram then shows a receipt
    where the Pay button was)."""
    if "text" in message:
        body = entities_to_html(message["text"], message.get("entities"))
    else:
        body = entities_to_html(message.get("caption", ""), message.get("caption_entities"))
    view: dict[str, Any] = {
        "message_id": message.message_id,
        "from_bot": message.from_bot,
        "date": int(message.get("date", 0)),
        "edited": "edit_date" in message,
        "version": message.version,
        "html": body,
    }
    rows = (message.get("reply_markup") or {}).get("inline_keyboard") or []
    if rows:
        # Buttons go out by position only: the page taps "row 1, button 2" like a thumb would,
        # and callback data (untrusted by the bot anyway) stays between emulator and bot.
        view["buttons"] = [[_button_view(b) for b in row] for row in rows]
    if message.get("photo"):
        biggest = max(message["photo"], key=lambda size: int(size.get("width", 0)))
        view["photo"] = _file(biggest, "photo.jpg", "image/jpeg")  # Telegram photos are JPEG
    for kind, fallback in (
        ("document", "document"),
        ("voice", "voice.oga"),
        ("audio", "audio"),
        ("video", "video.mp4"),
    ):
        if kind in message:
            view["file"] = {"kind": kind, **_file(message[kind], fallback)}
    if "location" in message:
        view["location"] = {
            "latitude": float(message["location"]["latitude"]),
            "longitude": float(message["location"]["longitude"]),
        }
    if "contact" in message:
        contact = message["contact"]
        view["contact"] = {
            "phone_number": str(contact.get("phone_number", "")),
            "first_name": str(contact.get("first_name", "")),
        }
    if "sticker" in message:
        view["sticker"] = str(message["sticker"].get("emoji") or "🖼")
    if "invoice" in message:
        invoice = message["invoice"]
        total, currency = int(invoice.get("total_amount", 0)), str(invoice.get("currency", ""))
        view["invoice"] = {
            "title": str(invoice.get("title", "")),
            "description": str(invoice.get("description", "")),
            "currency": currency,
            "total_amount": total,
            "amount": amount_text(total, currency),
            "paid": paid,
        }
    if "successful_payment" in message:
        payment = message["successful_payment"]
        view["payment"] = {
            "amount": amount_text(
                int(payment.get("total_amount", 0)), str(payment.get("currency", ""))
            )
        }
    return view


def _button_view(button: dict[str, Any]) -> dict[str, Any]:
    view: dict[str, Any] = {"text": str(button.get("text", ""))}
    if "url" in button:
        view["url"] = button.get("url")
    elif button.get("pay"):
        view["pay"] = True  # an invoice's own Pay button: the page pays, it does not tap
    return view


def reply_keyboard_view(markup: dict[str, Any] | None) -> list[list[dict[str, Any]]] | None:
    """The chat's reply keyboard rows: label plus what a tap shares (contact, location)."""
    if not markup:
        return None
    return [
        [
            {
                "text": str(b["text"]),
                "request_contact": bool(b.get("request_contact")),
                "request_location": bool(b.get("request_location")),
            }
            for b in row
        ]
        for row in markup.get("keyboard", [])
    ]
