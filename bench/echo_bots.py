"""Bare echo bots on each framework: the baseline the real bot's throughput is compared with.

`python -m bench.echo_bots ptb|aiogram <token> <api_root>`: long-polls `api_root`, answers every
text with the same text and every callback query with an empty answer, handles updates
concurrently (each framework's own default way), prints one JSON `ready` line on stderr and
stops on SIGTERM.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys


def _ready() -> None:
    print(json.dumps({"event": "ready"}), file=sys.stderr, flush=True)


async def _until_stopped() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()


async def run_ptb(token: str, api_root: str) -> None:
    from telegram import Update
    from telegram.ext import (
        ApplicationBuilder,
        CallbackQueryHandler,
        ContextTypes,
        MessageHandler,
        filters,
    )

    app = (
        ApplicationBuilder()
        .token(token)
        .base_url(f"{api_root}/bot")
        .base_file_url(f"{api_root}/file/bot")
        .concurrent_updates(True)
        .build()
    )

    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is not None:
            await context.bot.send_message(message.chat_id, message.text or "echo")

    async def answer(update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        if update.callback_query is not None:
            await update.callback_query.answer()

    app.add_handler(MessageHandler(filters.ALL, echo))
    app.add_handler(CallbackQueryHandler(answer))
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(timeout=10)
        _ready()
        await _until_stopped()
        await app.updater.stop()
        await app.stop()


async def run_aiogram(token: str, api_root: str) -> None:
    from aiogram import Bot, Dispatcher
    from aiogram.client.session.aiohttp import AiohttpSession
    from aiogram.client.telegram import TelegramAPIServer
    from aiogram.types import CallbackQuery, Message

    bot = Bot(token, session=AiohttpSession(api=TelegramAPIServer.from_base(api_root)))
    dp = Dispatcher()

    @dp.message()
    async def echo(message: Message) -> None:
        await bot.send_message(message.chat.id, message.text or "echo")

    @dp.callback_query()
    async def answer(query: CallbackQuery) -> None:
        await query.answer()

    dp.startup.register(_ready)
    # handle_as_tasks=True (aiogram's default) runs updates concurrently; aiogram handles
    # SIGTERM itself here and closes the session on the way out.
    await dp.start_polling(bot, polling_timeout=10)


def main() -> None:
    framework, token, api_root = sys.argv[1:4]
    runner = {"ptb": run_ptb, "aiogram": run_aiogram}[framework]
    asyncio.run(runner(token, api_root))


if __name__ == "__main__":
    main()
