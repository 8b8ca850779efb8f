"""What a job needs when it runs, filled in by the composition root.

APScheduler 3 stores only a reference to the job function ("jobs.tasks:send_reminder") and its
plain arguments (ids), so a job cannot carry the session factory, the sending path, the
settings or the clock with it. `bot/app.py` (and tests, and the benchmark) install one
`Runtime` here before the scheduler runs anything; every job function reads it with
`current()` and reloads what it needs in a fresh unit of work.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handlers.sending import SendingPath
from handlers.turn import CoreConfig


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class JobSettings:
    reminder_offsets: tuple[int, ...] = (1440, 60)  # minutes before the start, any order
    no_show_after: timedelta = timedelta(minutes=15)
    feedback_after: timedelta = timedelta(minutes=30)
    idle_after: timedelta = timedelta(minutes=10)
    idle_warning: timedelta = timedelta(minutes=1)  # warned this long before the discard
    core: CoreConfig = field(
        default_factory=lambda: CoreConfig(admin_ids=frozenset(), default_timezone="UTC")
    )


@dataclass
class Runtime:
    sessions: async_sessionmaker[AsyncSession]
    sending: SendingPath
    settings: JobSettings
    clock: Callable[[], datetime] = utc_now


_installed: Runtime | None = None


class RuntimeMissing(RuntimeError):
    """A job ran before the composition root installed its runtime."""


def install(runtime: Runtime | None) -> None:
    global _installed
    _installed = runtime


def current() -> Runtime:
    if _installed is None:
        raise RuntimeMissing("jobs.runtime.install() was not called before a job ran")
    return _installed
