"""Payments: one row per invoice, its charge once paid, and what became of a refund."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Doctor, Payment


class PaymentRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    def add(self, payment: Payment) -> None:
        self._session.add(payment)

    async def get(self, payment_id: int) -> Payment | None:
        return await self._session.get(Payment, payment_id)

    async def by_payload(self, payload: str, lock: bool = False) -> Payment | None:
        query = select(Payment).where(Payment.payload == payload)
        if lock:
            query = query.with_for_update()
        return await self._session.scalar(query)

    async def by_charge(self, telegram_charge_id: str) -> Payment | None:
        return await self._session.scalar(
            select(Payment).where(Payment.telegram_charge_id == telegram_charge_id)
        )

    async def for_appointment(self, appointment_id: int, lock: bool = False) -> Payment | None:
        query = select(Payment).where(Payment.appointment_id == appointment_id)
        if lock:
            query = query.with_for_update()
        return await self._session.scalar(query)

    async def settled_between(self, start: datetime, end: datetime) -> Sequence[Payment]:
        """Payments paid, or refunds made or owed, in [start, end], oldest first."""
        query = (
            select(Payment)
            .where(
                or_(
                    (Payment.paid_at >= start) & (Payment.paid_at <= end),
                    (Payment.refunded_at >= start) & (Payment.refunded_at <= end),
                )
            )
            .order_by(Payment.paid_at, Payment.id)
        )
        return (await self._session.scalars(query)).all()

    async def owed(self, stale_before: datetime, limit: int = 50) -> Sequence[Payment]:
        """Refunds the clinic owes by hand, and Stars refunds started before `stale_before`
        that never came back confirmed (the process stopped between the commit and the call):
        nothing else would show them."""
        query = (
            select(Payment)
            .where(
                or_(
                    Payment.refund_status == "owed",
                    and_(Payment.refund_status == "refunding", Payment.refunded_at < stale_before),
                )
            )
            .order_by(Payment.refunded_at, Payment.id)
            .limit(limit)
        )
        return (await self._session.scalars(query)).all()

    async def doctor_names(self, doctor_ids: Iterable[int]) -> dict[int, str]:
        """The names of the doctors a list of payments names, in one query."""
        wanted = list(set(doctor_ids))
        if not wanted:
            return {}
        doctors = await self._session.scalars(select(Doctor).where(Doctor.id.in_(wanted)))
        return {d.id: d.user.full_name or "" for d in doctors}
