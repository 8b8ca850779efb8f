"""Drives the real dispatcher over a recording fake of the port and a real database."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from handlers.callback_signing import CallbackSigner
from handlers.dispatcher import Dispatcher
from handlers.events import Event
from handlers.planning import JobPlanner
from handlers.sending import Limits, RateLimiter, SendingPath
from handlers.turn import CoreConfig
from jobs import runtime as job_runtime
from jobs.runtime import JobSettings, Runtime
from tests.conftest import Storage
from tests.support.fake_messenger import EventFactory, FakeMessenger


@dataclass
class Clock:
    """Time the test controls: the core reads it, nothing sleeps."""

    now: datetime = field(default_factory=lambda: datetime(2026, 12, 3, 10, 0, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Harness:
    storage: Storage
    messenger: FakeMessenger
    dispatcher: Dispatcher
    events: EventFactory
    clock: Clock
    unreachable: list[int]
    sending: SendingPath  # the dispatcher's; scheduled jobs can share it (run_jobs_here)

    async def send(self, user: int, text: str) -> None:
        await self.dispatcher.handle(self.events.text(user, text))

    async def tap(self, user: int, label: str) -> Event:
        message_id, data = self.messenger.button_data(user, label)
        return await self.tap_data(user, message_id, data)

    async def tap_data(self, user: int, message_id: int, data: str) -> Event:
        event = self.events.callback(user, message_id, data)
        await self.dispatcher.handle(event)
        return event

    def last(self, user: int) -> str:
        return self.messenger.last_to(user).text

    def answer(self, event: Event) -> str | None:
        return self.messenger.answers[event.callback_id or ""][0]

    async def register(
        self,
        user: int,
        name: str = "Anna Schmidt",
        phone: str = "+4915112345678",
        zone: str = "Europe/Berlin",
    ) -> None:
        await self.send(user, "/start")
        await self.tap(user, "✅ I agree")
        await self.send(user, name)
        await self.send(user, "17.05.1990")
        await self.send(user, phone)
        await self.send(user, zone)
        await self.tap(user, "✅ Confirm")


def make_harness(
    storage: Storage,
    admin_ids: frozenset[int] = frozenset(),
    clock: Clock | None = None,
    planner: JobPlanner | None = None,
    signer: CallbackSigner | None = None,
    incoming_per_minute: int = 0,
    config_extra: dict[str, Any] | None = None,
) -> Harness:
    messenger = FakeMessenger()
    unreachable: list[int] = []
    clock = clock or Clock()

    async def mark(chat_id: int) -> None:
        unreachable.append(chat_id)

    async def no_sleep(_seconds: float) -> None:
        return None

    sending = SendingPath(
        messenger,
        RateLimiter(Limits(1000, 1000, 1000), sleep=no_sleep),
        mark,
        sleep=no_sleep,
        signer=signer,
    )
    dispatcher = Dispatcher(
        storage.sessions,
        sending,
        CoreConfig(
            admin_ids=admin_ids,
            default_timezone="Europe/Berlin",
            bot_username="clinic_test_bot",
            incoming_per_minute=incoming_per_minute,
            **(config_extra or {}),  # e.g. payment settings
        ),
        clock=clock,
        planner=planner,
    )
    return Harness(storage, messenger, dispatcher, EventFactory(), clock, unreachable, sending)


def run_jobs_here(harness: Harness, settings: JobSettings | None = None) -> None:
    """Job functions called by the test send through the harness's path, on its clock."""
    job_runtime.install(
        Runtime(harness.storage.sessions, harness.sending, settings or JobSettings(), harness.clock)
    )
