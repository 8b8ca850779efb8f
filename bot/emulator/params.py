"""Turning an HTTP request into typed Bot API parameters.

Clients differ: python-telegram-bot posts urlencoded forms (multipart when uploading) with
every non-string value JSON-encoded; aiogram always posts a form (multipart when uploading)
with files under random names referenced as ``attach://<name>``; test code may post JSON.
So every value may arrive as a string and is coerced here by field name.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web
from aiohttp.web_request import FileField

from .errors import bad_request
from .media import Upload

JSON_FIELDS = frozenset(
    {
        "reply_markup",
        "entities",
        "caption_entities",
        "commands",
        "scope",
        "reply_parameters",
        "media",
        "link_preview_options",
        "allowed_updates",
        "message_ids",
        "menu_button",
        "rights",
        "results",
        "prices",
        "suggested_tip_amounts",
    }
)
INT_FIELDS = frozenset(
    {
        "chat_id",
        "message_id",
        "from_chat_id",
        "offset",
        "limit",
        "timeout",
        "reply_to_message_id",
        "duration",
        "width",
        "height",
        "length",
        "cache_time",
        "message_thread_id",
        "user_id",
        "max_connections",
        "max_tip_amount",
    }
)
FLOAT_FIELDS = frozenset({"latitude", "longitude", "horizontal_accuracy"})
BOOL_FIELDS = frozenset(
    {
        "disable_notification",
        "protect_content",
        "show_alert",
        "drop_pending_updates",
        "allow_sending_without_reply",
        "disable_web_page_preview",
        "has_spoiler",
        "show_caption_above_media",
        "supports_streaming",
        "disable_content_type_detection",
        "allow_paid_broadcast",
        "ok",
    }
)


def _coerce(key: str, value: Any) -> Any:
    if not isinstance(value, str):
        return value
    if key in JSON_FIELDS:
        stripped = value.strip()
        if stripped[:1] in ("{", "["):
            try:
                return json.loads(stripped)
            except ValueError:
                if key == "reply_markup":
                    raise bad_request("can't parse reply keyboard markup JSON object") from None
                raise bad_request(f"can't parse {key} JSON object") from None
        return value
    if key in INT_FIELDS:
        try:
            return int(value)
        except ValueError:
            return value  # e.g. chat_id="@channel"; the method decides what that means
    if key in FLOAT_FIELDS:
        try:
            return float(value)
        except ValueError:
            return value
    if key in BOOL_FIELDS:
        return value.strip().lower() in ("true", "1")
    return value


async def read_params(request: web.Request) -> tuple[dict[str, Any], dict[str, Upload]]:
    """Merge query string and body; return (decoded params, uploaded files by part name)."""
    raw: dict[str, Any] = dict(request.query)
    uploads: dict[str, Upload] = {}
    if request.method == "POST" and request.can_read_body:
        ctype = request.content_type
        if ctype == "application/json":
            try:
                body = await request.json()
            except ValueError:
                raise bad_request("can't parse JSON object") from None
            if not isinstance(body, dict):
                raise bad_request("JSON object expected")
            raw.update(body)
        elif ctype in ("application/x-www-form-urlencoded", "multipart/form-data"):
            form = await request.post()
            for key, value in form.items():
                if isinstance(value, FileField):
                    uploads[key] = Upload(
                        filename=value.filename or key,
                        content_type=value.content_type,
                        data=value.file.read(),
                    )
                else:
                    raw[key] = value
    params = {k: _coerce(k, v) for k, v in raw.items()}
    # A file sent directly under the parameter's own name (python-telegram-bot's way);
    # parts referenced as attach://<name> (aiogram, media groups) stay in ``uploads`` only.
    referenced = json.dumps(raw, default=str)
    for key, upload in uploads.items():
        if key not in params and f"attach://{key}" not in referenced:
            params[key] = upload
    return params, uploads
