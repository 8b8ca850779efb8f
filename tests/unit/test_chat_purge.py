"""The daily chat-log purge on a clock the test controls: old chats of closed consultations
go, in batches, once a day; recent ones, open consultations and everything but the chat stay."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from handlers import callbacks
from handlers.sending import Limits, RateLimiter, SendingPath
from handlers.turn import CoreConfig
from jobs import chat_purge
from jobs import runtime as job_runtime
from jobs.runtime import JobSettings, Runtime
from storage.models import Consultation, Prescription, RelayedMessage
from storage.seeding import seed_doctor, seed_patient
from storage.unit_of_work import UnitOfWork
from tests.conftest import Storage
from tests.support.clinic_records import Rx, Said, doctor_id_of, seed_closed_consultation
from tests.support.fake_messenger import FakeMessenger
from tests.support.harness import Clock, make_harness

pytestmark = pytest.mark.parametrize("db_kind", ["sqlite", "postgresql"], indirect=True)

NOW = datetime(2026, 12, 3, 3, 30, tzinfo=UTC)
ANNA, BEN, DOC = 501, 502, 801


def install(storage: Storage, clock: Clock, days: int) -> None:
    async def no_sleep(_seconds: float) -> None:
        return None

    async def mark(_chat_id: int) -> None:
        return None

    sending = SendingPath(
        FakeMessenger(), RateLimiter(Limits(1000, 1000, 1000), sleep=no_sleep), mark, sleep=no_sleep
    )
    core = CoreConfig(admin_ids=frozenset(), default_timezone="UTC", chat_log_retention_days=days)
    job_runtime.install(Runtime(storage.sessions, sending, JobSettings(core=core), clock))


@pytest.fixture
async def visits(storage: Storage) -> AsyncIterator[dict[str, int]]:
    doctor = await seed_doctor(storage.sessions, DOC, "Dr Mira Kaur", "Cardiology")
    await seed_patient(storage.sessions, ANNA, "Anna Schmidt")
    await seed_patient(storage.sessions, BEN, "Ben Okafor")
    chat = [Said(True, f"message {n}") for n in range(5)]
    ids = {
        "old": await seed_closed_consultation(
            storage.sessions,
            doctor,
            ANNA,
            NOW - timedelta(days=400),
            chat=chat,
            prescriptions=[Rx("Ibuprofen")],
        ),
        "older": await seed_closed_consultation(
            storage.sessions, doctor, BEN, NOW - timedelta(days=800), chat=chat[:2]
        ),
        "recent": await seed_closed_consultation(
            storage.sessions, doctor, ANNA, NOW - timedelta(days=30), chat=chat[:3]
        ),
        "edge": await seed_closed_consultation(  # closed 364 days and 23 hours ago
            storage.sessions,
            doctor,
            BEN,
            NOW - timedelta(days=365) + timedelta(hours=1),
            chat=chat[:1],
        ),
    }
    yield ids
    job_runtime.install(None)


async def chat_counts(storage: Storage) -> dict[int, int]:
    async with storage.sessions() as session:
        rows = await session.execute(
            select(RelayedMessage.consultation_id, func.count()).group_by(
                RelayedMessage.consultation_id
            )
        )
        return {consultation: count for consultation, count in rows}


async def test_old_chats_go_in_batches_once_a_day_and_nothing_else_is_touched(
    storage: Storage, visits: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(chat_purge, "BATCH", 2)  # 7 expired messages: four batches
    clock = Clock(NOW)
    install(storage, clock, 365)
    assert await chat_purge.purge_chat_logs() == 7
    assert await chat_counts(storage) == {visits["recent"]: 3, visits["edge"]: 1}
    async with UnitOfWork(storage.sessions) as uow:
        old = await uow.consultations.get(visits["old"])
        assert old is not None and old.summary == "Rest and drink plenty of water."
        assert [p.medicine for p in await uow.consultations.prescriptions(old.id)] == ["Ibuprofen"]
        run = await uow.job_runs.get("chat-purge:2026-12-03")
        assert run is not None and run.outcome == "sent"

    # Fired again the same day (or by a second scheduler): claimed already, nothing happens.
    clock.now = NOW + timedelta(hours=2)
    assert await chat_purge.purge_chat_logs() == 0
    assert await chat_counts(storage) == {visits["recent"]: 3, visits["edge"]: 1}

    # The next day the edge consultation has crossed the line.
    clock.now = NOW + timedelta(days=1)
    assert await chat_purge.purge_chat_logs() == 1
    assert await chat_counts(storage) == {visits["recent"]: 3}
    async with storage.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Consultation)) == 4
        assert await session.scalar(select(func.count()).select_from(Prescription)) == 1


async def test_zero_keeps_chats_forever_and_open_consultations_are_never_purged(
    storage: Storage, visits: dict[str, int]
) -> None:
    install(storage, Clock(NOW), 0)
    assert await chat_purge.purge_chat_logs() == 0
    assert sum((await chat_counts(storage)).values()) == 11
    async with UnitOfWork(storage.sessions) as uow:
        run = await uow.job_runs.get("chat-purge:2026-12-03")
        assert run is not None and run.outcome == "skipped"
        old = await uow.consultations.get(visits["old"])
        assert old is not None
        old.closed_at = None  # reopened (never happens; an open chat must survive anyway)
        await uow.commit()
    install(storage, Clock(NOW + timedelta(days=1)), 1)
    assert await chat_purge.purge_chat_logs() == 6  # every chat but the reopened one
    assert await chat_counts(storage) == {visits["old"]: 5}


async def test_records_say_a_purged_chat_was_deleted_not_that_nobody_wrote(
    storage: Storage, visits: dict[str, int]
) -> None:
    install(storage, Clock(NOW), 365)
    assert await chat_purge.purge_chat_logs() == 7
    quiet = await seed_closed_consultation(  # closed a week ago, nobody wrote
        storage.sessions, await doctor_id_of(storage.sessions, DOC), ANNA, NOW - timedelta(days=7)
    )
    h = make_harness(storage, clock=Clock(NOW), config_extra={"chat_log_retention_days": 365})

    async def chat_of(consultation: int) -> str:
        await h.tap_data(ANNA, 1, callbacks.pack("rc", "", "chat", str(consultation)))
        return h.last(ANNA)

    purged = await chat_of(visits["old"])
    assert "no longer kept" in purged and "365 days after it ends" in purged
    assert "No messages were exchanged" not in purged
    assert "No messages were exchanged" in await chat_of(quiet)
    assert "message 0" in await chat_of(visits["recent"])

    # Kept forever (0): an empty chat is one nobody wrote in, however old.
    forever = make_harness(storage, clock=Clock(NOW), config_extra={"chat_log_retention_days": 0})
    forever.events = h.events  # update ids go on: a repeated one would be taken as a duplicate
    await forever.tap_data(ANNA, 1, callbacks.pack("rc", "", "chat", str(visits["old"])))
    assert "No messages were exchanged" in forever.last(ANNA)
