"""Albums arrive as separate updates that share a media_group_id; they leave as one album.

The parts of an album are held for a short moment after the last one arrives, then copied
together (copyMessages keeps them grouped, with the caption once). Anything else the same
person sends afterwards waits for the album to go first, so the order is kept.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Callable

from handlers.events import Event
from handlers.turn import CopyOut

ALBUM_WINDOW_SECONDS = 1.0

Part = tuple[Event, CopyOut]


class AlbumCollector:
    def __init__(self, send: Callable[[list[Part]], Awaitable[None]]) -> None:
        self._send = send
        self._parts: dict[tuple[int, str], list[Part]] = defaultdict(list)
        self._timers: dict[tuple[int, str], asyncio.TimerHandle] = {}
        self._locks: dict[int, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._tasks: set[asyncio.Task[None]] = set()

    def add(self, event: Event, action: CopyOut) -> None:
        assert action.album is not None
        key = (action.from_chat, action.album)
        self._parts[key].append((event, action))
        if key in self._timers:
            self._timers[key].cancel()
        loop = asyncio.get_running_loop()
        self._timers[key] = loop.call_later(ALBUM_WINDOW_SECONDS, self._fire, key)

    def _fire(self, key: tuple[int, str]) -> None:
        task = asyncio.create_task(self._flush(key))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _flush(self, key: tuple[int, str]) -> None:
        async with self._locks[key[0]]:
            timer = self._timers.pop(key, None)
            if timer is not None:
                timer.cancel()
            parts = self._parts.pop(key, [])
            if parts:
                await self._send(parts)

    async def flush_chat(self, from_chat: int) -> None:
        """Send this person's pending albums now (before their next message goes out)."""
        for key in [k for k in self._parts if k[0] == from_chat]:
            await self._flush(key)
        async with self._locks[from_chat]:
            pass  # wait for a flush a timer may have started

    async def flush_all(self) -> None:
        for key in list(self._parts):
            await self._flush(key)
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
