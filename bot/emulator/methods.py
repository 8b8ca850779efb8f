"""Implementations of the Bot API methods, registered by (case-insensitive) name.

Each handler receives a :class:`CallContext` with already-decoded params and returns the
``result`` value, or raises :class:`ApiError` with Telegram's exact wording.
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from . import errors as E
from .errors import ApiError, bad_request
from .html_text import parse_text, utf16_len
from .markup import apply_to_chat, inline_only, resolve_reply, validate_markup
from .media import Upload, resolve_file
from .state import ChatState, EmulatorState, StoredMessage, now

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024


@dataclass
class CallContext:
    state: EmulatorState
    params: dict[str, Any]
    uploads: dict[str, Upload] = field(default_factory=dict)


Handler = Callable[[CallContext], Awaitable[Any]]
METHODS: dict[str, Handler] = {}


def method(*names: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        for name in names:
            METHODS[name.lower()] = fn
        return fn

    return register


# ---------------------------------------------------------------------------------------
# shared helpers
# ---------------------------------------------------------------------------------------
def _int_param(params: dict[str, Any], key: str, *, required: bool = True) -> int | None:
    value = params.get(key)
    if value is None or value == "":
        if required:
            raise bad_request(f"{key} is empty" if key != "chat_id" else E.CHAT_NOT_FOUND)
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise bad_request(
            E.CHAT_NOT_FOUND if "chat" in key else f"invalid {key} specified"
        ) from None


def lookup_chat(state: EmulatorState, chat_id: Any) -> ChatState:
    """The chat if the bot may see it at all (the user wrote to the bot before)."""
    try:
        cid = int(chat_id)
    except (TypeError, ValueError):
        raise bad_request(E.CHAT_NOT_FOUND) from None
    chat = state.chat(cid)
    if chat is None or not chat.known:
        raise bad_request(E.CHAT_NOT_FOUND)
    return chat


def writable_chat(ctx: CallContext, key: str = "chat_id") -> ChatState:
    if ctx.params.get(key) in (None, ""):
        raise bad_request(E.CHAT_NOT_FOUND if key == "chat_id" else f"{key} is empty")
    chat = lookup_chat(ctx.state, ctx.params[key])
    if chat.blocked:
        raise ApiError(403, E.BLOCKED)
    return chat


def checked_text(
    text: Any,
    parse_mode: Any,
    entities: Any,
    *,
    limit: int,
    empty: str | None,
    too_long: str,
) -> tuple[str, list[dict[str, Any]]]:
    """Parse and apply Telegram's length rules, which apply to the text AFTER parsing."""
    raw = "" if text is None else str(text)
    plain, ents = parse_text(raw, parse_mode, entities if isinstance(entities, list) else None)
    if empty is not None and not plain.strip():
        raise bad_request(empty)
    if utf16_len(plain) > limit:
        raise bad_request(too_long)
    return plain, ents


def caption_content(params: dict[str, Any]) -> dict[str, Any]:
    if params.get("caption") in (None, ""):
        return {}
    caption, ents = checked_text(
        params["caption"],
        params.get("parse_mode"),
        params.get("caption_entities"),
        limit=CAPTION_LIMIT,
        empty=None,
        too_long=E.CAPTION_TOO_LONG,
    )
    out: dict[str, Any] = {"caption": caption} if caption else {}
    if ents:
        out["caption_entities"] = ents
    return out


def post_bot_message(
    ctx: CallContext,
    chat: ChatState,
    content: dict[str, Any],
    *,
    markup: dict[str, Any] | None = None,
    reply: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
) -> StoredMessage:
    state = ctx.state
    data: dict[str, Any] = {
        "message_id": chat.allocate_message_id(),
        "from": state.bot_user(),
        "chat": chat.chat_json(),
        "date": now(),
    }
    if reply is not None:
        data["reply_to_message"] = reply
    data.update(content)
    if extra:
        data.update(extra)
    if ctx.params.get("protect_content"):
        data["has_protected_content"] = True
    inline = inline_only(markup)
    if inline is not None:
        data["reply_markup"] = inline
    msg = StoredMessage(data, from_bot=True)
    chat.messages[msg.message_id] = msg
    apply_to_chat(chat, markup)
    chat.pulse.notify()
    return msg


def _send_common(
    ctx: CallContext,
) -> tuple[ChatState, dict[str, Any] | None, dict[str, Any] | None]:
    chat = writable_chat(ctx)
    markup = validate_markup(ctx.params.get("reply_markup"))
    reply = resolve_reply(chat, ctx.params)
    return chat, markup, reply


# ---------------------------------------------------------------------------------------
# bot / updates
# ---------------------------------------------------------------------------------------
@method("getMe")
async def get_me(ctx: CallContext) -> Any:
    return {
        **ctx.state.bot_user(),
        "can_join_groups": True,
        "can_read_all_group_messages": False,
        "supports_inline_queries": False,
        "can_connect_to_business": False,
        "has_main_web_app": False,
    }


@method("logOut", "close")
async def log_out(ctx: CallContext) -> Any:
    return True


@method(
    "setMyDescription",
    "setMyShortDescription",
    "setMyName",
    "setChatMenuButton",
    "setMyDefaultAdministratorRights",
)
async def accepted_noop(ctx: CallContext) -> Any:
    # Startup-time cosmetics; nothing observable in a private chat test.
    return True


@method("setWebhook")
async def set_webhook(ctx: CallContext) -> Any:
    ctx.state.webhook_url = str(ctx.params.get("url") or "")
    return True


@method("deleteWebhook")
async def delete_webhook(ctx: CallContext) -> Any:
    ctx.state.webhook_url = ""
    if ctx.params.get("drop_pending_updates"):
        ctx.state.queue.clear()
    return True


@method("getWebhookInfo")
async def get_webhook_info(ctx: CallContext) -> Any:
    return {
        "url": ctx.state.webhook_url,
        "has_custom_certificate": False,
        "pending_update_count": len(ctx.state.queue),
    }


def _update_type(update: dict[str, Any]) -> str:
    return next((k for k in update if k != "update_id"), "")


def _confirm(state: EmulatorState, offset: int | None) -> None:
    if offset is None:
        return
    if offset < 0:
        # Negative offset: keep only the last -offset updates, forget the rest (Bot API).
        keep = state.queue[offset:] if -offset < len(state.queue) else state.queue
        state.queue = list(keep)
        return
    state.queue = [
        q for q in state.queue if q.update_id >= offset or (q.forced and not q.delivered)
    ]


@method("getUpdates")
async def get_updates(ctx: CallContext) -> Any:
    state, params = ctx.state, ctx.params
    if state.webhook_url:
        raise ApiError(
            409,
            E.CONFLICT_WEBHOOK,
        )
    limit = max(1, min(100, int(params.get("limit") or 100)))
    timeout = max(0.0, float(params.get("timeout") or 0))
    offset = _int_param(params, "offset", required=False)
    allowed = params.get("allowed_updates")
    if isinstance(allowed, list):
        state.allowed_updates = list(allowed) or None
    # Only one long poll may be active; a newer one terminates the older (409), like Telegram.
    state.poll_generation += 1
    generation = state.poll_generation
    state.updates_pulse.notify()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        if generation != state.poll_generation:
            raise ApiError(
                409,
                E.CONFLICT_POLL,
            )
        _confirm(state, offset)
        if state.allowed_updates is not None:
            state.queue = [
                q for q in state.queue if _update_type(q.update) in state.allowed_updates
            ]
        ready = state.queue[:limit]
        if ready or state.closing:
            break
        if not await state.updates_pulse.wait(deadline - loop.time()):
            if generation != state.poll_generation:
                continue
            break
    for q in ready:
        q.delivered = True
    return [q.update for q in ready]


# ---------------------------------------------------------------------------------------
# sending
# ---------------------------------------------------------------------------------------
@method("sendMessage")
async def send_message(ctx: CallContext) -> Any:
    p = ctx.params
    chat, markup, reply = _send_common(ctx)
    text, ents = checked_text(
        p.get("text"),
        p.get("parse_mode"),
        p.get("entities"),
        limit=TEXT_LIMIT,
        empty=E.TEXT_EMPTY,
        too_long=E.TEXT_TOO_LONG,
    )
    content: dict[str, Any] = {"text": text}
    if ents:
        content["entities"] = ents
    lpo = p.get("link_preview_options")
    if isinstance(lpo, dict) and lpo:
        content["link_preview_options"] = lpo
    return post_bot_message(ctx, chat, content, markup=markup, reply=reply).snapshot()


def _media_sender(kind: str) -> Handler:
    async def send_media(ctx: CallContext) -> Any:
        chat, markup, reply = _send_common(ctx)
        value = resolve_file(ctx.state, kind, ctx.params.get(kind), ctx.uploads, ctx.params)
        content: dict[str, Any] = {kind: value}
        if kind != "video_note" and kind != "sticker":
            content.update(caption_content(ctx.params))
        if kind == "sticker" and ctx.params.get("emoji"):
            content["sticker"]["emoji"] = ctx.params["emoji"]
        return post_bot_message(ctx, chat, content, markup=markup, reply=reply).snapshot()

    send_media.__name__ = f"send_{kind}"
    return send_media


for _kind, _name in (
    ("photo", "sendPhoto"),
    ("document", "sendDocument"),
    ("voice", "sendVoice"),
    ("audio", "sendAudio"),
    ("video", "sendVideo"),
    ("video_note", "sendVideoNote"),
    ("sticker", "sendSticker"),
):
    method(_name)(_media_sender(_kind))


@method("sendLocation")
async def send_location(ctx: CallContext) -> Any:
    chat, markup, reply = _send_common(ctx)
    try:
        lat, lon = float(ctx.params["latitude"]), float(ctx.params["longitude"])
    except (KeyError, TypeError, ValueError):
        raise bad_request("wrong latitude/longitude specified") from None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise bad_request("wrong latitude/longitude specified")
    content = {"location": {"latitude": lat, "longitude": lon}}
    return post_bot_message(ctx, chat, content, markup=markup, reply=reply).snapshot()


@method("sendContact")
async def send_contact(ctx: CallContext) -> Any:
    chat, markup, reply = _send_common(ctx)
    p = ctx.params
    if not p.get("phone_number") or not p.get("first_name"):
        raise bad_request("phone number and first name must be non-empty")
    contact = {"phone_number": str(p["phone_number"]), "first_name": str(p["first_name"])}
    if p.get("last_name"):
        contact["last_name"] = str(p["last_name"])
    return post_bot_message(ctx, chat, {"contact": contact}, markup=markup, reply=reply).snapshot()


_GROUPABLE = {"photo", "video", "document", "audio"}


@method("sendMediaGroup")
async def send_media_group(ctx: CallContext) -> Any:
    chat = writable_chat(ctx)
    reply = resolve_reply(chat, ctx.params)
    media = ctx.params.get("media")
    if not isinstance(media, list) or not 2 <= len(media) <= 10:
        raise bad_request("wrong number of media items specified")
    contents: list[dict[str, Any]] = []
    for item in media:
        if not isinstance(item, dict) or item.get("type") not in _GROUPABLE:
            raise bad_request("wrong media type specified")
        kind = item["type"]
        content: dict[str, Any] = {
            kind: resolve_file(ctx.state, kind, item.get("media"), ctx.uploads, item, field="media")
        }
        content.update(caption_content(item))
        contents.append(content)
    group_id = str(10**17 + secrets.randbelow(10**17))
    return [
        post_bot_message(ctx, chat, c, reply=reply, extra={"media_group_id": group_id}).snapshot()
        for c in contents
    ]


@method("sendChatAction")
async def send_chat_action(ctx: CallContext) -> Any:
    writable_chat(ctx)
    if not ctx.params.get("action"):
        raise bad_request("wrong parameter action in request")
    return True


# ---------------------------------------------------------------------------------------
# editing / deleting / copying
# ---------------------------------------------------------------------------------------
def editable_message(ctx: CallContext) -> tuple[ChatState, StoredMessage]:
    if ctx.params.get("inline_message_id"):
        raise bad_request("MESSAGE_ID_INVALID")  # inline mode isn't emulated
    chat = lookup_chat(ctx.state, ctx.params.get("chat_id"))
    mid = _int_param(ctx.params, "message_id")
    msg = chat.messages.get(mid or 0)
    if msg is None or msg.deleted:
        raise bad_request(E.EDIT_NOT_FOUND)
    if not msg.from_bot:
        raise bad_request("message can't be edited")
    return chat, msg


def _edit_markup(ctx: CallContext) -> dict[str, Any] | None:
    markup = validate_markup(ctx.params.get("reply_markup"))
    if markup is not None and "inline_keyboard" not in markup:
        raise bad_request("inline keyboard expected")
    return markup


def _commit_edit(
    chat: ChatState, msg: StoredMessage, changes: dict[str, Any], markup: dict[str, Any] | None
) -> Any:
    for key, value in changes.items():
        if value:
            msg[key] = value
        else:
            msg.pop(key, None)
    # An edit without reply_markup removes the inline keyboard, as on Telegram.
    if markup:
        msg["reply_markup"] = markup
    else:
        msg.pop("reply_markup", None)
    msg["edit_date"] = now()
    msg.version += 1
    chat.pulse.notify()
    return msg.snapshot()


@method("editMessageText")
async def edit_message_text(ctx: CallContext) -> Any:
    p = ctx.params
    chat, msg = editable_message(ctx)
    if "text" not in msg:
        raise bad_request("there is no text in the message to edit")
    text, ents = checked_text(
        p.get("text"),
        p.get("parse_mode"),
        p.get("entities"),
        limit=TEXT_LIMIT,
        empty=E.TEXT_EMPTY,
        too_long=E.TEXT_TOO_LONG,
    )
    markup = _edit_markup(ctx)
    if (
        text == msg["text"]
        and ents == msg.get("entities", [])
        and markup == msg.get("reply_markup")
    ):
        raise bad_request(E.NOT_MODIFIED)
    return _commit_edit(chat, msg, {"text": text, "entities": ents}, markup)


@method("editMessageCaption")
async def edit_message_caption(ctx: CallContext) -> Any:
    chat, msg = editable_message(ctx)
    if "text" in msg or not any(
        k in msg for k in ("photo", "document", "video", "audio", "voice", "animation")
    ):
        raise bad_request("there is no caption in the message to edit")
    cap = caption_content(ctx.params)
    markup = _edit_markup(ctx)
    if (
        cap.get("caption", "") == msg.get("caption", "")
        and cap.get("caption_entities", []) == msg.get("caption_entities", [])
        and markup == msg.get("reply_markup")
    ):
        raise bad_request(E.NOT_MODIFIED)
    changes = {"caption": cap.get("caption"), "caption_entities": cap.get("caption_entities")}
    return _commit_edit(chat, msg, changes, markup)


@method("editMessageReplyMarkup")
async def edit_message_reply_markup(ctx: CallContext) -> Any:
    chat, msg = editable_message(ctx)
    markup = _edit_markup(ctx)
    if markup == msg.get("reply_markup"):
        raise bad_request(E.NOT_MODIFIED)
    return _commit_edit(chat, msg, {}, markup)


def _delete_one(chat: ChatState, mid: int | None) -> bool:
    msg = chat.messages.get(mid or 0)
    if msg is None or msg.deleted:
        return False
    msg.deleted = True
    chat.pulse.notify()
    return True


@method("deleteMessage")
async def delete_message(ctx: CallContext) -> Any:
    chat = lookup_chat(ctx.state, ctx.params.get("chat_id"))
    if not _delete_one(chat, _int_param(ctx.params, "message_id")):
        raise bad_request(E.DELETE_NOT_FOUND)
    return True


@method("deleteMessages")
async def delete_messages(ctx: CallContext) -> Any:
    chat = lookup_chat(ctx.state, ctx.params.get("chat_id"))
    ids = ctx.params.get("message_ids")
    if not isinstance(ids, list) or not ids:
        raise bad_request("message identifiers are not specified")
    for mid in ids:
        _delete_one(chat, int(mid))
    return True


_COPYABLE = (
    "text",
    "entities",
    "caption",
    "caption_entities",
    "photo",
    "document",
    "voice",
    "audio",
    "video",
    "video_note",
    "sticker",
    "location",
    "contact",
    "animation",
    "venue",
    "poll",
    "dice",
)


def _source_message(ctx: CallContext, missing: str) -> StoredMessage:
    src_chat = lookup_chat(ctx.state, ctx.params.get("from_chat_id"))
    msg = src_chat.messages.get(_int_param(ctx.params, "message_id") or 0)
    if msg is None or msg.deleted:
        raise bad_request(missing)
    return msg


@method("copyMessage")
async def copy_message(ctx: CallContext) -> Any:
    chat, markup, reply = _send_common(ctx)
    src = _source_message(ctx, E.COPY_NOT_FOUND)
    content = {k: v for k, v in src.snapshot().items() if k in _COPYABLE}
    if not content:
        raise bad_request("message can't be copied")
    if "caption" in ctx.params and "text" not in content:
        content.pop("caption", None)
        content.pop("caption_entities", None)
        content.update(caption_content(ctx.params))
    msg = post_bot_message(ctx, chat, content, markup=markup, reply=reply)
    return {"message_id": msg.message_id}


@method("copyMessages")
async def copy_messages(ctx: CallContext) -> Any:
    """Copies several messages in order; an album stays an album (with a new group id)."""
    chat = writable_chat(ctx)
    src_chat = lookup_chat(ctx.state, ctx.params.get("from_chat_id"))
    raw = ctx.params.get("message_ids")
    ids = json.loads(raw) if isinstance(raw, str) else raw
    if not isinstance(ids, list) or not 1 <= len(ids) <= 100:
        raise bad_request("message identifiers are not specified")
    ids = [int(i) for i in ids]
    if ids != sorted(ids):
        raise bad_request("message identifiers must be in a strictly increasing order")
    new_groups: dict[str, str] = {}
    copied = []
    for message_id in ids:
        src = src_chat.messages.get(message_id)
        if src is None or src.deleted:
            continue  # Telegram skips what it cannot find
        content = {k: v for k, v in src.snapshot().items() if k in _COPYABLE}
        extra: dict[str, Any] = {}
        if src.get("media_group_id"):
            group = new_groups.setdefault(
                str(src["media_group_id"]), str(10**17 + secrets.randbelow(10**17))
            )
            extra["media_group_id"] = group
        copied.append({"message_id": post_bot_message(ctx, chat, content, extra=extra).message_id})
    if not copied:
        raise bad_request(E.COPY_NOT_FOUND)
    return copied


@method("forwardMessage")
async def forward_message(ctx: CallContext) -> Any:
    chat = writable_chat(ctx)
    src = _source_message(ctx, "message to forward not found")
    content = {k: v for k, v in src.snapshot().items() if k in _COPYABLE}
    origin = {"type": "user", "sender_user": src["from"], "date": src["date"]}
    return post_bot_message(ctx, chat, content, extra={"forward_origin": origin}).snapshot()


# ---------------------------------------------------------------------------------------
# callback queries, files, commands
# ---------------------------------------------------------------------------------------
@method("answerCallbackQuery")
async def answer_callback_query(ctx: CallContext) -> Any:
    p = ctx.params
    record = ctx.state.callbacks.get(str(p.get("callback_query_id") or ""))
    if record is None or record.answer is not None:
        raise bad_request(E.QUERY_TOO_OLD)
    text = p.get("text")
    if text is not None and len(str(text)) > 200:
        raise bad_request("MESSAGE_TOO_LONG")
    record.answer = {
        "text": text,
        "show_alert": bool(p.get("show_alert", False)),
        "url": p.get("url"),
        "cache_time": int(p.get("cache_time") or 0),
    }
    record.answered_event.set()
    return True


@method("getFile")
async def get_file(ctx: CallContext) -> Any:
    stored = ctx.state.files.get(str(ctx.params.get("file_id") or ""))
    if stored is None:
        raise bad_request(E.WRONG_FILE_ID)
    if len(stored.data) > 20 * 1024 * 1024:
        raise bad_request("file is too big")
    return {
        "file_id": stored.file_id,
        "file_unique_id": stored.file_unique_id,
        "file_size": len(stored.data),
        "file_path": stored.file_path,
    }


_COMMAND_RE = re.compile(r"^[a-z0-9_]{1,32}$")


def scope_key(ctx: CallContext) -> tuple[Any, ...]:
    scope = ctx.params.get("scope")
    if scope in (None, ""):
        return ("default",)
    if not isinstance(scope, dict):
        raise bad_request("can't parse BotCommandScope JSON object")
    kind = scope.get("type", "default")
    if kind in ("default", "all_private_chats", "all_group_chats", "all_chat_administrators"):
        return (kind,)
    if kind in ("chat", "chat_administrators", "chat_member"):
        chat = lookup_chat(ctx.state, scope.get("chat_id"))
        if kind == "chat_member":
            return (kind, chat.chat_id, int(scope.get("user_id") or 0))
        return (kind, chat.chat_id)
    raise bad_request("wrong bot command scope type specified")


def _lang(ctx: CallContext) -> str:
    lang = str(ctx.params.get("language_code") or "")
    if lang and not re.fullmatch(r"[a-z]{2}", lang):
        raise bad_request("invalid language code specified")
    return lang


@method("setMyCommands")
async def set_my_commands(ctx: CallContext) -> Any:
    commands = ctx.params.get("commands")
    if not isinstance(commands, list):
        raise bad_request("can't parse commands JSON object")
    if len(commands) > 100:
        raise bad_request("too many commands specified")
    clean: list[dict[str, str]] = []
    for cmd in commands:
        if not isinstance(cmd, dict):
            raise bad_request("can't parse BotCommand JSON object")
        name, desc = str(cmd.get("command", "")), str(cmd.get("description", ""))
        if not _COMMAND_RE.match(name.lower()) or name != name.lower():
            raise bad_request("BOT_COMMAND_INVALID")
        if not 1 <= len(desc.strip()) <= 256 or len(desc) > 256:
            raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
        clean.append({"command": name, "description": desc})
    key = (scope_key(ctx), _lang(ctx))
    if clean:
        ctx.state.commands[key] = clean
    else:
        ctx.state.commands.pop(key, None)
    return True


@method("getMyCommands")
async def get_my_commands(ctx: CallContext) -> Any:
    return list(ctx.state.commands.get((scope_key(ctx), _lang(ctx)), []))


@method("deleteMyCommands")
async def delete_my_commands(ctx: CallContext) -> Any:
    ctx.state.commands.pop((scope_key(ctx), _lang(ctx)), None)
    return True
