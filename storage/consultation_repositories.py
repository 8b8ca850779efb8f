"""Repositories for consultations, the relayed chat, prescriptions, uploads and the audit log."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from clinic.appointments import IN_CARE
from storage.models import (
    Appointment,
    AuditEntry,
    Consultation,
    DoctorFocus,
    Prescription,
    RecordDocument,
    RelayedMessage,
    User,
)

_IN_CARE = sorted(status.value for status in IN_CARE)


class ConsultationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    def add(self, consultation: Consultation) -> None:
        self._session.add(consultation)

    async def get(self, consultation_id: int) -> Consultation | None:
        return await self._session.get(Consultation, consultation_id)

    async def by_appointment(self, appointment_id: int) -> Consultation | None:
        return await self._session.scalar(
            select(Consultation).where(Consultation.appointment_id == appointment_id)
        )

    async def open_for_patient(self, user_id: int) -> Sequence[Consultation]:
        query = (
            select(Consultation)
            .join(Appointment, Consultation.appointment_id == Appointment.id)
            .where(Appointment.patient_id == user_id, Consultation.closed_at.is_(None))
            .order_by(Consultation.opened_at)
        )
        return (await self._session.scalars(query)).all()

    async def open_for_doctor(self, doctor_id: int) -> Sequence[Consultation]:
        query = (
            select(Consultation)
            .join(Appointment, Consultation.appointment_id == Appointment.id)
            .where(Appointment.doctor_id == doctor_id, Consultation.closed_at.is_(None))
            .order_by(Consultation.opened_at)
        )
        return (await self._session.scalars(query)).all()

    async def closed_for_patient(self, user_id: int, limit: int = 20) -> Sequence[Consultation]:
        query = (
            select(Consultation)
            .join(Appointment, Consultation.appointment_id == Appointment.id)
            .where(Appointment.patient_id == user_id, Consultation.closed_at.is_not(None))
            .order_by(Consultation.closed_at.desc())
            .limit(limit)
        )
        return (await self._session.scalars(query)).all()

    # The relayed chat ---------------------------------------------------------------------

    def add_relayed(self, message: RelayedMessage) -> None:
        self._session.add(message)

    async def relayed(self, relayed_id: int) -> RelayedMessage | None:
        return await self._session.get(RelayedMessage, relayed_id)

    async def relayed_at(self, chat_id: int, message_id: int) -> RelayedMessage | None:
        """The relayed message that is, in this chat, either the original or the copy."""
        query = select(RelayedMessage).where(
            or_(
                (RelayedMessage.source_chat_id == chat_id)
                & (RelayedMessage.source_message_id == message_id),
                (RelayedMessage.copy_chat_id == chat_id)
                & (RelayedMessage.copy_message_id == message_id),
            )
        )
        return await self._session.scalar(query)

    async def chat_log(self, consultation_id: int) -> Sequence[RelayedMessage]:
        query = (
            select(RelayedMessage)
            .where(RelayedMessage.consultation_id == consultation_id)
            .order_by(RelayedMessage.created_at, RelayedMessage.id)
        )
        return (await self._session.scalars(query)).all()

    # Which consultation a doctor's messages go to -----------------------------------------

    async def focus(self, doctor_id: int) -> int | None:
        row = await self._session.get(DoctorFocus, doctor_id)
        return row.consultation_id if row else None

    async def set_focus(self, doctor_id: int, consultation_id: int) -> None:
        await self._session.merge(DoctorFocus(doctor_id=doctor_id, consultation_id=consultation_id))

    async def clear_focus(self, doctor_id: int) -> None:
        await self._session.execute(delete(DoctorFocus).where(DoctorFocus.doctor_id == doctor_id))

    # Prescriptions and uploads -------------------------------------------------------------

    def add_prescription(self, prescription: Prescription) -> None:
        self._session.add(prescription)

    async def prescriptions(self, consultation_id: int) -> Sequence[Prescription]:
        query = (
            select(Prescription)
            .where(Prescription.consultation_id == consultation_id)
            .order_by(Prescription.id)
        )
        return (await self._session.scalars(query)).all()

    def add_document(self, document: RecordDocument) -> None:
        self._session.add(document)

    async def documents(self, patient_id: int) -> Sequence[RecordDocument]:
        query = (
            select(RecordDocument)
            .where(RecordDocument.patient_id == patient_id)
            .order_by(RecordDocument.created_at.desc())
        )
        return (await self._session.scalars(query)).all()

    async def document(self, document_id: int) -> RecordDocument | None:
        return await self._session.get(RecordDocument, document_id)

    # Who may read whose record ----------------------------------------------------------------

    async def patient(self, user_id: int) -> User | None:
        """The user whose record is asked for (any role; callers check the relationship)."""
        return await self._session.get(User, user_id)

    async def patients_of_doctor(self, doctor_id: int) -> Sequence[User]:
        """Everyone who is or was in the doctor's care (see `clinic.appointments.IN_CARE`)."""
        seen = (
            select(Appointment.patient_id)
            .where(Appointment.doctor_id == doctor_id, Appointment.status.in_(_IN_CARE))
            .distinct()
        )
        query = select(User).where(User.id.in_(seen)).order_by(User.id)
        return (await self._session.scalars(query)).all()

    async def doctor_knows_patient(self, doctor_id: int, patient_id: int) -> bool:
        """Whether the patient is or was in this doctor's care."""
        query = (
            select(Appointment.id)
            .where(
                Appointment.doctor_id == doctor_id,
                Appointment.patient_id == patient_id,
                Appointment.status.in_(_IN_CARE),
            )
            .limit(1)
        )
        return await self._session.scalar(query) is not None


class AuditRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    def record(
        self,
        actor_telegram_id: int,
        subject_user_id: int | None,
        action: str,
        target: str | None,
        allowed: bool,
        at: datetime,
    ) -> None:
        self._session.add(
            AuditEntry(
                actor_telegram_id=actor_telegram_id,
                subject_user_id=subject_user_id,
                action=action,
                target=target,
                allowed=allowed,
                at=at,
            )
        )

    async def recent(self, limit: int = 50, actor: int | None = None) -> Sequence[AuditEntry]:
        query = select(AuditEntry).order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
        if actor is not None:
            query = query.where(AuditEntry.actor_telegram_id == actor)
        return (await self._session.scalars(query.limit(limit))).all()
