"""What the admin commands read and write: statistics, users by phone or id, the audit log,
locked accounts, broadcasts and the feedback export. They never commit."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import (
    Appointment,
    AuditEntry,
    Broadcast,
    Doctor,
    Feedback,
    User,
)

AUDIENCES = ("patients", "doctors", "everyone")


class AdminQueries:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    # Statistics ---------------------------------------------------------------------------

    async def patients_registered(self, start: datetime, end: datetime) -> tuple[int, int]:
        """(registered in [start, end), registered before end) of patients, in one query.
        Erased patients are no longer counted; banned ones still are (their account stays)."""
        in_period = func.sum(case((User.registered_at >= start, 1), else_=0))
        query = select(in_period, func.count(User.id)).where(
            User.role == "patient",
            User.registered_at.is_not(None),
            User.registered_at < end,
            User.erased_at.is_(None),
        )
        new, total = (await self._session.execute(query)).one()
        return int(new or 0), int(total or 0)

    async def doctors_by_status(self) -> dict[str, int]:
        query = select(Doctor.status, func.count(Doctor.id)).group_by(Doctor.status)
        return {status: int(count) for status, count in await self._session.execute(query)}

    async def appointments_by_status(self, start: datetime, end: datetime) -> dict[str, int]:
        query = (
            select(Appointment.status, func.count(Appointment.id))
            .where(Appointment.starts_at >= start, Appointment.starts_at < end)
            .group_by(Appointment.status)
        )
        return {status: int(count) for status, count in await self._session.execute(query)}

    async def cancellations(
        self, start: datetime, end: datetime
    ) -> list[tuple[str | None, bool, int]]:
        """(cancelled_by, late, count) of cancelled appointments starting in the period."""
        query = (
            select(
                Appointment.cancelled_by,
                Appointment.late_cancellation,
                func.count(Appointment.id),
            )
            .where(
                Appointment.status == "cancelled",
                Appointment.starts_at >= start,
                Appointment.starts_at < end,
            )
            .group_by(Appointment.cancelled_by, Appointment.late_cancellation)
        )
        return [(by, bool(late), int(n)) for by, late, n in await self._session.execute(query)]

    async def ratings(self, start: datetime, end: datetime) -> list[tuple[Doctor, float, int]]:
        """(doctor, rating sum, count) for visits starting in the period, by doctor id."""
        query = (
            select(Appointment.doctor_id, func.sum(Feedback.rating), func.count(Feedback.id))
            .join(Appointment, Appointment.id == Feedback.appointment_id)
            .where(Appointment.starts_at >= start, Appointment.starts_at < end)
            .group_by(Appointment.doctor_id)
            .order_by(Appointment.doctor_id)
        )
        totals = [(d, float(s), int(c)) for d, s, c in await self._session.execute(query)]
        doctors = await self.doctors_by_ids(d for d, _, _ in totals)
        return [(doctors[d], s, c) for d, s, c in totals if d in doctors]

    async def starts(
        self, start: datetime, end: datetime, statuses: Iterable[str]
    ) -> list[datetime]:
        query = select(Appointment.starts_at).where(
            Appointment.starts_at >= start,
            Appointment.starts_at < end,
            Appointment.status.in_(list(statuses)),
        )
        return list((await self._session.scalars(query)).all())

    # Doctors ------------------------------------------------------------------------------

    async def doctors_by_ids(self, ids: Iterable[int]) -> dict[int, Doctor]:
        wanted = list(set(ids))
        if not wanted:
            return {}
        rows = await self._session.scalars(select(Doctor).where(Doctor.id.in_(wanted)))
        return {d.id: d for d in rows}

    async def doctors_with_status(self, statuses: Iterable[str], limit: int) -> Sequence[Doctor]:
        query = (
            select(Doctor).where(Doctor.status.in_(list(statuses))).order_by(Doctor.id).limit(limit)
        )
        return (await self._session.scalars(query)).all()

    # Users --------------------------------------------------------------------------------

    async def user(self, user_id: int) -> User | None:
        return await self._session.get(User, user_id)

    async def users_by_ids(self, ids: Iterable[int]) -> dict[int, User]:
        wanted = list(set(ids))
        if not wanted:
            return {}
        return {
            u.id: u for u in await self._session.scalars(select(User).where(User.id.in_(wanted)))
        }

    async def users_by_telegram_ids(self, telegram_ids: Iterable[int]) -> dict[int, User]:
        wanted = list(set(telegram_ids))
        if not wanted:
            return {}
        rows = await self._session.scalars(select(User).where(User.telegram_id.in_(wanted)))
        return {u.telegram_id: u for u in rows}

    async def appointment_count(self, user_id: int) -> int:
        """Appointments the user has as a patient or, for a doctor, with patients."""
        as_doctor = select(Doctor.id).where(Doctor.user_id == user_id).scalar_subquery()
        query = select(func.count(Appointment.id)).where(
            or_(Appointment.patient_id == user_id, Appointment.doctor_id == as_doctor),
            Appointment.status != "rescheduled",
        )
        return int(await self._session.scalar(query) or 0)

    async def locked_users(self, now: datetime, limit: int) -> Sequence[User]:
        query = (
            select(User)
            .where(User.pin_locked_until.is_not(None), User.pin_locked_until > now)
            .order_by(User.pin_locked_until)
            .limit(limit)
        )
        return (await self._session.scalars(query)).all()

    # Audit log ----------------------------------------------------------------------------

    async def audit_matching(self, prefixes: Iterable[str], limit: int) -> Sequence[AuditEntry]:
        """Newest entries whose action starts with one of `prefixes`."""
        conditions = [AuditEntry.action.startswith(p, autoescape=True) for p in prefixes]
        query = (
            select(AuditEntry)
            .where(or_(*conditions))
            .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
            .limit(limit)
        )
        return (await self._session.scalars(query)).all()

    async def audit_of_user(self, user: User, limit: int) -> Sequence[AuditEntry]:
        """Newest entries where the user acted or was the subject."""
        query = (
            select(AuditEntry)
            .where(
                or_(
                    AuditEntry.actor_telegram_id == user.telegram_id,
                    AuditEntry.subject_user_id == user.id,
                )
            )
            .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
            .limit(limit)
        )
        return (await self._session.scalars(query)).all()

    # Broadcasts ---------------------------------------------------------------------------

    def add_broadcast(self, broadcast: Broadcast) -> None:
        self._session.add(broadcast)

    async def broadcast(self, broadcast_id: int) -> Broadcast | None:
        return await self._session.get(Broadcast, broadcast_id)

    def _audience(self, audience: str) -> ColumnElement[bool]:
        """Registered, not banned, not erased; patients, approved doctors, or both."""
        approved = select(Doctor.user_id).where(Doctor.status == "approved")
        patients = User.role == "patient"
        doctors = (User.role == "doctor") & User.id.in_(approved)
        who = {"patients": patients, "doctors": doctors, "everyone": or_(patients, doctors)}
        return (
            who[audience]
            & User.registered_at.is_not(None)
            & User.banned_at.is_(None)
            & User.erased_at.is_(None)
        )

    async def audience_size(self, audience: str) -> int:
        query = select(func.count(User.id)).where(self._audience(audience))
        return int(await self._session.scalar(query) or 0)

    async def recipients(
        self, audience: str, after_user_id: int, limit: int
    ) -> list[tuple[int, int, bool]]:
        """(user id, telegram id, unreachable) of the next page of the audience, by user id."""
        query = (
            select(User.id, User.telegram_id, User.unreachable_since)
            .where(self._audience(audience), User.id > after_user_id)
            .order_by(User.id)
            .limit(limit)
        )
        return [
            (user_id, telegram_id, unreachable is not None)
            for user_id, telegram_id, unreachable in await self._session.execute(query)
        ]

    # Feedback -----------------------------------------------------------------------------

    async def feedback_rows(self, limit: int) -> list[tuple[Feedback, Appointment]]:
        query = (
            select(Feedback, Appointment)
            .join(Appointment, Appointment.id == Feedback.appointment_id)
            .order_by(Appointment.starts_at, Appointment.id)
            .limit(limit)
        )
        return [(f, a) for f, a in await self._session.execute(query)]
