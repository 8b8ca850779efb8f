"""ORM models. Health data columns use the encrypted types; times are aware UTC."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Index, Integer, String
from sqlalchemy.ext.mutable import MutableDict
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

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
