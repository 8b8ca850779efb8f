"""The emulator's observer hook: told after each bot call, with the call's effects in place."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
import pytest_asyncio

from bot.emulator import ApiCall, BotApiEmulator

pytestmark = pytest.mark.asyncio(loop_scope="function")

TOKEN = "123456:TEST"


@pytest_asyncio.fixture(loop_scope="function")
async def emu() -> AsyncIterator[BotApiEmulator]:
    emulator = BotApiEmulator(token=TOKEN)
    await emulator.start()
    yield emulator
    await emulator.stop()


async def test_observers_see_each_call_after_it_took_effect(emu: BotApiEmulator) -> None:
    user = emu.user("Obi")
    await user.send_text("hi")
    seen: list[tuple[str, bool, int]] = []

    def observe(call: ApiCall) -> None:
        # The bot message must already be in the chat when the observer runs.
        seen.append((call.method, call.ok, len(user.messages)))

    def broken(call: ApiCall) -> None:
        raise RuntimeError("an observer bug")

    emu.add_observer(broken)
    emu.add_observer(observe)
    async with aiohttp.ClientSession() as http:
        sent = await http.post(f"{emu.api_url}/sendMessage", json={"chat_id": user.id, "text": "x"})
        assert (await sent.json())["ok"] is True  # a failing observer never breaks the call
        failed = await http.post(f"{emu.api_url}/sendMessage", json={"chat_id": 1, "text": "x"})
        assert failed.status == 400
        emu.remove_observer(observe)
        await http.post(f"{emu.api_url}/getMe")
    assert seen == [("sendMessage", True, 1), ("sendMessage", False, 1)]
