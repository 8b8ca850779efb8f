"""ORM models. Health data columns use the encrypted types; times are aware UTC."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, Date, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.ext.mutable import MutableDict
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from storage.types import EncryptedJSON, EncryptedText, UTCDateTime


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    telegram_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    role: Mapped[str] = mapped_column(String(16))
    language: Mapped[str] = mapped_column(String(16), default="en")
    full_name: Mapped[str | None] = mapped_column(EncryptedText)
    date_of_birth: Mapped[str | None] = mapped_column(EncryptedText)  # ISO date, sealed
    phone: Mapped[str | None] = mapped_column(EncryptedText)
    # Keyed hash of the E.164 phone: uniqueness and look-up without decrypting.
    phone_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    timezone: Mapped[str] = mapped_column(String(64))
    consent_version: Mapped[str | None] = mapped_column(String(32))
    consent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    registered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    unreachable_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Banned by an admin: every message gets one clear reply and nothing else.
    banned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The PIN, only as a memory-hard hash (scrypt); never the PIN itself.
    pin_hash: Mapped[str | None] = mapped_column(String(255))
    pin_failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    pin_locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Last activity of an unlocked session; None means locked.
    session_active_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # /delete_me: personal data erased, the row kept only so retained records stay consistent.
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Conversation(Base):
    """Where a user is in a flow; lives here so a restart or a second worker continues it."""

    __tablename__ = "conversations"

    telegram_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    flow: Mapped[str] = mapped_column(String(32))
    step: Mapped[str] = mapped_column(String(32))
    # Short random id of this run of the flow: buttons from an earlier run are stale.
    token: Mapped[str] = mapped_column(String(12))
    data: Mapped[dict[str, Any]] = mapped_column(MutableDict.as_mutable(EncryptedJSON))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ProcessedUpdate(Base):
    """Update ids already handled: the same update delivered twice is handled once."""

    __tablename__ = "processed_updates"

    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    handled_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_processed_updates_handled_at", "handled_at"),)


class KeyCanary(Base):
    """A known value sealed with the keys: start-up proves the keys still open the data."""

    __tablename__ = "key_canary"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    sealed: Mapped[str] = mapped_column(EncryptedText)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Specialty(Base):
    __tablename__ = "specialties"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class DoctorInvite(Base):
    """A one-time deep link an admin hands to a doctor."""

    __tablename__ = "doctor_invites"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    created_by: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    used_by: Mapped[int | None] = mapped_column(BigInteger)


class Doctor(Base):
    __tablename__ = "doctors"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), unique=True)
    specialty_id: Mapped[int] = mapped_column(ForeignKey("specialties.id"))
    bio: Mapped[str] = mapped_column(Text)
    fee_minor: Mapped[int] = mapped_column(Integer)  # in the currency's smallest unit
    status: Mapped[str] = mapped_column(String(16))  # pending, approved, rejected, suspended
    slot_minutes: Mapped[int] = mapped_column(Integer)  # the consultation length
    buffer_minutes: Mapped[int] = mapped_column(Integer, default=0)
    min_notice_minutes: Mapped[int] = mapped_column(Integer, default=120)
    horizon_days: Mapped[int] = mapped_column(Integer, default=30)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship(lazy="joined", innerjoin=True)
    specialty: Mapped[Specialty] = relationship(lazy="joined", innerjoin=True)


class WorkingHours(Base):
    """One range of the weekly template: local wall-clock times in the doctor's zone."""

    __tablename__ = "working_hours"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    doctor_id: Mapped[int] = mapped_column(ForeignKey("doctors.id"), index=True)
    weekday: Mapped[int] = mapped_column(Integer)
    start: Mapped[str] = mapped_column(String(5))  # "09:00"
    end: Mapped[str] = mapped_column(String(5))


class DayOff(Base):
    __tablename__ = "days_off"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    doctor_id: Mapped[int] = mapped_column(ForeignKey("doctors.id"), index=True)
    first_day: Mapped[date] = mapped_column(Date)
    last_day: Mapped[date] = mapped_column(Date)


class TimeBlock(Base):
    """A single slot the doctor took out of the calendar."""

    __tablename__ = "time_blocks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    doctor_id: Mapped[int] = mapped_column(ForeignKey("doctors.id"), index=True)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)


# Statuses that hold a doctor's time: a slot on hold for payment counts as taken.
ACTIVE_STATUSES = ("held", "booked", "in_consultation")
ACTIVE_SQL = "status IN ('held', 'booked', 'in_consultation')"


class Appointment(Base):
    __tablename__ = "appointments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    doctor_id: Mapped[int] = mapped_column(ForeignKey("doctors.id"))
    patient_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(EncryptedText)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    cancelled_by: Mapped[str | None] = mapped_column(String(16))
    late_cancellation: Mapped[bool] = mapped_column(Boolean, default=False)
    rescheduled_from_id: Mapped[int | None] = mapped_column(ForeignKey("appointments.id"))
    # Set while the slot is held for payment (status "held"); the hold ends at this time.
    hold_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    doctor: Mapped[Doctor] = relationship(lazy="joined", innerjoin=True)
    patient: Mapped[User] = relationship(lazy="joined", innerjoin=True)

    __table_args__ = (
        # The database refuses a second active appointment at the same doctor and time,
        # even when two workers race past every check in code.
        Index(
            "uq_appointments_active_slot",
            "doctor_id",
            "starts_at",
            unique=True,
            sqlite_where=text(ACTIVE_SQL),
            postgresql_where=text(ACTIVE_SQL),
        ),
        Index("ix_appointments_doctor_start", "doctor_id", "starts_at"),
    )


class Consultation(Base):
    """The visit itself: opened by the doctor, relayed chat, closed with a wrap-up."""

    __tablename__ = "consultations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    appointment_id: Mapped[int] = mapped_column(ForeignKey("appointments.id"), unique=True)
    reference: Mapped[str] = mapped_column(String(24), unique=True)
    video_room: Mapped[str | None] = mapped_column(EncryptedText)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    summary: Mapped[str | None] = mapped_column(EncryptedText)
    private_notes: Mapped[str | None] = mapped_column(EncryptedText)
    follow_up_days: Mapped[int | None] = mapped_column(Integer)
    # Whether each side has had the short header that introduces the first relayed message.
    header_to_patient: Mapped[bool] = mapped_column(Boolean, default=False)
    header_to_doctor: Mapped[bool] = mapped_column(Boolean, default=False)

    appointment: Mapped[Appointment] = relationship(lazy="joined", innerjoin=True)


class RelayedMessage(Base):
    """One message carried across: both sides' ids (for replies and edits) and its content."""

    __tablename__ = "relayed_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    consultation_id: Mapped[int] = mapped_column(ForeignKey("consultations.id"), index=True)
    direction: Mapped[str] = mapped_column(String(16))  # to_doctor, to_patient
    kind: Mapped[str] = mapped_column(String(16))  # text, photo, document, voice, ...
    source_chat_id: Mapped[int] = mapped_column(BigInteger)
    source_message_id: Mapped[int] = mapped_column(BigInteger)
    copy_chat_id: Mapped[int | None] = mapped_column(BigInteger)
    copy_message_id: Mapped[int | None] = mapped_column(BigInteger)
    content: Mapped[str | None] = mapped_column(EncryptedText)  # text or caption
    files: Mapped[str | None] = mapped_column(EncryptedText)  # JSON list of file ids
    delivered: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    edited_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_relayed_source", "source_chat_id", "source_message_id"),
        Index("ix_relayed_copy", "copy_chat_id", "copy_message_id"),
    )


class Prescription(Base):
    __tablename__ = "prescriptions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    consultation_id: Mapped[int] = mapped_column(ForeignKey("consultations.id"), index=True)
    medicine: Mapped[str] = mapped_column(EncryptedText)
    strength: Mapped[str] = mapped_column(EncryptedText)
    dose: Mapped[str] = mapped_column(EncryptedText)
    frequency: Mapped[str] = mapped_column(EncryptedText)
    duration: Mapped[str] = mapped_column(EncryptedText)
    instructions: Mapped[str | None] = mapped_column(EncryptedText)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class RecordDocument(Base):
    """A file the patient added to their own record (/upload): a lab report, a scan."""

    __tablename__ = "record_documents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    file_id: Mapped[str] = mapped_column(EncryptedText)
    file_name: Mapped[str | None] = mapped_column(EncryptedText)
    caption: Mapped[str | None] = mapped_column(EncryptedText)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AuditEntry(Base):
    """Who read or tried to read whose record, what, when, and whether it was allowed."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    actor_telegram_id: Mapped[int] = mapped_column(BigInteger, index=True)
    subject_user_id: Mapped[int | None] = mapped_column(Integer, index=True)
    action: Mapped[str] = mapped_column(String(48))
    target: Mapped[str | None] = mapped_column(String(64))
    allowed: Mapped[bool] = mapped_column(Boolean)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class DoctorFocus(Base):
    """Which open consultation a doctor's unaddressed messages go to (never guessed)."""

    __tablename__ = "doctor_focus"

    doctor_id: Mapped[int] = mapped_column(ForeignKey("doctors.id"), primary_key=True)
    consultation_id: Mapped[int] = mapped_column(ForeignKey("consultations.id"))


JOB_OUTCOMES = ("sent", "missed", "skipped", "failed")


class JobRun(Base):
    """A scheduled job's work, claimed before sending: a job fired twice (or by a second
    scheduler started by mistake) finds its key taken and sends nothing."""

    __tablename__ = "job_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(128), unique=True)
    ran_at: Mapped[datetime] = mapped_column(UTCDateTime)
    outcome: Mapped[str] = mapped_column(String(16))  # sent, missed, skipped, failed


class Feedback(Base):
    """A patient's rating of one consultation (one answer per appointment); the comment sealed."""

    __tablename__ = "feedback"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    appointment_id: Mapped[int] = mapped_column(ForeignKey("appointments.id"), unique=True)
    rating: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str | None] = mapped_column(EncryptedText)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Payment(Base):
    """One invoice for one appointment, its charge once paid, and what became of a refund.

    A charge no open invoice explains is a row of its own (refund_reason "unmatched") with no
    appointment, and with no patient or doctor when they are unknown."""

    __tablename__ = "payments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    appointment_id: Mapped[int | None] = mapped_column(ForeignKey("appointments.id"), unique=True)
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    doctor_id: Mapped[int | None] = mapped_column(ForeignKey("doctors.id"), index=True)
    # The invoice payload: random, so a forged or stale payment cannot name an appointment.
    payload: Mapped[str] = mapped_column(String(64), unique=True)
    amount_minor: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(16))  # invoiced, paid, expired, released
    telegram_charge_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    provider_charge_id: Mapped[str | None] = mapped_column(String(255))
    invoiced_at: Mapped[datetime] = mapped_column(UTCDateTime)
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # None, refunded (money returned), owed (a card refund the clinic must make), none_due
    refund_status: Mapped[str | None] = mapped_column(String(16))
    refund_minor: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    refund_reason: Mapped[str | None] = mapped_column(String(32))
    refunded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Broadcast(Base):
    """An admin's message to many users, with its progress (sent by a background task)."""

    __tablename__ = "broadcasts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_by: Mapped[int] = mapped_column(BigInteger)
    audience: Mapped[str] = mapped_column(String(16))  # patients, doctors, everyone
    text: Mapped[str] = mapped_column(EncryptedText)
    status: Mapped[str] = mapped_column(String(16))  # draft, sending, done
    total: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    delivered: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    blocked: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    failed: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    status_chat_id: Mapped[int | None] = mapped_column(BigInteger)
    status_message_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class UnreadableValue(Base):
    """An encrypted value no configured key opens, found by rotate-keys: shown to admins,
    never overwritten."""

    __tablename__ = "unreadable_values"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    table_name: Mapped[str] = mapped_column(String(64))
    column_name: Mapped[str] = mapped_column(String(64))
    row_key: Mapped[str] = mapped_column(String(64))
    found_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("uq_unreadable_value", "table_name", "column_name", "row_key", unique=True),
    )
