"""Repositories for scheduled work: job claims, feedback, and what the jobs look for."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.inserts import insert_unless_present
from storage.models import (
    ACTIVE_STATUSES,
    Appointment,
    Conversation,
    Doctor,
    Feedback,
    JobRun,
    User,
)


class JobRunRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def claim(self, key: str, now: datetime, outcome: str = "sent") -> bool:
        """Record the work as done before doing it; False when someone already did."""
        return await insert_unless_present(
            self._session, JobRun, {"key": key, "ran_at": now, "outcome": outcome}, ["key"]
        )

    async def set_outcome(self, key: str, outcome: str) -> None:
        await self._session.execute(update(JobRun).where(JobRun.key == key).values(outcome=outcome))

    async def existing(self, keys: Iterable[str]) -> set[str]:
        """Which of these keys have a run recorded."""
        wanted = list(keys)
        if not wanted:
            return set()
        query = select(JobRun.key).where(JobRun.key.in_(wanted))
        return set((await self._session.scalars(query)).all())

    async def get(self, key: str) -> JobRun | None:
        return await self._session.scalar(select(JobRun).where(JobRun.key == key))

    async def with_prefix(self, prefix: str) -> Sequence[JobRun]:
        query = select(JobRun).where(JobRun.key.startswith(prefix)).order_by(JobRun.id)
        return (await self._session.scalars(query)).all()


class FeedbackRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def for_appointment(self, appointment_id: int) -> Feedback | None:
        return await self._session.scalar(
            select(Feedback).where(Feedback.appointment_id == appointment_id)
        )

    async def add(self, feedback: Feedback) -> bool:
        """False when the appointment already has an answer (a repeated or racing tap)."""
        values = {
            "appointment_id": feedback.appointment_id,
            "rating": feedback.rating,
            "comment": feedback.comment,
            "created_at": feedback.created_at,
        }
        return await insert_unless_present(self._session, Feedback, values, ["appointment_id"])

    async def ratings(self, doctor_ids: Iterable[int]) -> dict[int, tuple[float, int]]:
        """Average rating and count per doctor (doctors without ratings are left out)."""
        ids = list(doctor_ids)
        if not ids:
            return {}
        query = (
            select(Appointment.doctor_id, func.avg(Feedback.rating), func.count(Feedback.id))
            .join(Appointment, Appointment.id == Feedback.appointment_id)
            .where(Appointment.doctor_id.in_(ids))
            .group_by(Appointment.doctor_id)
        )
        return {
            doctor_id: (float(average), int(count))
            for doctor_id, average, count in await self._session.execute(query)
        }


class PlanningQueries:
    """What start-up re-planning and the sweeps read."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def appointment_ids_to_plan(self, now: datetime, since: datetime) -> Sequence[int]:
        """Active appointments not yet over, and ones completed recently (feedback may be due)."""
        query = select(Appointment.id).where(
            ((Appointment.status.in_(ACTIVE_STATUSES)) & (Appointment.ends_at > since))
            | ((Appointment.status == "completed") & (Appointment.updated_at > since))
        )
        return (await self._session.scalars(query.order_by(Appointment.id))).all()

    async def approved_doctor_ids(self) -> Sequence[int]:
        query = select(Doctor.id).where(Doctor.status == "approved").order_by(Doctor.id)
        return (await self._session.scalars(query)).all()

    async def idle_conversations(self, idle_since: datetime) -> Sequence[Conversation]:
        query = select(Conversation).where(Conversation.updated_at <= idle_since)
        return (await self._session.scalars(query.order_by(Conversation.updated_at))).all()

    async def discard_conversation(self, telegram_id: int, seen_updated_at: datetime) -> bool:
        """Delete the flow only if nothing moved it since it was seen idle."""
        result = await self._session.execute(
            delete(Conversation).where(
                Conversation.telegram_id == telegram_id,
                Conversation.updated_at == seen_updated_at,
            )
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def idle_sessions(
        self, active_before: datetime
    ) -> Sequence[tuple[int, int, str, datetime]]:
        """Unlocked PIN sessions quiet since before the time: (id, telegram id, language,
        last activity)."""
        query = select(User.id, User.telegram_id, User.language, User.session_active_at).where(
            User.session_active_at <= active_before  # NULL (locked) never compares true
        )
        rows = await self._session.execute(query.order_by(User.session_active_at))
        return [(r[0], r[1], r[2], r[3]) for r in rows if r[3] is not None]

    async def lock_session(self, user_id: int, seen_active_at: datetime) -> bool:
        """Lock the session only if no activity moved it since it was seen idle."""
        result = await self._session.execute(
            update(User)
            .where(User.id == user_id, User.session_active_at == seen_active_at)
            .values(session_active_at=None)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]
