"""python-telegram-bot adapter: updates in as project events, project actions out as Bot calls.

Nothing else lives here: no flow logic, no database.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterator
from contextlib import AbstractAsyncContextManager
from datetime import timedelta

import telegram
from telegram import constants, error
from telegram.ext import Application, ApplicationBuilder, ContextTypes, TypeHandler

from bot.errors import StartupError
from bot.update_parts import message_event, pre_checkout_event, sender_of
from handlers.dispatcher import Dispatcher as Core
from handlers.events import (
    Event,
    EventKind,
)
from handlers.port import (
    BadRequest,
    BotCommand,
    Document,
    InlineKeyboard,
    Invoice,
    Markup,
    MessageNotModified,
    Messenger,
    RecipientUnavailable,
    RemoveKeyboard,
    ReplyKeyboard,
    RetryLater,
    SentMessage,
    TransportError,
)

log = logging.getLogger(__name__)


@contextlib.contextmanager
def _translated_errors() -> Iterator[None]:
    try:
        yield
    except error.RetryAfter as exc:
        wait = exc.retry_after
        raise RetryLater(
            wait.total_seconds() if isinstance(wait, timedelta) else float(wait)
        ) from None
    except error.Forbidden as exc:
        raise RecipientUnavailable(exc.message) from None
    except error.BadRequest as exc:
        # PTB capitalises Telegram's text ("Message is not modified: ..."), so compare lowered.
        if "message is not modified" in exc.message.lower():
            raise MessageNotModified(exc.message) from None
        raise BadRequest(exc.message) from None
    except error.TelegramError as exc:
        raise TransportError(f"{type(exc).__name__}: {exc.message}") from None


def _markup(
    markup: Markup | None,
) -> (
    telegram.InlineKeyboardMarkup
    | telegram.ReplyKeyboardMarkup
    | telegram.ReplyKeyboardRemove
    | None
):
    if markup is None:
        return None
    if isinstance(markup, InlineKeyboard):
        return telegram.InlineKeyboardMarkup(
            [
                [
                    telegram.InlineKeyboardButton(b.text, callback_data=b.callback_data, url=b.url)
                    for b in row
                ]
                for row in markup.rows
            ]
        )
    if isinstance(markup, ReplyKeyboard):
        return telegram.ReplyKeyboardMarkup(
            [
                [
                    telegram.KeyboardButton(
                        b.text,
                        request_contact=b.request_contact or None,
                        request_location=b.request_location or None,
                    )
                    for b in row
                ]
                for row in markup.rows
            ],
            resize_keyboard=True,
            one_time_keyboard=markup.one_time,
            input_field_placeholder=markup.placeholder,
        )
    assert isinstance(markup, RemoveKeyboard)
    return telegram.ReplyKeyboardRemove()


def _reply(to: int | None) -> telegram.ReplyParameters | None:
    return telegram.ReplyParameters(to, allow_sending_without_reply=True) if to else None


class PtbMessenger(Messenger):
    def __init__(self, bot: telegram.Bot) -> None:
        self._bot = bot

    async def send_text(
        self, chat_id: int, text: str, markup: Markup | None = None, reply_to: int | None = None
    ) -> SentMessage:
        with _translated_errors():
            message = await self._bot.send_message(
                chat_id,
                text,
                parse_mode=constants.ParseMode.HTML,
                reply_markup=_markup(markup),
                reply_parameters=_reply(reply_to),
                link_preview_options=telegram.LinkPreviewOptions(is_disabled=True),
            )
        return SentMessage(message.chat_id, message.message_id)

    async def edit_text(
        self, chat_id: int, message_id: int, text: str, markup: InlineKeyboard | None = None
    ) -> None:
        with _translated_errors():
            await self._bot.edit_message_text(
                text,
                chat_id=chat_id,
                message_id=message_id,
                parse_mode=constants.ParseMode.HTML,
                reply_markup=_markup(markup),  # type: ignore[arg-type]
                link_preview_options=telegram.LinkPreviewOptions(is_disabled=True),
            )

    async def edit_markup(
        self, chat_id: int, message_id: int, markup: InlineKeyboard | None
    ) -> None:
        with _translated_errors():
            await self._bot.edit_message_reply_markup(
                chat_id=chat_id,
                message_id=message_id,
                reply_markup=_markup(markup),  # type: ignore[arg-type]
            )

    async def edit_caption(self, chat_id: int, message_id: int, caption: str) -> None:
        with _translated_errors():
            await self._bot.edit_message_caption(
                chat_id=chat_id,
                message_id=message_id,
                caption=caption,
                parse_mode=constants.ParseMode.HTML,
            )

    async def answer_callback(
        self, callback_id: str, text: str | None = None, alert: bool = False
    ) -> None:
        with _translated_errors():
            await self._bot.answer_callback_query(callback_id, text=text, show_alert=alert)

    async def delete_message(self, chat_id: int, message_id: int) -> None:
        with _translated_errors():
            await self._bot.delete_message(chat_id, message_id)

    async def copy_message(
        self,
        chat_id: int,
        from_chat_id: int,
        message_id: int,
        caption: str | None = None,
        reply_to: int | None = None,
    ) -> SentMessage:
        with _translated_errors():
            copied = await self._bot.copy_message(
                chat_id,
                from_chat_id,
                message_id,
                caption=caption,
                parse_mode=constants.ParseMode.HTML if caption else None,
                reply_parameters=_reply(reply_to),
            )
        return SentMessage(chat_id, copied.message_id)

    async def copy_messages(
        self, chat_id: int, from_chat_id: int, message_ids: list[int]
    ) -> list[SentMessage]:
        with _translated_errors():
            copied = await self._bot.copy_messages(chat_id, from_chat_id, message_ids)
        return [SentMessage(chat_id, c.message_id) for c in copied]

    async def send_document(
        self, chat_id: int, document: Document, caption: str | None = None
    ) -> SentMessage:
        with _translated_errors():
            message = await self._bot.send_document(
                chat_id,
                telegram.InputFile(document.data, filename=document.filename),
                caption=caption,
                parse_mode=constants.ParseMode.HTML if caption else None,
            )
        return SentMessage(message.chat_id, message.message_id)

    async def send_photo(
        self, chat_id: int, photo: Document, caption: str | None = None
    ) -> SentMessage:
        with _translated_errors():
            message = await self._bot.send_photo(
                chat_id,
                telegram.InputFile(photo.data, filename=photo.filename),
                caption=caption,
                parse_mode=constants.ParseMode.HTML if caption else None,
            )
        return SentMessage(message.chat_id, message.message_id)

    async def send_document_by_id(
        self, chat_id: int, file_id: str, caption: str | None = None, kind: str = "document"
    ) -> SentMessage:
        parse_mode = constants.ParseMode.HTML if caption else None
        with _translated_errors():
            if kind == "photo":
                message = await self._bot.send_photo(
                    chat_id, file_id, caption=caption, parse_mode=parse_mode
                )
            else:
                message = await self._bot.send_document(
                    chat_id, file_id, caption=caption, parse_mode=parse_mode
                )
        return SentMessage(message.chat_id, message.message_id)

    async def send_chat_action(self, chat_id: int, action: str) -> None:
        with _translated_errors():
            await self._bot.send_chat_action(chat_id, action)

    async def set_chat_commands(self, chat_id: int, commands: list[BotCommand]) -> None:
        with _translated_errors():
            await self._bot.set_my_commands(
                [telegram.BotCommand(c.command, c.description) for c in commands],
                scope=telegram.BotCommandScopeChat(chat_id),
            )

    async def bot_username(self) -> str:
        return self._bot.username

    async def download(self, file_id: str) -> bytes:
        with _translated_errors():
            remote = await self._bot.get_file(file_id)
            return bytes(await remote.download_as_bytearray())

    async def send_invoice(self, chat_id: int, invoice: Invoice) -> SentMessage:
        with _translated_errors():
            message = await self._bot.send_invoice(
                chat_id,
                invoice.title,
                invoice.description,
                invoice.payload,
                invoice.currency,
                [telegram.LabeledPrice(invoice.label, invoice.amount)],
                provider_token=invoice.provider_token or None,
            )
        return SentMessage(message.chat_id, message.message_id)

    async def answer_pre_checkout_query(
        self, query_id: str, ok: bool, error_message: str | None = None
    ) -> None:
        with _translated_errors():
            await self._bot.answer_pre_checkout_query(
                query_id, ok, error_message=None if ok else error_message
            )

    async def refund_star_payment(self, user_id: int, telegram_charge_id: str) -> None:
        with _translated_errors():
            await self._bot.refund_star_payment(user_id, telegram_charge_id)


def to_event(update: telegram.Update, bot_username: str | None) -> Event | None:
    """The project's event for a framework update, or None for what the bot ignores."""
    if update.pre_checkout_query is not None:
        return pre_checkout_event(update.update_id, update.pre_checkout_query)
    if update.callback_query is not None:
        query = update.callback_query
        message = query.message
        chat_id = message.chat.id if message is not None else query.from_user.id
        return Event(
            update_id=update.update_id,
            kind=EventKind.CALLBACK,
            sender=sender_of(query.from_user),
            chat_id=chat_id,
            message_id=message.message_id if message is not None else None,
            callback_id=query.id,
            callback_data=query.data,
        )
    member = update.my_chat_member
    if member is not None:
        status = member.new_chat_member.status
        if member.chat.type != constants.ChatType.PRIVATE or status not in ("kicked", "member"):
            return None
        return Event(
            update_id=update.update_id,
            kind=EventKind.BLOCKED if status == "kicked" else EventKind.UNBLOCKED,
            sender=sender_of(member.from_user),
            chat_id=member.chat.id,
        )
    message = update.message or update.edited_message
    if message is None or message.from_user is None:
        return None
    return message_event(update.update_id, message, update.message is None, bot_username)


def build_application(token: str, api_root: str) -> Application:  # type: ignore[type-arg]
    return (
        ApplicationBuilder()
        .token(token)
        .base_url(f"{api_root}/bot")
        .base_file_url(f"{api_root}/file/bot")
        .concurrent_updates(False)  # order is kept by submitting in arrival order
        .build()
    )


async def run_polling(
    token: str,
    api_root: str,
    open_core: Callable[[Messenger], AbstractAsyncContextManager[Core]],
    stop: asyncio.Event,
    on_ready: Callable[[str], None],
) -> None:
    """Prove the token, open the core, long-poll until `stop`, then finish received work."""
    application = build_application(token, api_root)
    try:
        await application.initialize()  # getMe: proves the token and the base URL
    except error.InvalidToken:
        raise StartupError(
            "Telegram rejected BOT_TOKEN (Unauthorized). Copy the token again from @BotFather."
        ) from None
    except error.NetworkError as exc:
        raise StartupError(
            f"cannot reach the Bot API at {api_root} ({exc.message}). Check "
            "TELEGRAM_API_BASE_URL and the network."
        ) from None
    try:
        async with open_core(PtbMessenger(application.bot)) as core:
            await _poll(application, core, stop, on_ready)
    finally:
        await application.shutdown()


async def _poll(
    application: Application,  # type: ignore[type-arg]
    core: Core,
    stop: asyncio.Event,
    on_ready: Callable[[str], None],
) -> None:
    async def on_update(update: object, _context: ContextTypes.DEFAULT_TYPE) -> None:
        if isinstance(update, telegram.Update):
            event = to_event(update, application.bot.username)
            if event is not None:
                core.submit(event)

    async def on_error(_update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        log.error("framework error", extra={"error": type(context.error).__name__})

    application.add_handler(TypeHandler(telegram.Update, on_update))
    application.add_error_handler(on_error)
    await application.start()
    assert application.updater is not None
    await application.updater.start_polling(allowed_updates=telegram.Update.ALL_TYPES, timeout=10)
    on_ready(application.bot.username)
    await stop.wait()
    await application.updater.stop()
    await core.drain()  # everything already received is handled before exit
    await application.stop()
