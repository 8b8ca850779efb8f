"""Validation of reply_markup objects and reply_to handling, mirroring Telegram's rules."""

from __future__ import annotations

import copy
from typing import Any

from .errors import BUTTON_DATA_INVALID, bad_request
from .state import ChatState

# Inline button kinds other than callback_data; a button needs exactly one "action".
_INLINE_ACTIONS = (
    "url",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "callback_game",
    "pay",
    "web_app",
    "copy_text",
)
_URL_SCHEMES = ("http://", "https://", "tg://")


def _validate_inline(rows: Any) -> None:
    if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
        raise bad_request(
            'field "inline_keyboard" of the InlineKeyboardMarkup must be an Array of Arrays'
        )
    for row in rows:
        for button in row:
            if not isinstance(button, dict) or not isinstance(button.get("text"), str):
                raise bad_request(
                    'can\'t parse inline keyboard button: Field "text" must be of type String'
                )
            if "callback_data" in button:
                data = button["callback_data"]
                # Telegram counts the limit in UTF-8 bytes, not characters.
                if not isinstance(data, str) or not 1 <= len(data.encode("utf-8")) <= 64:
                    raise bad_request(BUTTON_DATA_INVALID)
            elif "url" in button:
                url = button["url"]
                if not isinstance(url, str) or not url.startswith(_URL_SCHEMES):
                    raise bad_request("BUTTON_URL_INVALID")
            elif not any(k in button for k in _INLINE_ACTIONS):
                raise bad_request(
                    "can't parse inline keyboard button: "
                    "Text buttons are unallowed in the inline keyboard"
                )


def _normalize_reply_keyboard(markup: dict[str, Any]) -> dict[str, Any]:
    rows = markup.get("keyboard")
    if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
        raise bad_request('field "keyboard" of the ReplyKeyboardMarkup must be an Array of Arrays')
    norm_rows: list[list[dict[str, Any]]] = []
    for row in rows:
        norm_row: list[dict[str, Any]] = []
        for button in row:
            # The Bot API accepts plain strings as shorthand for {"text": ...}.
            if isinstance(button, str):
                button = {"text": button}
            if (
                not isinstance(button, dict)
                or not isinstance(button.get("text"), str)
                or not button["text"]
            ):
                raise bad_request(
                    'can\'t parse keyboard button: Field "text" must be of type String'
                )
            norm_row.append(button)
        norm_rows.append(norm_row)
    out = copy.deepcopy(markup)
    out["keyboard"] = norm_rows
    return out


def validate_markup(markup: Any) -> dict[str, Any] | None:
    """Return the normalized markup or raise the ApiError Telegram would."""
    if markup is None or markup == "":
        return None
    if not isinstance(markup, dict):
        raise bad_request("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" in markup:
        _validate_inline(markup["inline_keyboard"])
        return copy.deepcopy(markup)
    if "keyboard" in markup:
        return _normalize_reply_keyboard(markup)
    if markup.get("remove_keyboard") is True or markup.get("force_reply") is True:
        return copy.deepcopy(markup)
    raise bad_request("can't parse reply keyboard markup JSON object")


def inline_only(markup: dict[str, Any] | None) -> dict[str, Any] | None:
    """Messages only carry inline keyboards; reply keyboards are chat-level UI state."""
    if markup is not None and "inline_keyboard" in markup:
        return markup
    return None


def apply_to_chat(chat: ChatState, markup: dict[str, Any] | None) -> None:
    if markup is None:
        return
    if "keyboard" in markup:
        chat.reply_keyboard = markup
    elif markup.get("remove_keyboard"):
        chat.reply_keyboard = None


def resolve_reply(chat: ChatState, params: dict[str, Any]) -> dict[str, Any] | None:
    """Resolve reply_to_message_id / reply_parameters to the replied message snapshot."""
    target: Any = params.get("reply_to_message_id")
    allow_missing = bool(params.get("allow_sending_without_reply"))
    rp = params.get("reply_parameters")
    if isinstance(rp, dict) and rp.get("message_id") is not None:
        target = rp["message_id"]
        allow_missing = allow_missing or bool(rp.get("allow_sending_without_reply"))
    if target is None:
        return None
    try:
        mid = int(target)
    except (TypeError, ValueError):
        raise bad_request("message to be replied not found") from None
    msg = chat.messages.get(mid)
    if msg is None or msg.deleted:
        if allow_missing:
            return None
        raise bad_request("message to be replied not found")
    snap = msg.snapshot()
    snap.pop("reply_to_message", None)  # Telegram doesn't nest replies more than one level
    return snap
