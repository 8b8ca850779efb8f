"""``python -m bot.emulator --port 8081 --token 123:ABC`` runs the emulator standalone."""

from __future__ import annotations

import argparse
import asyncio
import contextlib

from .server import BotApiEmulator


async def _serve(args: argparse.Namespace) -> None:
    emu = BotApiEmulator(
        token=args.token, bot_username=args.username, bot_first_name=args.first_name
    )
    await emu.start(host=args.host, port=args.port)
    print(f"Telegram Bot API emulator listening on {emu.base_url}", flush=True)
    print(f"  base_url={emu.base_url}/bot  base_file_url={emu.base_url}/file/bot", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await emu.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description="Telegram Bot API emulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--token", default="123456:TEST")
    parser.add_argument("--username", default="clinic_test_bot")
    parser.add_argument("--first-name", default="Clinic")
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl+C is the normal way to stop
        asyncio.run(_serve(args))


if __name__ == "__main__":
    main()
