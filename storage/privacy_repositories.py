"""A patient's own data: read all of it (/export), erase it (/delete_me), purge old chat logs.

Every query here is bounded by the patient's own user id (or, for the purge, by the close
time of consultations), so an export can hold nothing of anyone else's.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from clinic.appointments import Status
from clinic.retention import RetentionRules
from storage.models import (
    ACTIVE_STATUSES,
    Appointment,
    AuditEntry,
    Consultation,
    Conversation,
    DoctorFocus,
    Feedback,
    JobRun,
    Payment,
    Prescription,
    RecordDocument,
    RelayedMessage,
    User,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Erased:
    """What one erasure removed and what it kept (counts only: no personal data)."""

    chat_messages: int
    documents: int
    feedback: int
    appointments_deleted: int
    appointments_kept: int
    summaries_kept: int
    prescriptions_kept: int
    payments_kept: int


# job_runs keys that carry a chat id (jobs/tasks.py: idle flows, PIN sessions).
CLAIMS_WITH_TELEGRAM_ID = ("idle-warn", "idle-end", "pin-warn", "pin-lock")


def placeholder_telegram_id(user_id: int) -> int:
    """What replaces an erased user's Telegram id: negative (no Telegram user has one) and
    unique (the row id), so the same person can register afresh later."""
    return -user_id


class PrivacyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    def _rowcount(self, result: Any) -> int:
        return max(int(getattr(result, "rowcount", 0) or 0), 0)

    # Export: everything the patient owns --------------------------------------------------

    async def appointments(self, patient_id: int) -> Sequence[Appointment]:
        query = (
            select(Appointment)
            .where(Appointment.patient_id == patient_id)
            .order_by(Appointment.starts_at, Appointment.id)
        )
        return (await self._session.scalars(query)).all()

    async def consultations(self, patient_id: int) -> Sequence[Consultation]:
        query = (
            select(Consultation)
            .join(Appointment, Consultation.appointment_id == Appointment.id)
            .where(Appointment.patient_id == patient_id)
            .order_by(Consultation.opened_at, Consultation.id)
        )
        return (await self._session.scalars(query)).all()

    async def chat(self, consultation_ids: Sequence[int]) -> Sequence[RelayedMessage]:
        if not consultation_ids:
            return []
        query = (
            select(RelayedMessage)
            .where(RelayedMessage.consultation_id.in_(consultation_ids))
            .order_by(RelayedMessage.created_at, RelayedMessage.id)
        )
        return (await self._session.scalars(query)).all()

    async def prescriptions(self, consultation_ids: Sequence[int]) -> Sequence[Prescription]:
        if not consultation_ids:
            return []
        query = (
            select(Prescription)
            .where(Prescription.consultation_id.in_(consultation_ids))
            .order_by(Prescription.created_at, Prescription.id)
        )
        return (await self._session.scalars(query)).all()

    async def feedback(self, patient_id: int) -> Sequence[Feedback]:
        query = (
            select(Feedback)
            .join(Appointment, Feedback.appointment_id == Appointment.id)
            .where(Appointment.patient_id == patient_id)
            .order_by(Feedback.created_at, Feedback.id)
        )
        return (await self._session.scalars(query)).all()

    async def documents(self, patient_id: int) -> Sequence[RecordDocument]:
        query = (
            select(RecordDocument)
            .where(RecordDocument.patient_id == patient_id)
            .order_by(RecordDocument.created_at, RecordDocument.id)
        )
        return (await self._session.scalars(query)).all()

    async def payments(self, patient_id: int) -> Sequence[Payment]:
        query = (
            select(Payment)
            .where(Payment.patient_id == patient_id)
            .order_by(Payment.invoiced_at, Payment.id)
        )
        return (await self._session.scalars(query)).all()

    # Erasure ------------------------------------------------------------------------------

    async def future_active(self, patient_id: int, now: datetime) -> Sequence[Appointment]:
        """The patient's appointments still to come that hold a doctor's time, and booked ones
        whose time is running but that nobody opened (locked)."""
        query = (
            select(Appointment)
            .where(
                Appointment.patient_id == patient_id,
                Appointment.status.in_(ACTIVE_STATUSES),
                or_(
                    Appointment.starts_at > now,
                    and_(Appointment.status == Status.BOOKED.value, Appointment.ends_at > now),
                ),
            )
            .order_by(Appointment.starts_at)
            .with_for_update(of=Appointment)
        )
        return (await self._session.scalars(query)).all()

    async def erase_patient(
        self, user: User, rules: RetentionRules, now: datetime, timezone: str
    ) -> Erased:
        """Erase the patient's personal data in this transaction; keep only what the rules
        name, detached from any name. Future appointments must be cancelled before."""
        session = self._session
        patient_id, telegram_id = user.id, user.telegram_id
        placeholder = placeholder_telegram_id(user.id)
        own_appointments = select(Appointment.id).where(Appointment.patient_id == patient_id)
        consultation_ids = list(
            (
                await session.scalars(
                    select(Consultation.id).where(Consultation.appointment_id.in_(own_appointments))
                )
            ).all()
        )
        # Always erased: the chat (it also names both sides' chats), ratings and comments,
        # uploaded documents, the flow in progress.
        chat = await session.execute(
            delete(RelayedMessage)
            .where(RelayedMessage.consultation_id.in_(consultation_ids))
            .execution_options(synchronize_session=False)
        )
        feedback = await session.execute(
            delete(Feedback)
            .where(Feedback.appointment_id.in_(own_appointments))
            .execution_options(synchronize_session=False)
        )
        documents = await session.execute(
            delete(RecordDocument)
            .where(RecordDocument.patient_id == patient_id)
            .execution_options(synchronize_session=False)
        )
        await session.execute(delete(Conversation).where(Conversation.telegram_id == telegram_id))

        prescriptions_kept = 0
        if rules.prescriptions:
            prescriptions_kept = int(
                await session.scalar(
                    select(func.count(Prescription.id)).where(
                        Prescription.consultation_id.in_(consultation_ids)
                    )
                )
                or 0
            )
        else:
            await session.execute(
                delete(Prescription)
                .where(Prescription.consultation_id.in_(consultation_ids))
                .execution_options(synchronize_session=False)
            )
        summaries_kept = 0
        if rules.consultations:
            values: dict[str, Any] = {"video_room": None}
            if not rules.summaries:
                values.update(summary=None, private_notes=None, follow_up_days=None)
            await session.execute(
                update(Consultation)
                .where(Consultation.id.in_(consultation_ids))
                .values(**values)
                .execution_options(synchronize_session=False)
            )
            if rules.summaries:
                summaries_kept = len(consultation_ids)
        else:
            await session.execute(
                delete(DoctorFocus).where(DoctorFocus.consultation_id.in_(consultation_ids))
            )
            await session.execute(
                delete(Consultation)
                .where(Consultation.id.in_(consultation_ids))
                .execution_options(synchronize_session=False)
            )
        # Only money that moved is an accounting record: invoices never paid (released or run
        # out) go with everything else, and no longer anchor their appointments.
        erasable = [Payment.patient_id == patient_id]
        if rules.payments:
            erasable.append(Payment.paid_at.is_(None))
        await session.execute(
            delete(Payment).where(*erasable).execution_options(synchronize_session=False)
        )
        payments_kept = 0
        if rules.payments:
            payments_kept = int(
                await session.scalar(
                    select(func.count(Payment.id)).where(Payment.patient_id == patient_id)
                )
                or 0
            )

        # Appointment rows: never the reason; kept as the rules say, or as an anchor.
        await session.execute(
            update(Appointment)
            .where(Appointment.patient_id == patient_id)
            .values(reason=None)
            .execution_options(synchronize_session=False)
        )
        deleted = 0
        if not rules.appointment_kept(has_kept_consultation=False, has_payment=False):
            # NOT IN over a NULL would match nothing: charges without an appointment are left out.
            anchors = select(Consultation.appointment_id).union(
                select(Payment.appointment_id).where(Payment.appointment_id.is_not(None))
            )
            await session.execute(
                update(Appointment)
                .where(Appointment.patient_id == patient_id)
                .values(rescheduled_from_id=None)
                .execution_options(synchronize_session=False)
            )
            result = await session.execute(
                delete(Appointment)
                .where(Appointment.patient_id == patient_id, Appointment.id.not_in(anchors))
                .execution_options(synchronize_session=False)
            )
            deleted = self._rowcount(result)
        kept = int(
            await session.scalar(
                select(func.count(Appointment.id)).where(Appointment.patient_id == patient_id)
            )
            or 0
        )

        # Telegram ids are personal data too: the audit trail keeps who did what, by the
        # placeholder; job claims that carry the id go.
        await session.execute(
            update(AuditEntry)
            .where(AuditEntry.actor_telegram_id == telegram_id)
            .values(actor_telegram_id=placeholder)
        )
        await session.execute(
            delete(JobRun).where(
                or_(
                    *(
                        JobRun.key.startswith(f"{kind}:{telegram_id}:")
                        for kind in CLAIMS_WITH_TELEGRAM_ID
                    )
                )
            )
        )

        user.telegram_id = placeholder
        user.full_name = None
        user.date_of_birth = None
        user.phone = None
        user.phone_hash = None
        user.timezone = timezone
        user.consent_version = None
        user.consent_at = None
        user.unreachable_since = None
        user.pin_hash = None
        user.pin_failures = 0
        user.pin_locked_until = None
        user.session_active_at = None
        user.erased_at = now
        user.updated_at = now
        await session.flush()
        return Erased(
            chat_messages=self._rowcount(chat),
            documents=self._rowcount(documents),
            feedback=self._rowcount(feedback),
            appointments_deleted=deleted,
            appointments_kept=kept,
            summaries_kept=summaries_kept,
            prescriptions_kept=prescriptions_kept,
            payments_kept=payments_kept,
        )

    # Chat log purge -----------------------------------------------------------------------

    async def expired_chat_ids(self, closed_before: datetime, limit: int) -> Sequence[int]:
        """Relayed messages of consultations closed before `closed_before` (one batch)."""
        closed = select(Consultation.id).where(
            Consultation.closed_at.is_not(None), Consultation.closed_at < closed_before
        )
        query = (
            select(RelayedMessage.id)
            .where(RelayedMessage.consultation_id.in_(closed))
            .order_by(RelayedMessage.id)
            .limit(limit)
        )
        return (await self._session.scalars(query)).all()

    async def delete_relayed(self, ids: Sequence[int]) -> int:
        if not ids:
            return 0
        result = await self._session.execute(
            delete(RelayedMessage)
            .where(RelayedMessage.id.in_(ids))
            .execution_options(synchronize_session=False)
        )
        return self._rowcount(result)

    # Leaving no copies behind -------------------------------------------------------------

    async def compact(self) -> None:
        """After an erasure or a purge, on SQLite: fold the write-ahead log into the database
        file and truncate it, so no earlier page image of erased rows stays in `-wal` (deleted
        content in the file itself is zeroed by `PRAGMA secure_delete`). Best effort: a
        reader holding an old snapshot makes it partial, and the next run finishes it."""
        engine = self._session.bind
        if not isinstance(engine, AsyncEngine) or engine.dialect.name != "sqlite":
            return

        def checkpoint(sync_connection: Any) -> Any:
            cursor = sync_connection.connection.dbapi_connection.cursor()
            try:
                cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                return cursor.fetchone()
            finally:
                cursor.close()

        try:
            async with engine.connect() as connection:
                busy = await connection.run_sync(checkpoint)
        except Exception:
            log.warning("wal checkpoint failed")
            return
        if busy and busy[0]:
            log.info("wal checkpoint partial: a reader was active")
