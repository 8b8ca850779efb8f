"""aiogram 3 adapter: updates in as project events, project actions out as Bot calls.

It mirrors `bot/ptb_adapter.py` call for call, so one core and one end-to-end suite serve both
frameworks. Nothing else lives here: no flow logic, no database.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterator
from contextlib import AbstractAsyncContextManager

from aiogram import Bot, types
from aiogram import Dispatcher as AiogramDispatcher
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ChatType, ParseMode
from aiogram.exceptions import (
    ClientDecodeError,
    TelegramAPIError,
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramNotFound,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)

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

# Every update type the Bot API knows, as python-telegram-bot's Update.ALL_TYPES asks for: the
# core decides what to ignore, not the subscription. Read from aiogram's own Update model so a
# newer Bot API version needs no edit here.
ALL_UPDATE_TYPES = [name for name in types.Update.model_fields if name != "update_id"]

# Long-poll wait in seconds, the same as the PTB adapter's getUpdates timeout.
POLL_TIMEOUT = 10


def _description(message: str) -> str:
    """Telegram's error text as python-telegram-bot words it, so logs read the same on both.

    PTB drops these prefixes and capitalises what is left (telegram.error.TelegramError).
    """
    text = message.removeprefix("Error: ").removeprefix("[Error]: ").removeprefix("Bad Request: ")
    return text.capitalize() if text != message else text


@contextlib.contextmanager
def _translated_errors() -> Iterator[None]:
    try:
        yield
    except TelegramRetryAfter as exc:
        raise RetryLater(float(exc.retry_after)) from None
    except TelegramForbiddenError as exc:
        raise RecipientUnavailable(_description(exc.message)) from None
    except TelegramBadRequest as exc:
        if "message is not modified" in exc.message.lower():
            raise MessageNotModified(_description(exc.message)) from None
        raise BadRequest(_description(exc.message)) from None
    except (TelegramAPIError, ClientDecodeError) as exc:
        # TelegramAPIError covers TelegramNetworkError, 5xx, 404, 409...; a response that is
        # not JSON is a transport failure too (PTB reports it as a plain TelegramError).
        raise TransportError(f"{type(exc).__name__}: {_description(exc.message)}") from None


def _markup(
    markup: Markup | None,
) -> types.InlineKeyboardMarkup | types.ReplyKeyboardMarkup | types.ReplyKeyboardRemove | None:
    if markup is None:
        return None
    if isinstance(markup, InlineKeyboard):
        return types.InlineKeyboardMarkup(
            inline_keyboard=[
                [
                    types.InlineKeyboardButton(
                        text=b.text, callback_data=b.callback_data, url=b.url
                    )
                    for b in row
                ]
                for row in markup.rows
            ]
        )
    if isinstance(markup, ReplyKeyboard):
        return types.ReplyKeyboardMarkup(
            keyboard=[
                [
                    types.KeyboardButton(
                        text=b.text,
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
    return types.ReplyKeyboardRemove()


def _inline(markup: InlineKeyboard | None) -> types.InlineKeyboardMarkup | None:
    built = _markup(markup)
    assert built is None or isinstance(built, types.InlineKeyboardMarkup)
    return built


def _reply(to: int | None) -> types.ReplyParameters | None:
    return types.ReplyParameters(message_id=to, allow_sending_without_reply=True) if to else None


_NO_PREVIEW = types.LinkPreviewOptions(is_disabled=True)


class AiogramMessenger(Messenger):
    def __init__(self, bot: Bot, username: str) -> None:
        self._bot = bot
        self._username = username

    async def send_text(
        self, chat_id: int, text: str, markup: Markup | None = None, reply_to: int | None = None
    ) -> SentMessage:
        with _translated_errors():
            message = await self._bot.send_message(
                chat_id=chat_id,
                text=text,
                parse_mode=ParseMode.HTML,
                reply_markup=_markup(markup),
                reply_parameters=_reply(reply_to),
                link_preview_options=_NO_PREVIEW,
            )
        return SentMessage(message.chat.id, message.message_id)

    async def edit_text(
        self, chat_id: int, message_id: int, text: str, markup: InlineKeyboard | None = None
    ) -> None:
        with _translated_errors():
            await self._bot.edit_message_text(
                text=text,
                chat_id=chat_id,
                message_id=message_id,
                parse_mode=ParseMode.HTML,
                reply_markup=_inline(markup),
                link_preview_options=_NO_PREVIEW,
            )

    async def edit_markup(
        self, chat_id: int, message_id: int, markup: InlineKeyboard | None
    ) -> None:
        with _translated_errors():
            await self._bot.edit_message_reply_markup(
                chat_id=chat_id, message_id=message_id, reply_markup=_inline(markup)
            )

    async def edit_caption(self, chat_id: int, message_id: int, caption: str) -> None:
        with _translated_errors():
            await self._bot.edit_message_caption(
                chat_id=chat_id, message_id=message_id, caption=caption, parse_mode=ParseMode.HTML
            )

    async def answer_callback(
        self, callback_id: str, text: str | None = None, alert: bool = False
    ) -> None:
        with _translated_errors():
            await self._bot.answer_callback_query(
                callback_query_id=callback_id, text=text, show_alert=alert
            )

    async def delete_message(self, chat_id: int, message_id: int) -> None:
        with _translated_errors():
            await self._bot.delete_message(chat_id=chat_id, message_id=message_id)

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
                chat_id=chat_id,
                from_chat_id=from_chat_id,
                message_id=message_id,
                caption=caption,
                parse_mode=ParseMode.HTML if caption else None,
                reply_parameters=_reply(reply_to),
            )
        return SentMessage(chat_id, copied.message_id)

    async def copy_messages(
        self, chat_id: int, from_chat_id: int, message_ids: list[int]
    ) -> list[SentMessage]:
        with _translated_errors():
            copied = await self._bot.copy_messages(
                chat_id=chat_id, from_chat_id=from_chat_id, message_ids=message_ids
            )
        return [SentMessage(chat_id, c.message_id) for c in copied]

    async def send_document(
        self, chat_id: int, document: Document, caption: str | None = None
    ) -> SentMessage:
        with _translated_errors():
            message = await self._bot.send_document(
                chat_id=chat_id,
                document=types.BufferedInputFile(document.data, filename=document.filename),
                caption=caption,
                parse_mode=ParseMode.HTML if caption else None,
            )
        return SentMessage(message.chat.id, message.message_id)

    async def send_photo(
        self, chat_id: int, photo: Document, caption: str | None = None
    ) -> SentMessage:
        with _translated_errors():
            message = await self._bot.send_photo(
                chat_id=chat_id,
                photo=types.BufferedInputFile(photo.data, filename=photo.filename),
                caption=caption,
                parse_mode=ParseMode.HTML if caption else None,
            )
        return SentMessage(message.chat.id, message.message_id)

    async def send_document_by_id(
        self, chat_id: int, file_id: str, caption: str | None = None, kind: str = "document"
    ) -> SentMessage:
        parse_mode = ParseMode.HTML if caption else None
        with _translated_errors():
            if kind == "photo":
                message = await self._bot.send_photo(
                    chat_id=chat_id, photo=file_id, caption=caption, parse_mode=parse_mode
                )
            else:
                message = await self._bot.send_document(
                    chat_id=chat_id, document=file_id, caption=caption, parse_mode=parse_mode
                )
        return SentMessage(message.chat.id, message.message_id)

    async def send_chat_action(self, chat_id: int, action: str) -> None:
        with _translated_errors():
            await self._bot.send_chat_action(chat_id=chat_id, action=action)

    async def set_chat_commands(self, chat_id: int, commands: list[BotCommand]) -> None:
        with _translated_errors():
            await self._bot.set_my_commands(
                commands=[
                    types.BotCommand(command=c.command, description=c.description) for c in commands
                ],
                scope=types.BotCommandScopeChat(chat_id=chat_id),
            )

    async def bot_username(self) -> str:
        return self._username

    async def download(self, file_id: str) -> bytes:
        with _translated_errors():
            buffer = await self._bot.download(file_id)
        assert buffer is not None
        return buffer.read()

    async def send_invoice(self, chat_id: int, invoice: Invoice) -> SentMessage:
        with _translated_errors():
            message = await self._bot.send_invoice(
                chat_id=chat_id,
                title=invoice.title,
                description=invoice.description,
                payload=invoice.payload,
                currency=invoice.currency,
                prices=[types.LabeledPrice(label=invoice.label, amount=invoice.amount)],
                provider_token=invoice.provider_token or None,
            )
        return SentMessage(message.chat.id, message.message_id)

    async def answer_pre_checkout_query(
        self, query_id: str, ok: bool, error_message: str | None = None
    ) -> None:
        with _translated_errors():
            await self._bot.answer_pre_checkout_query(
                pre_checkout_query_id=query_id,
                ok=ok,
                error_message=None if ok else error_message,
            )

    async def refund_star_payment(self, user_id: int, telegram_charge_id: str) -> None:
        with _translated_errors():
            await self._bot.refund_star_payment(
                user_id=user_id, telegram_payment_charge_id=telegram_charge_id
            )


def to_event(update: types.Update, bot_username: str | None) -> Event | None:
    """The project's event for a framework update, or None for what the bot ignores."""
    if update.pre_checkout_query is not None:
        return pre_checkout_event(update.update_id, update.pre_checkout_query)
    if update.callback_query is not None:
        query = update.callback_query
        message = query.message  # a Message or an InaccessibleMessage: both carry chat and id
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
        status = member.new_chat_member.status  # a str enum: compares equal to "kicked"
        if member.chat.type != ChatType.PRIVATE or status not in ("kicked", "member"):
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


def build_bot(token: str, api_root: str) -> Bot:
    # Same layout as PTB's base_url / base_file_url: <root>/bot<token>/<method> and
    # <root>/file/bot<token>/<path>.
    return Bot(token, session=AiohttpSession(api=TelegramAPIServer.from_base(api_root)))


async def run_polling(
    token: str,
    api_root: str,
    open_core: Callable[[Messenger], AbstractAsyncContextManager[Core]],
    stop: asyncio.Event,
    on_ready: Callable[[str], None],
) -> None:
    """Prove the token, open the core, long-poll until `stop`, then finish received work."""
    bot = build_bot(token, api_root)
    try:
        try:
            me = await bot.me()  # getMe: proves the token and the base URL
        except (TelegramUnauthorizedError, TelegramNotFound):
            # PTB raises InvalidToken for both 401 and 404 on getMe; so do we.
            raise StartupError(
                "Telegram rejected BOT_TOKEN (Unauthorized). Copy the token again from @BotFather."
            ) from None
        except (TelegramNetworkError, TelegramServerError) as exc:
            raise StartupError(
                f"cannot reach the Bot API at {api_root} ({exc.message}). Check "
                "TELEGRAM_API_BASE_URL and the network."
            ) from None
        username = me.username or ""
        async with open_core(AiogramMessenger(bot, username)) as core:
            await _poll(bot, username, core, stop, on_ready)
    finally:
        await bot.session.close()


async def _poll(
    bot: Bot,
    username: str,
    core: Core,
    stop: asyncio.Event,
    on_ready: Callable[[str], None],
) -> None:
    # No FSM: conversation state lives in the database, and the FSM middleware would only add
    # per-update work and an in-memory store nothing reads.
    dispatcher = AiogramDispatcher(disable_fsm=True)

    async def on_update(_event: types.TelegramObject, event_update: types.Update) -> None:
        # Translate and hand over; the core's per-user lanes do the work, so this never blocks
        # and the next update is read at once.
        event = to_event(event_update, username)
        if event is not None:
            core.submit(event)

    # One handler on every update-type observer (aiogram routes an Update to the observer of
    # its type and passes the whole Update as `event_update`).
    for name, observer in dispatcher.observers.items():
        if name not in ("update", "error"):
            observer.register(on_update)

    async def on_startup() -> None:
        on_ready(username)

    dispatcher.startup.register(on_startup)
    polling = asyncio.create_task(
        dispatcher.start_polling(
            bot,
            polling_timeout=POLL_TIMEOUT,
            # Awaiting each update before reading the next keeps arrival order into submit().
            handle_as_tasks=False,
            allowed_updates=ALL_UPDATE_TYPES,
            handle_signals=False,  # bot/app.py owns SIGINT/SIGTERM and sets `stop`
            close_bot_session=False,  # the core still sends while draining below
        )
    )
    stopping = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({polling, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if not polling.done():
            await dispatcher.stop_polling()
        await polling  # re-raises anything polling itself failed with
    finally:
        stopping.cancel()
        if not polling.done():
            polling.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await polling
    await core.drain()  # everything already received is handled before exit
